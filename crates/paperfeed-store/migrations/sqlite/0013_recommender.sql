-- The recommender's controls and seeds (issue 17). The per-reader model is derived data,
-- rebuilt from the reader's signals, and is not stored.

create table recommender_settings (
    user_id        integer primary key references users (id) on delete cascade,
    paused         integer not null,
    social_weight  integer not null check (social_weight between 0 and 100),
    recency_days   integer not null check (recency_days >= 1),
    exploration    integer not null check (exploration between 0 and 100),
    reset_at       text,
    updated_at     text not null
) strict;

create table recommender_seeds (
    user_id   integer not null references users (id) on delete cascade,
    paper_id  text not null references papers (id) on delete cascade,
    added_at  text not null,
    primary key (user_id, paper_id)
) strict, without rowid;

create index recommender_seeds_by_paper on recommender_seeds (paper_id);
