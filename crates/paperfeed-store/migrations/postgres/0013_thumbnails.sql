-- Paper thumbnails (issue 20), as in SQLite's 0018: the first page of the PDF as a small PNG,
-- or why none could be made. Derived data: it goes with its paper.

create table paper_thumbnails (
    paper_id  text collate "C" primary key references papers (id) on delete cascade,
    image     bytea,
    width     bigint,
    height    bigint,
    failure   text,
    made_at   timestamptz not null,
    check ((image is null) <> (failure is null))
);
