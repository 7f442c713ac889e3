-- Digest claims tied to the claimer's liveness. Every process that claims digest jobs (a
-- `digest run`, a pass of `serve`'s scheduler) registers here and holds, for its life, the
-- session-level advisory lock whose key is its id, on a connection of its own: the server
-- drops it when that session ends (the process died, or its connection did). A claim records
-- its claimer, so another process that finds no such lock in pg_locks takes the job over at
-- once instead of waiting for the lease (which stays as the fallback, e.g. for a node cut off
-- from the database whose session lingers).
create table digest_claimers (
    id          bigint primary key,     -- random in [1, 2^62): also the advisory lock key
    label       text not null,          -- who, for messages: "digest run, pid 1234 on host-a"
    started_at  timestamptz not null
);

-- digest_claimers.id of the claim's holder; null for claims made before this migration (their
-- lease alone holds them). No foreign key: a dead claimer's row may go before its claims.
alter table digest_jobs add column claimed_by bigint;
