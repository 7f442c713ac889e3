-- What a reader does not want to see, and what they have seen. Every row belongs to one user
-- and goes with the account (on delete cascade).

-- Mutes as the reader typed them; `key` is the normalised form that makes two mutes the same
-- (paperfeed_core::check_mute), so a reader keeps one mute per kind and key.
create table mutes (
    id          integer primary key,
    user_id     integer not null references users (id) on delete cascade,
    kind        text not null check (kind in ('author', 'keyword', 'category')),
    text        text not null,
    key         text not null,
    created_at  text not null,
    unique (user_id, kind, key)
) strict;

-- "Not interested": hidden from the reader's feeds and digests until taken back.
create table dismissed_papers (
    user_id     integer not null references users (id) on delete cascade,
    paper_id    text not null references papers (id) on delete cascade,
    created_at  text not null,
    primary key (user_id, paper_id)
) strict, without rowid;

create index dismissed_papers_by_time on dismissed_papers (user_id, created_at);

-- Seen marks: the first time, and every reason since as bits (1 opened, 2 voted, 4 saved,
-- 8 dismissed, 16 mailed).
create table seen_papers (
    user_id        integer not null references users (id) on delete cascade,
    paper_id       text not null references papers (id) on delete cascade,
    reasons        integer not null,
    first_seen_at  text not null,
    primary key (user_id, paper_id)
) strict, without rowid;

create index seen_papers_by_time on seen_papers (user_id, first_seen_at);
