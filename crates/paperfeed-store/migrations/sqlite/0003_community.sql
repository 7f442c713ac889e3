-- The community: accounts, server-side sessions, API tokens, votes and comments.
-- Secrets are never stored: sessions and API tokens are kept as SHA-256 hashes of the random
-- value the client holds, passwords as argon2id PHC strings.
create table users (
    id             integer primary key,
    username       text not null collate nocase unique,
    email          text not null collate nocase unique,
    password_hash  text not null,
    is_admin       integer not null default 0,
    created_at     text not null
) strict;

create table sessions (
    id_hash     text primary key,
    user_id     integer not null references users (id) on delete cascade,
    csrf_token  text not null,
    created_at  text not null,
    expires_at  text not null
) strict, without rowid;

create index sessions_by_user on sessions (user_id);

create table api_tokens (
    id          integer primary key,
    user_id     integer not null references users (id) on delete cascade,
    name        text not null,
    token_hash  text not null unique,
    created_at  text not null
) strict;

-- One row per user and paper: the primary key is what makes a vote count once, however many
-- requests race to cast it.
create table votes (
    user_id     integer not null references users (id) on delete cascade,
    paper_id    text not null references papers (id) on delete cascade,
    created_at  text not null,
    primary key (user_id, paper_id)
) strict, without rowid;

create index votes_by_paper on votes (paper_id);

create table comments (
    id          integer primary key,
    paper_id    text not null references papers (id) on delete cascade,
    user_id     integer not null references users (id) on delete cascade,
    body        text not null,
    hidden      integer not null default 0,
    created_at  text not null,
    updated_at  text not null
) strict;

create index comments_by_paper on comments (paper_id, id);

-- Local counts kept beside the imported ones (papers.upvotes, papers.num_comments come from
-- the sources and are overwritten by ingest); pages show the sums. Maintained in the same
-- transaction as the vote or comment that changes them.
alter table papers add column local_upvotes integer not null default 0;
alter table papers add column local_comments integer not null default 0;
