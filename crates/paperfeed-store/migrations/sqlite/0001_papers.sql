-- Papers and the days they were featured on the daily feed.
-- Lists (authors, categories, versions, keywords) are JSON arrays: they are always read and
-- written whole with their paper, never queried into.
create table papers (
    id            text primary key,
    title         text not null,
    abstract      text not null,
    authors       text not null,
    categories    text not null,
    published_at  text,
    versions      text not null,
    upvotes       integer not null default 0,
    num_comments  integer not null default 0,
    github_repo   text,
    github_stars  integer,
    project_page  text,
    ai_summary    text,
    ai_keywords   text not null,
    created_at    text not null,
    updated_at    text not null,
    -- The store-wide change counter at this row's last write: a watermark for derived data
    -- (search index) to catch up from.
    change_seq    integer not null
) strict;

create index papers_by_change_seq on papers (change_seq);

create table featurings (
    paper_id            text not null references papers (id) on delete cascade,
    day                 text not null,
    submitter_name      text,
    submitter_fullname  text,
    primary key (paper_id, day)
) strict, without rowid;

create index featurings_by_day on featurings (day, paper_id);

create table store_counters (
    name   text primary key,
    value  integer not null
) strict;

insert into store_counters (name, value) values ('change_seq', 0);
