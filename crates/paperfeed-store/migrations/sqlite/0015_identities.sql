-- Sign-in through identity providers (issue 21): an account's identities at OpenID Connect /
-- OAuth 2.0 providers, one row per (provider, subject), each linked to one account at most.
-- `verified_email` is the address the provider said it verified (lowercased), null when it
-- vouched for none: an account is linked by address only to one whose address a provider
-- vouched for this way. Accounts made through a provider have an empty password_hash (no
-- password) until their reader sets one.

create table identities (
    provider        text not null,
    subject         text not null,
    user_id         integer not null references users (id) on delete cascade,
    login           text not null,
    verified_email  text,
    linked_at       text not null,
    last_used_at    text,
    primary key (provider, subject)
) strict, without rowid;

create index identities_by_user on identities (user_id);
create index identities_by_email on identities (verified_email) where verified_email is not null;

-- Sign-ins in flight (state, nonce, PKCE verifier) and sign-ups waiting for a user name: kept
-- under the SHA-256 of a secret only the browser holds, short-lived, taken once.
create table auth_pending (
    key_hash    text primary key,
    kind        text not null,
    payload     text not null,
    expires_at  text not null
) strict, without rowid;

create index auth_pending_by_expiry on auth_pending (expires_at);
