-- Email digests: subscribers, the durable outbox of digest jobs, and which papers each
-- subscriber has been mailed (so a paper is never mailed twice to the same person).
create table subscribers (
    id                  integer primary key,
    email               text not null unique collate nocase,
    -- pending (double opt-in not done) | confirmed | unsubscribed | suspended (bounced)
    status              text not null,
    frequency           text not null,          -- daily | weekly
    topics              text not null,          -- JSON array of search queries
    papers_per_digest   integer not null,
    permanent_failures  integer not null default 0,
    confirm_sent_at     text,                   -- last confirmation mail, for the resend interval
    created_at          text not null,
    updated_at          text not null
) strict;

-- One job per subscriber per period: the unique key is what makes a digest run re-runnable
-- and a crashed run resumable without a second mail.
create table digest_jobs (
    id              integer primary key,
    subscriber_id   integer not null references subscribers (id) on delete cascade,
    period          text not null,              -- 2026-11-30 (daily) | 2026-W48 (weekly)
    state           text not null,              -- queued | claimed | sent | failed
    attempts        integer not null default 0,
    lease_until     text,                       -- a claimed job whose lease passed is free again
    claim_token     text,                       -- who holds the claim; only they may finish it
    next_attempt_at text not null,
    last_error      text,
    sent_at         text,
    unique (subscriber_id, period)
) strict;
create index digest_jobs_ready on digest_jobs (state, next_attempt_at);

create table mailed_papers (
    subscriber_id integer not null references subscribers (id) on delete cascade,
    paper_id      text not null,
    job_id        integer not null references digest_jobs (id) on delete cascade,
    primary key (subscriber_id, paper_id)
) strict, without rowid;
