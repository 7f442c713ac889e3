//! A reader's data as a whole: "download my data" (everything the hub keeps about the account,
//! as one JSON document) and "delete my account" (what goes and what stays is
//! [`paperfeed_store::AccountStore::delete_user`]'s promise, written on the page that asks).

use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;
use paperfeed_store::{AccountDeletion, MailStore, Store, StoreError, User, UserId};
use serde::Serialize;

use crate::accounts::verify_password;

/// The `format` of the document, so a reader (or a tool) knows what it holds.
pub const FORMAT: &str = "paperfeed-account-data";
/// Its version: grows when a field changes meaning; new sections may appear without it.
pub const VERSION: u32 = 1;

/// Why a data use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum AccountDataError {
    /// Your input: the password given to confirm a deletion is not the account's.
    #[error("the password is wrong")]
    WrongPassword,
    /// Your input (or a race): the account is already gone.
    #[error("no such account")]
    NoSuchAccount,
    /// We failed: the password check's thread.
    #[error("the password check failed")]
    Task(#[source] tokio::task::JoinError),
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// Everything the hub keeps about one account. Secrets are never in it: the password is a
/// hash the reader does not need, API tokens and sessions are listed by name and date only.
#[derive(Debug, Serialize)]
pub struct AccountData {
    pub format: &'static str,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub account: AccountSection,
    pub api_tokens: Vec<TokenEntry>,
    /// The sign-in providers the account is linked to.
    pub identities: Vec<IdentityEntry>,
    pub votes: Vec<VoteEntry>,
    pub comments: Vec<CommentEntry>,
    /// The digest subscription under the account's email address, if there is one (and the hub
    /// sends mail).
    pub subscription: Option<SubscriptionEntry>,
    /// Saved papers with their reading state and private note.
    pub library: Vec<SavedEntry>,
    pub collections: Vec<CollectionData>,
    pub follows: Vec<FollowEntry>,
    pub mutes: Vec<MuteEntry>,
    /// Papers marked "not interested".
    pub dismissed: Vec<MarkEntry>,
    /// Papers the hub counts as seen, and why.
    pub seen: Vec<SeenEntry>,
    pub saved_searches: Vec<SavedSearchEntry>,
    /// Private feed addresses, by what they open (the secret itself is never stored).
    pub feed_addresses: Vec<FeedAddressEntry>,
    /// The latest webhook deliveries.
    pub webhook_deliveries: Vec<DeliveryEntry>,
    /// The recommender's controls and seed papers.
    pub recommender: RecommenderEntry,
}

/// How many seen marks, dismissals and deliveries a download lists at most (newest first).
pub const MAX_MARKS: usize = 100_000;

#[derive(Debug, Serialize)]
pub struct SavedEntry {
    pub paper: ArxivId,
    pub saved_at: DateTime<Utc>,
    pub state: &'static str,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct CollectionData {
    pub id: i64,
    pub name: String,
    pub public: bool,
    pub created_at: DateTime<Utc>,
    pub papers: Vec<ArxivId>,
}

#[derive(Debug, Serialize)]
pub struct FollowEntry {
    pub kind: &'static str,
    pub key: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct MuteEntry {
    pub kind: &'static str,
    pub text: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct MarkEntry {
    pub paper: ArxivId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct SeenEntry {
    pub paper: ArxivId,
    pub first_seen_at: DateTime<Utc>,
    pub reasons: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct SavedSearchEntry {
    pub id: i64,
    pub name: String,
    pub query: String,
    pub mode: String,
    pub sort: String,
    pub created_at: DateTime<Utc>,
    pub webhook_url: Option<String>,
    /// Whether its new matches go into the account's digest.
    pub in_digest: bool,
}

#[derive(Debug, Serialize)]
pub struct FeedAddressEntry {
    pub id: i64,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct RecommenderEntry {
    pub paused: bool,
    pub social_weight: u8,
    pub recency_days: u32,
    pub exploration: u8,
    /// Signals before this are ignored.
    pub reset_at: Option<DateTime<Utc>>,
    /// "Recommend from this", newest first.
    pub seeds: Vec<MarkEntry>,
}

#[derive(Debug, Serialize)]
pub struct DeliveryEntry {
    pub search: i64,
    pub paper: ArxivId,
    pub state: String,
    pub attempts: i64,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountSection {
    pub username: String,
    pub email: String,
    pub is_admin: bool,
}

#[derive(Debug, Serialize)]
pub struct TokenEntry {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct IdentityEntry {
    pub provider: String,
    pub subject: String,
    pub login: String,
    pub verified_email: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct VoteEntry {
    pub paper: ArxivId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct CommentEntry {
    pub id: i64,
    pub paper: ArxivId,
    /// The Markdown as typed.
    pub body: String,
    /// Hidden by a moderator.
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct SubscriptionEntry {
    pub email: String,
    pub status: String,
    pub frequency: String,
    pub topics: Vec<String>,
    pub papers_per_digest: u32,
}

/// Reads everything about `user` into one document. `mail` is the outbox store when the hub
/// sends mail (the subscription lives there).
pub async fn download(
    store: &dyn Store,
    mail: Option<&dyn MailStore>,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<AccountData, AccountDataError> {
    let found = store
        .user_by_id(user)
        .await?
        .ok_or(AccountDataError::NoSuchAccount)?;
    let api_tokens = store
        .api_tokens(user)
        .await?
        .into_iter()
        .map(|t| TokenEntry {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
        })
        .collect();
    let identities = store
        .identities(user)
        .await?
        .into_iter()
        .map(|i| IdentityEntry {
            provider: i.provider,
            subject: i.subject,
            login: i.login,
            verified_email: i.verified_email,
            linked_at: i.linked_at,
            last_used_at: i.last_used_at,
        })
        .collect();
    let votes = store
        .votes_by(user)
        .await?
        .into_iter()
        .map(|v| VoteEntry {
            paper: v.paper,
            at: v.at,
        })
        .collect();
    let comments = store
        .comments_by(user)
        .await?
        .into_iter()
        .map(|c| CommentEntry {
            id: c.id,
            paper: c.paper,
            body: c.body,
            hidden: c.hidden,
            created_at: c.created_at,
            updated_at: c.updated_at,
        })
        .collect();
    let subscription = match mail {
        Some(mail) => mail
            .subscriber_by_email(&found.email)
            .await?
            .map(|s| SubscriptionEntry {
                email: s.email.as_str().to_owned(),
                status: s.status.as_str().to_owned(),
                frequency: s.frequency.to_string(),
                topics: s.topics,
                papers_per_digest: s.papers_per_digest,
            }),
        None => None,
    };
    let mut collections = Vec::new();
    for c in store.collections(user).await? {
        let papers = store
            .collection_papers(c.id)
            .await?
            .into_iter()
            .map(|e| e.paper)
            .collect();
        collections.push(CollectionData {
            id: c.id,
            name: c.name,
            public: c.public,
            created_at: c.created_at,
            papers,
        });
    }
    let library = store
        .saved_papers(user, None)
        .await?
        .into_iter()
        .map(|s| SavedEntry {
            paper: s.paper,
            saved_at: s.saved_at,
            state: s.state.as_str(),
            note: s.note,
        })
        .collect();
    let follows = store
        .follows(user)
        .await?
        .into_iter()
        .map(|f| FollowEntry {
            kind: f.target.kind().as_str(),
            key: f.target.key(),
            since: f.created_at,
        })
        .collect();
    let mutes = store
        .mutes(user)
        .await?
        .into_iter()
        .map(|m| MuteEntry {
            kind: m.kind.as_str(),
            text: m.text,
            since: m.created_at,
        })
        .collect();
    let dismissed = store
        .dismissed_papers(user, MAX_MARKS)
        .await?
        .into_iter()
        .map(|d| MarkEntry {
            paper: d.paper,
            at: d.dismissed_at,
        })
        .collect();
    let seen = store
        .seen_papers(user, MAX_MARKS)
        .await?
        .into_iter()
        .map(|s| SeenEntry {
            paper: s.paper,
            first_seen_at: s.first_seen_at,
            reasons: s.reasons.iter().map(|r| r.as_str()).collect(),
        })
        .collect();
    let saved_searches = store
        .saved_searches(user)
        .await?
        .into_iter()
        .map(|s| SavedSearchEntry {
            id: s.id.0,
            name: s.name,
            query: s.query,
            mode: s.mode,
            sort: s.sort,
            created_at: s.created_at,
            webhook_url: s.webhook_url,
            in_digest: s.in_digest,
        })
        .collect();
    let feed_addresses = store
        .feed_tokens(user)
        .await?
        .into_iter()
        .map(|t| FeedAddressEntry {
            id: t.id,
            scope: t.scope,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect();
    let webhook_deliveries = store
        .webhook_deliveries(user, MAX_MARKS)
        .await?
        .into_iter()
        .map(|d| DeliveryEntry {
            search: d.search.0,
            paper: d.paper,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
        })
        .collect();
    let controls = crate::recommend::Controls::of(store.recommender_settings(user).await?.as_ref());
    let recommender = RecommenderEntry {
        paused: controls.paused,
        social_weight: controls.social_weight,
        recency_days: controls.recency_days,
        exploration: controls.exploration,
        reset_at: controls.reset_at,
        seeds: store
            .seeds(user)
            .await?
            .into_iter()
            .map(|s| MarkEntry {
                paper: s.paper,
                at: s.added_at,
            })
            .collect(),
    };
    Ok(AccountData {
        format: FORMAT,
        version: VERSION,
        exported_at: now,
        account: AccountSection {
            username: found.username.to_string(),
            email: found.email.as_str().to_owned(),
            is_admin: found.is_admin,
        },
        api_tokens,
        identities,
        votes,
        comments,
        subscription,
        library,
        collections,
        follows,
        mutes,
        dismissed,
        seen,
        saved_searches,
        feed_addresses,
        webhook_deliveries,
        recommender,
    })
}

/// Deletes `user`'s account once `password` proves it is theirs (for an account without a
/// password, made through a provider: its user name typed) (checked on a blocking thread:
/// argon2 is slow by design). What goes and what stays: see
/// [`paperfeed_store::AccountStore::delete_user`].
pub async fn delete_account(
    store: &dyn Store,
    user: &User,
    password: String,
) -> Result<AccountDeletion, AccountDataError> {
    let hash = user.password_hash.clone();
    let matches = if hash.is_empty() {
        // An account made through a provider has no password: its reader types its name (the
        // session already proves who they are; this only guards against a slip).
        password.trim().eq_ignore_ascii_case(user.username.as_str())
    } else {
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| verify_password(&password, Some(&hash)))
        })
        .await
        .map_err(AccountDataError::Task)?
    };
    if !matches {
        return Err(AccountDataError::WrongPassword);
    }
    let deleted = store
        .delete_user(user.id)
        .await?
        .ok_or(AccountDataError::NoSuchAccount)?;
    tracing::info!(
        user.id = user.id.0,
        votes = deleted.votes_withdrawn,
        comments = deleted.comments_deleted,
        "account deleted"
    );
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use paperfeed_core::ArxivId;
    use paperfeed_store::{AccountStore, MailStore, NewComment, NewSubscriber, Store, WriteMode};

    use super::*;
    use crate::test_support::{PASSWORD, paper, sqlite_store, user};

    #[tokio::test]
    async fn the_download_holds_the_account_its_votes_comments_tokens_and_subscription_but_no_secret()
     {
        let (_dir, store) = sqlite_store().await;
        let ada = user(&store, "ada", false).await;
        let id = ArxivId::parse("2403.00001").unwrap();
        store
            .upsert_papers(vec![paper(id.as_str(), "T", "A")], WriteMode::Commit)
            .await
            .unwrap();
        store.set_vote(ada.id, &id, true).await.unwrap();
        (&store as &dyn Store)
            .save_paper(ada.id, &id, Utc::now())
            .await
            .unwrap();
        store
            .add_comment(NewComment {
                paper: id.clone(),
                author: ada.id,
                body: "<b>nice</b>".into(),
                created_at: Utc::now(),
            })
            .await
            .unwrap();
        crate::accounts::create_api_token(&store, ada.id, "laptop".into())
            .await
            .unwrap();
        store
            .upsert_subscriber(
                NewSubscriber {
                    email: ada.email.clone(),
                    frequency: "weekly".parse().unwrap(),
                    topics: vec!["diffusion".into()],
                    papers_per_digest: 5,
                    confirmed: true,
                },
                Utc::now(),
            )
            .await
            .unwrap();

        let data = download(&store, Some(&store), ada.id, Utc::now())
            .await
            .unwrap();
        let json = serde_json::to_value(&data).unwrap();
        assert_eq!(json["format"], FORMAT);
        assert_eq!(json["account"]["username"], "ada");
        assert_eq!(json["votes"][0]["paper"], "2403.00001");
        assert_eq!(json["comments"][0]["body"], "<b>nice</b>");
        assert_eq!(json["api_tokens"][0]["name"], "laptop");
        assert_eq!(json["subscription"]["frequency"], "weekly");
        assert_eq!(json["library"][0]["paper"], "2403.00001");
        assert_eq!(json["library"][0]["state"], "to_read");
        assert_eq!(json["recommender"]["recency_days"], 30);
        assert!(json["recommender"]["seeds"].is_array());
        for section in [
            "collections",
            "follows",
            "mutes",
            "dismissed",
            "saved_searches",
        ] {
            assert!(json[section].is_array(), "{section} is listed");
        }
        let text = json.to_string();
        assert!(
            !text.contains("argon2") && !text.contains(crate::accounts::TOKEN_PREFIX),
            "no password hash and no token in the download: {text}"
        );
    }

    #[tokio::test]
    async fn deleting_an_account_needs_its_password_and_removes_its_subscription() {
        let (_dir, store) = sqlite_store().await;
        let ada = user(&store, "ada", false).await;
        store
            .upsert_subscriber(
                NewSubscriber {
                    email: ada.email.clone(),
                    frequency: "daily".parse().unwrap(),
                    topics: vec![],
                    papers_per_digest: 5,
                    confirmed: true,
                },
                Utc::now(),
            )
            .await
            .unwrap();
        assert!(matches!(
            delete_account(&store, &ada, "not the password".into()).await,
            Err(AccountDataError::WrongPassword)
        ));
        assert!(store.user_by_id(ada.id).await.unwrap().is_some());

        let deleted = delete_account(&store, &ada, PASSWORD.into()).await.unwrap();
        assert!(deleted.subscription_removed);
        assert!(store.user_by_id(ada.id).await.unwrap().is_none());
        assert!(
            store
                .subscriber_by_email(&ada.email)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            delete_account(&store, &ada, PASSWORD.into()).await,
            Err(AccountDataError::NoSuchAccount)
        ));
    }
}
