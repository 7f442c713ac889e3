-- The recommender's controls and seeds (issue 17), as SQLite's 0013. The per-reader model is
-- derived data, rebuilt from the reader's signals, and is not stored.

create table recommender_settings (
    user_id        bigint primary key references users (id) on delete cascade,
    paused         boolean not null,
    social_weight  bigint not null check (social_weight between 0 and 100),
    recency_days   bigint not null check (recency_days >= 1),
    exploration    bigint not null check (exploration between 0 and 100),
    reset_at       timestamptz,
    updated_at     timestamptz not null
);

create table recommender_seeds (
    user_id   bigint not null references users (id) on delete cascade,
    paper_id  text collate "C" not null references papers (id) on delete cascade,
    added_at  timestamptz not null,
    primary key (user_id, paper_id)
);

create index recommender_seeds_by_paper on recommender_seeds (paper_id);
