-- A reader's library: saved papers with a reading state and a private note, and named
-- collections (private unless made public). Rows go with their user and with their paper.
create table saved_papers (
    user_id        integer not null references users (id) on delete cascade,
    paper_id       text not null references papers (id) on delete cascade,
    saved_at       text not null,
    reading_state  text not null default 'to_read',
    note           text not null default '',
    updated_at     text not null,
    primary key (user_id, paper_id)
) strict, without rowid;

create index saved_papers_by_time on saved_papers (user_id, saved_at);
create index saved_papers_by_paper on saved_papers (paper_id);

create table collections (
    id          integer primary key,
    user_id     integer not null references users (id) on delete cascade,
    name        text not null,
    public      integer not null default 0,
    created_at  text not null,
    updated_at  text not null
) strict;

create index collections_by_user on collections (user_id);

create table collection_papers (
    collection_id  integer not null references collections (id) on delete cascade,
    paper_id       text not null references papers (id) on delete cascade,
    added_at       text not null,
    primary key (collection_id, paper_id)
) strict, without rowid;

create index collection_papers_by_paper on collection_papers (paper_id);
