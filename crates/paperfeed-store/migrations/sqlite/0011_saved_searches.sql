-- Saved searches (issue 16): a reader's search (query + mode + sort, as the search page takes
-- them) kept by name; the papers each one matched after it was saved (found by the matcher
-- that runs after every indexer pass, each pair once); an optional webhook per search and
-- one delivery row per (hook, paper), written before anything is sent.

create table saved_searches (
    id           integer primary key,
    user_id      integer not null references users (id) on delete cascade,
    name         text not null,
    query        text not null,
    mode         text not null,
    sort         text not null,
    -- The store's change_seq when it was saved: only papers changed later are new matches.
    created_seq  integer not null,
    created_at   text not null
) strict;
create unique index saved_searches_name_key on saved_searches (user_id, lower(name));

create table saved_search_matches (
    search_id   integer not null references saved_searches (id) on delete cascade,
    paper_id    text not null,
    matched_at  text not null,
    -- When the reader's digest carried it (null: not yet).
    mailed_at   text,
    primary key (search_id, paper_id)
) strict;

-- How far (in change_seq) the matcher has looked: a counter moved in the transaction that
-- records what it found (copied by `paperfeed migrate` like change_seq, the greater kept).
insert into store_counters (name, value) values ('saved_search_cursor', 0);

create table webhooks (
    id          integer primary key,
    search_id   integer not null unique references saved_searches (id) on delete cascade,
    url         text not null,
    secret      text not null,
    created_at  text not null
) strict;

create table webhook_deliveries (
    id               integer primary key,
    hook_id          integer not null references webhooks (id) on delete cascade,
    paper_id         text not null,
    -- pending (to send, or being sent until next_attempt_at), delivered, failed (gave up)
    state            text not null,
    attempts         integer not null default 0,
    next_attempt_at  text not null,
    last_attempt_at  text,
    last_status      integer,
    last_error       text,
    created_at       text not null,
    unique (hook_id, paper_id)
) strict;
create index webhook_deliveries_due on webhook_deliveries (state, next_attempt_at);
