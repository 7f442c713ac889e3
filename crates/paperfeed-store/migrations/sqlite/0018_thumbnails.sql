-- Paper thumbnails (issue 20): the first page of the PDF as a small PNG, made by
-- `paperfeed thumbnails`; or, when none could be made, why (so it is not fetched again unless
-- asked). Derived data: it goes with its paper.

create table paper_thumbnails (
    paper_id  text primary key references papers (id) on delete cascade,
    image     blob,
    width     integer,
    height    integer,
    failure   text,
    made_at   text not null,
    check ((image is null) <> (failure is null))
) strict;
