-- Digest claims tied to the claimer's liveness. Every process that claims digest jobs (a
-- `digest run`, a pass of `serve`'s scheduler) registers here and holds, for its life, an
-- exclusive lock on `<database>-claimers/<id>.lock`, which the OS drops when the process dies.
-- A claim records its claimer, so another process that finds that lock free takes the job over
-- at once instead of waiting for the lease (which stays as the fallback).
create table digest_claimers (
    id          integer primary key,    -- random, never reused: names the lock file
    label       text not null,          -- who, for messages: "digest run, pid 1234 on host-a"
    started_at  text not null
) strict;

-- digest_claimers.id of the claim's holder; null for claims made before this migration (their
-- lease alone holds them). No foreign key: a dead claimer's row may go before its claims.
alter table digest_jobs add column claimed_by integer;
