//! Sign-in through identity providers (OpenID Connect, OAuth 2.0): the identities an account
//! is linked to, by (provider, subject), and the short-lived, single-use records of sign-ins in
//! flight.
//!
//! What a provider is, how a sign-in is checked and when an account may be linked are
//! `paperfeed-app`'s rules (`paperfeed_app::identity`); the store keeps the rows and makes the
//! few steps that must not race atomic: a user created together with their first identity, an
//! identity linked to one account at most, an unlink that never takes an account's last way to
//! sign in, and a pending record taken once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{NewUser, StoreError, User, UserId};

/// One account's identity at one provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The provider's name as configured (`github`, `huggingface`, `orcid`, `lab`…).
    pub provider: String,
    /// The provider's stable id of the account (`sub`; GitHub's numeric user id).
    pub subject: String,
    pub user: UserId,
    /// What the provider calls the account (its login or name), shown on the account page.
    pub login: String,
    /// The address the provider said it verified, lowercased; `None` when it vouched for none.
    pub verified_email: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An identity to link: what the provider said at this sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIdentity {
    pub provider: String,
    pub subject: String,
    pub login: String,
    /// Lowercased by the caller.
    pub verified_email: Option<String>,
    pub at: DateTime<Utc>,
}

/// What linking did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkOutcome {
    Linked,
    /// It was this account's already (its login and address are refreshed).
    AlreadyLinked,
    /// Another account has it; nothing changed.
    OtherAccount,
}

/// What unlinking did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlinkOutcome {
    Unlinked,
    /// It is the account's last way to sign in; kept.
    LastWayToSignIn,
    /// The account has no such identity.
    NotLinked,
}

/// Which of an account's credentials count as a way to sign in, for [`IdentityStore::unlink_identity`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInWays {
    /// The account's password counts (password sign-in is on and it has one).
    pub password: bool,
    /// Identities at these providers count (those configured now).
    pub providers: Vec<String>,
}

/// The hash of a password that can never match: accounts made through a provider have no
/// password until their reader sets one.
pub const NO_PASSWORD: &str = "";

/// Storage of identities and pending sign-ins. Every backend keeps it exactly;
/// `contract/identities.rs` checks it. No write here moves `change_seq`.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// The account linked to `subject` at `provider`.
    async fn user_by_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError>;

    /// `user`'s identities, by provider then subject.
    async fn identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError>;

    /// The account whose address is `email` (any case) when one of its own identities vouched
    /// for that same address; `None` otherwise, also when an account has the address but no
    /// provider ever vouched for it there.
    async fn user_with_vouched_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// Creates `user` with `identity` as its first, in one transaction. `Conflict` names what
    /// is taken: `username`, `email`, or `identity` (linked to someone meanwhile).
    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: &NewIdentity,
    ) -> Result<User, StoreError>;

    /// Links `identity` to `user`, unless another account has it.
    async fn link_identity(
        &self,
        user: UserId,
        identity: &NewIdentity,
    ) -> Result<LinkOutcome, StoreError>;

    /// Records a sign-in through the identity: its login, the address the provider vouches
    /// for now and when. False when no account has it.
    async fn touch_identity(&self, identity: &NewIdentity) -> Result<bool, StoreError>;

    /// Unlinks `user`'s identity at `provider` with `subject`, in one transaction with the
    /// check that another of `ways` remains.
    async fn unlink_identity(
        &self,
        user: UserId,
        provider: &str,
        subject: &str,
        ways: &SignInWays,
    ) -> Result<UnlinkOutcome, StoreError>;

    /// Keeps `payload` (opaque to the store) under `key_hash` and `kind` until `expires_at`,
    /// replacing a record under the same key; records already expired are cleared on the way.
    async fn put_pending(
        &self,
        key_hash: &str,
        kind: &str,
        payload: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The payload under `key_hash` and `kind`, removed in the same step, so two callers
    /// racing get it once at most; `None` when there is none or it expired before `now`.
    async fn take_pending(
        &self,
        key_hash: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;

    /// The payload under `key_hash` and `kind`, left in place; `None` as for `take_pending`.
    async fn peek_pending(
        &self,
        key_hash: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
}
