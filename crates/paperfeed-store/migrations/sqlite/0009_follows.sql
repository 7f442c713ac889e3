-- Follows, the paper index they read, organisations, and private feed tokens.

-- The HF organisation a paper is listed under (JSON: name, fullname), or null.
alter table papers add column organization text;

-- Every paper under each of its author keys, claimed accounts, organisation and categories
-- (paperfeed_core::index_entries), newest first by listing time: author, organisation and
-- category pages and the Following feed are range scans of the primary key. Derived from
-- papers, rewritten in the transaction that writes a paper; filled for existing papers by the
-- code that applies this migration.
create table paper_keys (
    kind      text not null,
    key       text not null,
    sort_at   text not null,
    paper_id  text not null references papers (id) on delete cascade,
    -- authors: the name as listed; accounts: the author key claimed; organisations: full name.
    label     text not null,
    primary key (kind, key, sort_at, paper_id)
) strict, without rowid;

create index paper_keys_by_paper on paper_keys (paper_id);
create index paper_keys_accounts_by_author on paper_keys (label) where kind = 'account';

-- What each reader follows: kind (author, organization, category, search) and key.
create table follows (
    user_id     integer not null references users (id) on delete cascade,
    kind        text not null,
    key         text not null,
    created_at  text not null,
    primary key (user_id, kind, key)
) strict, without rowid;

-- Secrets in private feed URLs, stored as SHA-256 like API tokens; scope names the feed.
create table feed_tokens (
    id            integer primary key,
    user_id       integer not null references users (id) on delete cascade,
    scope         text not null,
    token_hash    text not null unique,
    created_at    text not null,
    last_used_at  text
) strict;

create index feed_tokens_by_user on feed_tokens (user_id, scope);
