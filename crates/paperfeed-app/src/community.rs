//! Votes and comments: the rules the pages and the API share. Who may act (a logged-in user,
//! a valid token) and how often (rate limits) is the edge's business; what an act means and
//! what it refuses is here.

use chrono::{DateTime, Utc};
use paperfeed_core::ArxivId;
use paperfeed_store::{Comment, NewComment, SeenReason, Store, StoreError, User, VoteOutcome};

/// The longest comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 5000;

/// Why a vote or a comment did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CommunityError {
    /// There is no such paper on this hub.
    #[error("paper {0} is not on this hub")]
    NoSuchPaper(ArxivId),
    /// A comment's text is empty or too long: its length in characters.
    #[error("body: a comment must be 1 to {MAX_COMMENT_CHARS} characters long, not {chars}")]
    InvalidComment { chars: usize },
    /// Only moderators hide and show comments.
    #[error("only moderators can hide comments")]
    NotModerator,
    /// The comment is someone else's (or gone).
    #[error("you can only edit or delete your own comments")]
    NotYours,
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

/// Counts `user`'s upvote of `paper` (`up`) or withdraws it; idempotent either way.
pub async fn vote(
    store: &dyn Store,
    user: &User,
    paper: &ArxivId,
    up: bool,
) -> Result<VoteOutcome, CommunityError> {
    let outcome = store
        .set_vote(user.id, paper, up)
        .await?
        .ok_or_else(|| CommunityError::NoSuchPaper(paper.clone()))?;
    tracing::debug!(user.id = user.id.0, paper.id = %paper, vote.up = up, "vote recorded");
    if up {
        // The vote counts whether or not the seen mark is kept: it is the lesser record.
        let seen = crate::visibility::mark_seen(store, user.id, paper, SeenReason::Voted).await;
        if let Err(e) = seen {
            tracing::warn!(user.id = user.id.0, paper.id = %paper, error = %e.detail(), "seen mark (voted) not kept");
        }
    }
    Ok(outcome)
}

/// A comment's text, trimmed: 1 to [`MAX_COMMENT_CHARS`] characters.
pub fn comment_body(raw: &str) -> Result<String, CommunityError> {
    let body = raw.trim();
    let chars = body.chars().count();
    if chars == 0 || chars > MAX_COMMENT_CHARS {
        return Err(CommunityError::InvalidComment { chars });
    }
    Ok(body.to_owned())
}

/// Adds `user`'s comment (Markdown, as typed) to `paper`.
pub async fn add_comment(
    store: &dyn Store,
    user: &User,
    paper: &ArxivId,
    raw_body: &str,
    now: DateTime<Utc>,
) -> Result<Comment, CommunityError> {
    let body = comment_body(raw_body)?;
    let comment = store
        .add_comment(NewComment {
            paper: paper.clone(),
            author: user.id,
            body,
            created_at: now,
        })
        .await?
        .ok_or_else(|| CommunityError::NoSuchPaper(paper.clone()))?;
    tracing::debug!(user.id = user.id.0, paper.id = %paper, comment.id = comment.id, "comment added");
    Ok(comment)
}

/// What a user does to an existing comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommentAction {
    /// Replace its text (the author only).
    Edit(String),
    /// Delete it (the author only).
    Delete,
    /// Hide (`true`) or show it again (moderators only).
    Hide(bool),
}

/// Does `action` to comment `id` as `user`.
pub async fn act_on_comment(
    store: &dyn Store,
    user: &User,
    id: i64,
    action: CommentAction,
) -> Result<(), CommunityError> {
    let done = match action {
        CommentAction::Edit(raw) => {
            let body = comment_body(&raw)?;
            store.edit_comment(id, user.id, body).await?
        }
        CommentAction::Delete => store.delete_comment(id, user.id).await?,
        CommentAction::Hide(hidden) if user.is_admin => {
            store.set_comment_hidden(id, hidden).await?;
            true
        }
        CommentAction::Hide(_) => return Err(CommunityError::NotModerator),
    };
    if !done {
        return Err(CommunityError::NotYours);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use paperfeed_store::{SqliteStore, WriteMode};

    use super::*;
    use crate::test_support::{paper, sqlite_store, user};

    struct Hub {
        _dir: tempfile::TempDir,
        store: SqliteStore,
        paper: ArxivId,
    }

    async fn hub() -> Hub {
        let (dir, store) = sqlite_store().await;
        let new = paper("2605.00001", "A paper", "An abstract.");
        let paper = new.id.clone();
        store
            .upsert_papers(vec![new], WriteMode::Commit)
            .await
            .unwrap();
        Hub {
            _dir: dir,
            store,
            paper,
        }
    }

    #[tokio::test]
    async fn votes_count_once_and_are_withdrawn() {
        let hub = hub().await;
        let ada = user(&hub.store, "ada", false).await;
        let up = vote(&hub.store, &ada, &hub.paper, true).await.unwrap();
        assert_eq!((up.upvotes, up.voted), (1, true));
        let again = vote(&hub.store, &ada, &hub.paper, true).await.unwrap();
        assert_eq!((again.upvotes, again.voted), (1, true));
        let undone = vote(&hub.store, &ada, &hub.paper, false).await.unwrap();
        assert_eq!((undone.upvotes, undone.voted), (0, false));

        let missing = ArxivId::parse("2605.09999").unwrap();
        let refused = vote(&hub.store, &ada, &missing, true).await;
        assert!(
            matches!(&refused, Err(CommunityError::NoSuchPaper(id)) if *id == missing),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn comments_are_trimmed_bounded_and_only_on_papers_of_this_hub() {
        let hub = hub().await;
        let ada = user(&hub.store, "ada", false).await;
        let comment = add_comment(&hub.store, &ada, &hub.paper, "  *Nice*  ", Utc::now())
            .await
            .unwrap();
        assert_eq!(comment.body, "*Nice*");
        assert_eq!(hub.store.comments(&hub.paper).await.unwrap().len(), 1);

        for raw in ["   ", &"x".repeat(MAX_COMMENT_CHARS + 1)] {
            let refused = add_comment(&hub.store, &ada, &hub.paper, raw, Utc::now()).await;
            assert!(
                matches!(refused, Err(CommunityError::InvalidComment { .. })),
                "{refused:?}"
            );
        }
        assert_eq!(
            CommunityError::InvalidComment { chars: 0 }.to_string(),
            "body: a comment must be 1 to 5000 characters long, not 0"
        );
        let missing = ArxivId::parse("2605.09999").unwrap();
        let refused = add_comment(&hub.store, &ada, &missing, "Hi", Utc::now()).await;
        assert!(
            matches!(refused, Err(CommunityError::NoSuchPaper(_))),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn authors_edit_and_delete_their_own_and_moderators_hide_any() {
        let hub = hub().await;
        let ada = user(&hub.store, "ada", false).await;
        let bob = user(&hub.store, "bob", false).await;
        let admin = user(&hub.store, "mod", true).await;
        let comment = add_comment(&hub.store, &ada, &hub.paper, "First", Utc::now())
            .await
            .unwrap();

        let edit = CommentAction::Edit(" Second ".into());
        let by_bob = act_on_comment(&hub.store, &bob, comment.id, edit.clone()).await;
        assert!(
            matches!(by_bob, Err(CommunityError::NotYours)),
            "{by_bob:?}"
        );
        act_on_comment(&hub.store, &ada, comment.id, edit)
            .await
            .unwrap();
        let stored = hub.store.comment(comment.id).await.unwrap().unwrap();
        assert_eq!(stored.body, "Second");

        let hide = act_on_comment(&hub.store, &ada, comment.id, CommentAction::Hide(true)).await;
        assert!(
            matches!(hide, Err(CommunityError::NotModerator)),
            "{hide:?}"
        );
        act_on_comment(&hub.store, &admin, comment.id, CommentAction::Hide(true))
            .await
            .unwrap();
        assert!(hub.store.comment(comment.id).await.unwrap().unwrap().hidden);

        let delete = act_on_comment(&hub.store, &bob, comment.id, CommentAction::Delete).await;
        assert!(
            matches!(delete, Err(CommunityError::NotYours)),
            "{delete:?}"
        );
        act_on_comment(&hub.store, &ada, comment.id, CommentAction::Delete)
            .await
            .unwrap();
        assert!(hub.store.comment(comment.id).await.unwrap().is_none());
    }
}
