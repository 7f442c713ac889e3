-- The "for you" digest choice (issue 17), as SQLite's 0014: a row means the reader wants that
-- many of their recommendations in their digest; no row, none.

create table for_you_digests (
    user_id     bigint primary key references users (id) on delete cascade,
    picks       bigint not null check (picks between 1 and 100),
    updated_at  timestamptz not null
);
