-- The "for you" digest choice (issue 17): a row means the reader wants that many of their
-- recommendations in their digest; no row, none. The picks themselves are recorded like every
-- mailed paper (digest_papers), in the transaction that records the digest sent.

create table for_you_digests (
    user_id     integer primary key references users (id) on delete cascade,
    picks       integer not null check (picks between 1 and 100),
    updated_at  text not null
) strict;
