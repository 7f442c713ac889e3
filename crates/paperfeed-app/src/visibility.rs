//! What a reader does not want to see, and what they have seen: mutes, "not interested",
//! seen marks, and the per-reader filter every personal list applies.
//!
//! The filter is loaded once per request for the papers a page is about to show
//! ([`ReaderFilter::load`]: one store read, then pure matching with
//! `paperfeed_core::MuteSet`), and tells for each paper whether it is hidden and why
//! ([`Hidden`]). Pages hide what it hides and say how many; search marks instead of hiding.
//! Who may act (a session, a token) and how often (rate limits) is the edge's business.
//!
//! What is slow in filtering — reading each paper's text for keyword mutes and compiling a
//! reader's mutes — is kept between requests by a [`FilterCache`] that a long-lived caller
//! (the web) holds and hands to [`ReaderFilter::load_cached`]: papers' text per paper and text
//! ([`MuteTexts`]), compiled mutes per reader and mute list ([`CompiledMutes`]). Mutes,
//! dismissals and seen marks are still read from the store on every load, so a change counts
//! on the next one.

mod kept_texts;

pub use kept_texts::MuteTexts;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, MAX_MUTES, MuteError, MuteKind, MuteSet, Paper, check_mute};
use paperfeed_store::{
    Dismissal, Mute, MuteAdded, NewMute, SeenReason, SeenReasons, StoreError, UserId,
    VisibilityStore,
};

/// Dismissed papers listed at most (the settings page, the API); older ones stay dismissed.
pub const MAX_DISMISSED_LISTED: usize = 1000;

/// Why a mute or a dismissal did not go through.
#[derive(Debug, thiserror::Error)]
pub enum VisibilityError {
    /// The mute's text is not one (empty, too long, a query that cannot match).
    #[error(transparent)]
    InvalidMute(#[from] MuteError),
    #[error("you already keep {max} mutes, the most one reader can; remove one first")]
    TooManyMutes { max: usize },
    #[error("you have no such mute")]
    NoSuchMute,
    #[error("paper {0} is not on this hub")]
    NoSuchPaper(ArxivId),
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl VisibilityError {
    /// Whether the reader's input was refused (safe to show), as opposed to our failure.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, VisibilityError::Store(_))
    }
}

/// A mute kept, and whether this call added it (false: the reader already had it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MuteOutcome {
    pub mute: Mute,
    pub added: bool,
}

/// Adds a mute of `kind` for `user` from the text they typed (see `paperfeed_core::mute` for
/// what each kind matches). Idempotent: the same mute again is handed back unchanged.
pub async fn add_mute(
    store: &dyn VisibilityStore,
    user: UserId,
    kind: MuteKind,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<MuteOutcome, VisibilityError> {
    let (text, key) = check_mute(kind, raw)?;
    let new = NewMute {
        kind,
        text,
        key,
        created_at: now,
    };
    match store.add_mute(user, new, MAX_MUTES).await? {
        MuteAdded::Added(mute) => {
            tracing::debug!(user.id = user.0, mute.id = mute.id, mute.kind = %kind, "mute added");
            Ok(MuteOutcome { mute, added: true })
        }
        MuteAdded::AlreadyThere(mute) => Ok(MuteOutcome { mute, added: false }),
        MuteAdded::Full => Err(VisibilityError::TooManyMutes { max: MAX_MUTES }),
    }
}

/// Removes one of `user`'s mutes.
pub async fn remove_mute(
    store: &dyn VisibilityStore,
    user: UserId,
    id: i64,
) -> Result<(), VisibilityError> {
    if store.remove_mute(user, id).await? {
        Ok(())
    } else {
        Err(VisibilityError::NoSuchMute)
    }
}

/// "Not interested": hides `paper` from `user`'s feeds and digests and marks it seen
/// (dismissed). Idempotent.
pub async fn dismiss(
    store: &dyn VisibilityStore,
    user: UserId,
    paper: &ArxivId,
    now: DateTime<Utc>,
) -> Result<(), VisibilityError> {
    if store.dismiss_paper(user, paper, now).await? {
        Ok(())
    } else {
        Err(VisibilityError::NoSuchPaper(paper.clone()))
    }
}

/// Takes a dismissal back; false when the paper was not dismissed. The seen mark stays.
pub async fn undismiss(
    store: &dyn VisibilityStore,
    user: UserId,
    paper: &ArxivId,
) -> Result<bool, VisibilityError> {
    Ok(store.undismiss_paper(user, paper).await?)
}

/// `user`'s dismissed papers, most recent first (at most [`MAX_DISMISSED_LISTED`]).
pub async fn dismissed(
    store: &dyn VisibilityStore,
    user: UserId,
) -> Result<Vec<Dismissal>, VisibilityError> {
    Ok(store.dismissed_papers(user, MAX_DISMISSED_LISTED).await?)
}

/// Marks `paper` seen by `user` because of `why` (opened, voted, saved, dismissed, mailed).
/// Idempotent: the first time is kept and the reasons gather. A paper not on the hub is
/// skipped.
pub async fn mark_seen(
    store: &dyn VisibilityStore,
    user: UserId,
    paper: &ArxivId,
    why: SeenReason,
) -> Result<(), StoreError> {
    mark_seen_all(store, user, std::slice::from_ref(paper), why).await
}

/// [`mark_seen`] for several papers in one write (a digest's papers).
pub async fn mark_seen_all(
    store: &dyn VisibilityStore,
    user: UserId,
    papers: &[ArxivId],
    why: SeenReason,
) -> Result<(), StoreError> {
    store.mark_seen(user, papers, why, Utc::now()).await
}

/// Why a paper is hidden from (or marked for) one reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hidden {
    /// They dismissed it ("not interested").
    NotInterested,
    /// It matches one of their mutes: its kind and text as they typed it.
    Muted { kind: MuteKind, text: String },
    /// They saw it, and asked to hide what they saw.
    Seen(SeenReasons),
}

impl fmt::Display for Hidden {
    /// `muted keyword "diffusion"`, `not interested`, `seen (opened)`: the label pages show
    /// (escaped there like any text).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hidden::NotInterested => f.write_str("not interested"),
            Hidden::Muted { kind, text } => write!(f, "muted {kind} \u{201C}{text}\u{201D}"),
            Hidden::Seen(reasons) => {
                f.write_str("seen")?;
                let names: Vec<&str> = reasons.iter().map(SeenReason::as_str).collect();
                if !names.is_empty() {
                    write!(f, " ({})", names.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// What filtering keeps between requests (see the module's documentation); one per process.
#[derive(Debug, Default)]
pub struct FilterCache {
    pub texts: MuteTexts,
}

/// One reader's mutes, dismissals and seen marks for a set of papers, compiled for matching.
#[derive(Debug, Default)]
pub struct ReaderFilter {
    mutes: Vec<Mute>,
    set: Option<Arc<MuteSet>>,
    dismissed: HashSet<ArxivId>,
    seen: HashMap<ArxivId, SeenReasons>,
    hide_seen: bool,
    /// Papers' text kept between requests, when the caller keeps it.
    texts: Option<Arc<FilterCache>>,
}

impl ReaderFilter {
    /// Hides nothing: anonymous visitors.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads `user`'s mutes and which of `papers` they dismissed or saw, in one store read.
    /// With `hide_seen`, papers they saw are hidden too.
    pub async fn load(
        store: &dyn VisibilityStore,
        user: UserId,
        papers: &[ArxivId],
        hide_seen: bool,
    ) -> Result<Self, StoreError> {
        let marks = store.reader_marks(user, papers).await?;
        let set = (!marks.mutes.is_empty()).then(|| {
            Arc::new(MuteSet::new(
                marks.mutes.iter().map(|m| (m.kind, m.text.as_str())),
            ))
        });
        Ok(Self {
            mutes: marks.mutes,
            set,
            dismissed: marks.dismissed,
            seen: marks.seen,
            hide_seen,
            texts: None,
        })
    }

    /// [`ReaderFilter::load`] with what `cache` kept from earlier loads: the same answers,
    /// without compiling the reader's mutes again or reading a paper's text twice. The
    /// reader's mutes, dismissals and seen marks are read from the store as by `load`.
    pub async fn load_cached(
        store: &dyn VisibilityStore,
        cache: &Arc<FilterCache>,
        user: UserId,
        papers: &[ArxivId],
        hide_seen: bool,
    ) -> Result<Self, StoreError> {
        let marks = store.reader_marks(user, papers).await?;
        let set = (!marks.mutes.is_empty()).then(|| {
            Arc::new(MuteSet::new(
                marks.mutes.iter().map(|m| (m.kind, m.text.as_str())),
            ))
        });
        Ok(Self {
            mutes: marks.mutes,
            set,
            dismissed: marks.dismissed,
            seen: marks.seen,
            hide_seen,
            texts: Some(Arc::clone(cache)),
        })
    }

    /// Why `paper` is hidden from this reader, if it is: not interested first, then the first
    /// mute that matches (in the order they were added), then seen (with `hide_seen`).
    pub fn why_hidden(&self, paper: &Paper) -> Option<Hidden> {
        if self.dismissed.contains(&paper.id) {
            return Some(Hidden::NotInterested);
        }
        let first = self.set.as_ref().and_then(|set| match &self.texts {
            Some(cache) if set.reads_text() => {
                set.first_match_in(paper, &cache.texts.text_of(paper))
            }
            _ => set.first_match(paper),
        });
        if let Some(at) = first
            && let Some(mute) = self.mutes.get(at)
        {
            return Some(Hidden::Muted {
                kind: mute.kind,
                text: mute.text.clone(),
            });
        }
        if self.hide_seen
            && let Some(reasons) = self.seen.get(&paper.id)
        {
            return Some(Hidden::Seen(*reasons));
        }
        None
    }

    /// The reasons this reader saw `paper`, if they did (whether or not seen papers hide).
    pub fn seen(&self, paper: &ArxivId) -> Option<SeenReasons> {
        self.seen.get(paper).copied()
    }

    pub fn hides_seen(&self) -> bool {
        self.hide_seen
    }

    /// Splits `items` (in order) into those shown and those hidden with why.
    pub fn split<T>(&self, items: Vec<T>, paper: impl Fn(&T) -> &Paper) -> Split<T> {
        let mut split = Split {
            shown: Vec::with_capacity(items.len()),
            hidden: Vec::new(),
        };
        for item in items {
            match self.why_hidden(paper(&item)) {
                Some(why) => split.hidden.push((item, why)),
                None => split.shown.push(item),
            }
        }
        split
    }
}

/// Items a [`ReaderFilter`] let through, and those it hid with why, each in their order.
#[derive(Debug)]
pub struct Split<T> {
    pub shown: Vec<T>,
    pub hidden: Vec<(T, Hidden)>,
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use paperfeed_core::{Author, NewPaper};
    use paperfeed_store::{NewUser, SqliteStore, Store, WriteMode};

    use super::*;

    async fn store_with_papers() -> (tempfile::TempDir, SqliteStore, UserId) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("store.db")).unwrap();
        let papers = [
            (
                "2611.00001",
                "Diffusion models for proteins",
                "Ada Lovelace",
            ),
            ("2611.00002", "Attention is enough", "Alan Turing"),
            ("2611.00003", "Quantum error correction", "Grace Hopper"),
        ]
        .into_iter()
        .map(|(id, title, author)| {
            let mut p = NewPaper::new(
                ArxivId::parse(id).unwrap(),
                title.into(),
                "An abstract.".into(),
                vec![Author::named(author)],
            );
            p.categories = vec!["cs.LG".into()];
            p
        })
        .collect();
        store
            .upsert_papers(papers, WriteMode::Commit)
            .await
            .unwrap();
        let user = store
            .create_user(NewUser {
                username: paperfeed_core::Username::parse("reader").unwrap(),
                email: paperfeed_core::EmailAddress::parse("reader@example.org").unwrap(),
                password_hash: "x".into(),
                is_admin: false,
                created_at: Utc::now(),
            })
            .await
            .unwrap();
        (dir, store, user.id)
    }

    fn ids() -> Vec<ArxivId> {
        ["2611.00001", "2611.00002", "2611.00003"]
            .iter()
            .map(|s| ArxivId::parse(s).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn mutes_dismissals_and_seen_marks_hide_papers_and_say_why() {
        let (_dir, store, user) = store_with_papers().await;
        let now = Utc::now();
        add_mute(&store, user, MuteKind::Keyword, "diffusion", now)
            .await
            .unwrap();
        dismiss(&store, user, &ids()[1], now).await.unwrap();
        mark_seen(&store, user, &ids()[2], SeenReason::Opened)
            .await
            .unwrap();
        let papers = store.get_papers(&ids()).await.unwrap();

        let filter = ReaderFilter::load(&store, user, &ids(), false)
            .await
            .unwrap();
        let why: Vec<Option<String>> = papers
            .iter()
            .map(|p| filter.why_hidden(p).map(|h| h.to_string()))
            .collect();
        assert_eq!(
            why,
            [
                Some("muted keyword \u{201C}diffusion\u{201D}".to_owned()),
                Some("not interested".to_owned()),
                None
            ]
        );
        let filter = ReaderFilter::load(&store, user, &ids(), true)
            .await
            .unwrap();
        assert_eq!(
            filter.why_hidden(&papers[2]).map(|h| h.to_string()),
            Some("seen (opened)".to_owned())
        );
        let split = filter.split(papers, |p| p);
        assert!(split.shown.is_empty());
        assert_eq!(split.hidden.len(), 3);
        let nobody = ReaderFilter::none();
        assert!(
            store
                .get_papers(&ids())
                .await
                .unwrap()
                .iter()
                .all(|p| nobody.why_hidden(p).is_none())
        );
    }

    #[tokio::test]
    async fn adding_a_mute_checks_it_keeps_it_once_and_removing_it_restores_the_paper() {
        let (_dir, store, user) = store_with_papers().await;
        let now = Utc::now();
        let first = add_mute(&store, user, MuteKind::Author, "Ada  Lovelace", now)
            .await
            .unwrap();
        assert!(first.added);
        assert_eq!(first.mute.text, "Ada  Lovelace");
        let again = add_mute(&store, user, MuteKind::Author, "ada lovelace", now)
            .await
            .unwrap();
        assert!(!again.added, "the same normalised name is one mute");
        assert!(matches!(
            add_mute(&store, user, MuteKind::Keyword, "   ", now).await,
            Err(VisibilityError::InvalidMute(_))
        ));
        let papers = store.get_papers(&ids()).await.unwrap();
        let filter = ReaderFilter::load(&store, user, &ids(), false)
            .await
            .unwrap();
        assert!(filter.why_hidden(&papers[0]).is_some());
        remove_mute(&store, user, first.mute.id).await.unwrap();
        assert!(matches!(
            remove_mute(&store, user, first.mute.id).await,
            Err(VisibilityError::NoSuchMute)
        ));
        let filter = ReaderFilter::load(&store, user, &ids(), false)
            .await
            .unwrap();
        assert!(filter.why_hidden(&papers[0]).is_none());
        assert!(matches!(
            dismiss(&store, user, &ArxivId::parse("2611.09999").unwrap(), now).await,
            Err(VisibilityError::NoSuchPaper(_))
        ));
    }

    #[tokio::test]
    async fn a_reader_keeps_at_most_the_allowed_number_of_mutes() {
        let (_dir, store, user) = store_with_papers().await;
        let now = Utc::now();
        for n in 0..MAX_MUTES {
            add_mute(&store, user, MuteKind::Keyword, &format!("word{n}"), now)
                .await
                .unwrap();
        }
        let refused = add_mute(&store, user, MuteKind::Keyword, "one more", now).await;
        assert!(matches!(refused, Err(VisibilityError::TooManyMutes { .. })));
        assert!(refused.unwrap_err().is_refusal());
    }

    #[tokio::test]
    async fn a_kept_filter_hides_a_new_mute_and_shows_an_undone_one_on_the_next_load() {
        let (_dir, store, user) = store_with_papers().await;
        let cache = Arc::new(FilterCache::default());
        let papers = store.get_papers(&ids()).await.unwrap();
        let hidden = |filter: &ReaderFilter| -> Vec<Option<String>> {
            papers
                .iter()
                .map(|p| filter.why_hidden(p).map(|h| h.to_string()))
                .collect()
        };
        let asked = ids();
        let load = || ReaderFilter::load_cached(&store, &cache, user, &asked, false);
        assert_eq!(hidden(&load().await.unwrap()), [None, None, None]);

        let added = add_mute(
            &store,
            user,
            MuteKind::Keyword,
            "quantum errors",
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(
            hidden(&load().await.unwrap()),
            [
                None,
                None,
                Some("muted keyword \u{201C}quantum errors\u{201D}".to_owned())
            ]
        );
        add_mute(&store, user, MuteKind::Author, "ada lovelace", Utc::now())
            .await
            .unwrap();
        let both = load().await.unwrap();
        assert_eq!(
            hidden(&both),
            [
                Some("muted author \u{201C}ada lovelace\u{201D}".to_owned()),
                None,
                Some("muted keyword \u{201C}quantum errors\u{201D}".to_owned())
            ]
        );
        // The same answers as a filter that keeps nothing.
        let uncached = ReaderFilter::load(&store, user, &ids(), false)
            .await
            .unwrap();
        assert_eq!(hidden(&both), hidden(&uncached));
        assert_eq!(cache.texts.len(), 3, "each paper's text read once");

        remove_mute(&store, user, added.mute.id).await.unwrap();
        assert_eq!(
            hidden(&load().await.unwrap()),
            [
                Some("muted author \u{201C}ada lovelace\u{201D}".to_owned()),
                None,
                None
            ]
        );
    }
}
