//! Community records: users, sessions, API tokens, votes and comments as the store hands them
//! out. Secrets never appear here: sessions and tokens are known by their hashes.

use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, EmailAddress, Username};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: EmailAddress,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub is_admin: bool,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: Username,
    pub email: EmailAddress,
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// A session to store: the hash of the id the client holds, never the id itself.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub id_hash: String,
    pub user: UserId,
    /// The synchronizer token every form of this session must send back.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user: User,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A paper's votes after a vote was cast or withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoteOutcome {
    /// Imported and local votes together, as pages show them.
    pub upvotes: i64,
    /// Whether the user's vote is now counted.
    pub voted: bool,
}

#[derive(Clone, Debug)]
pub struct NewComment {
    pub paper: ArxivId,
    pub author: UserId,
    /// The Markdown source as typed; rendering and sanitising happen when it is shown.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub paper: ArxivId,
    pub author_id: UserId,
    pub author: Username,
    pub body: String,
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
