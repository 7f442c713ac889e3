-- Sign-in through identity providers (issue 21), as SQLite's 0015: an account's identities by
-- (provider, subject), and the single-use records of sign-ins in flight.

create table identities (
    provider        text not null,
    subject         text not null,
    user_id         bigint not null references users (id) on delete cascade,
    login           text not null,
    verified_email  text,
    linked_at       timestamptz not null,
    last_used_at    timestamptz,
    primary key (provider, subject)
);

create index identities_by_user on identities (user_id);
create index identities_by_email on identities (verified_email) where verified_email is not null;

create table auth_pending (
    key_hash    text primary key,
    kind        text not null,
    payload     text not null,
    expires_at  timestamptz not null
);

create index auth_pending_by_expiry on auth_pending (expires_at);
