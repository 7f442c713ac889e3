//! Submitting a paper to today's daily feed: the rules the page and the API share. A paper is
//! featured from the store, or else from a [`PaperLookup`] (arXiv), when it is not featured
//! yet and was published within the submission window.

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use paperfeed_core::{ArxivId, Featuring, NewPaper, Paper, Submitter, UpsertOutcome};
use paperfeed_store::{Store, StoreError, User, WriteMode};

use crate::metrics::{IngestCounts, Metrics};

/// Why a lookup could not answer, with its cause.
pub type LookupError = Box<dyn std::error::Error + Send + Sync>;

/// Finds a paper that is not in the store yet (the arXiv API client implements it).
#[async_trait]
pub trait PaperLookup: Send + Sync {
    /// The paper's metadata, `Ok(None)` when arXiv has no such paper, `Err` with the cause
    /// (for the log) when arXiv could not be asked or gave no usable answer. Called on the
    /// request path: [`Submissions::submit_paper`] gives up after [`LOOKUP_DEADLINE`], so an
    /// implementation should not retry for longer.
    async fn lookup(&self, id: &ArxivId) -> Result<Option<NewPaper>, LookupError>;
}

/// How long a submission waits for the lookup of a paper the store lacks. A person or a script
/// is waiting on the answer: past this, arXiv counts as unreachable (503 with `Retry-After`)
/// and nothing is stored.
pub const LOOKUP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// When to try again after arXiv could not be asked: its API asks clients to keep a few
/// seconds apart and recovers from most outages within a minute.
pub const LOOKUP_RETRY_AFTER_SECS: u64 = 30;

/// What the hub configures about submissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmitConfig {
    /// A paper can be submitted up to this many days after its arXiv publication.
    pub window_days: i64,
}

impl Default for SubmitConfig {
    fn default() -> Self {
        Self { window_days: 14 }
    }
}

/// Why a submission was not featured: the submitter's input, each answered with a 4xx and a
/// message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitRefusal {
    /// The text is no arXiv id or URL.
    Invalid(String),
    /// Already on the daily feed: where.
    AlreadyFeatured { id: ArxivId, day: NaiveDate },
    /// Published longer ago than the window.
    TooOld { id: ArxivId, days: i64, window: i64 },
    /// Neither in the store nor found by the lookup (or no lookup configured).
    NotFound { id: ArxivId, reason: String },
}

impl SubmitRefusal {
    pub fn message(&self) -> String {
        match self {
            SubmitRefusal::Invalid(reason) => format!("arxivId: {reason}"),
            SubmitRefusal::AlreadyFeatured { id, day } => format!(
                "Paper {id} is already on the daily feed (featured on {day}): thank you all the \
                 same! It is at /papers/{id}."
            ),
            SubmitRefusal::TooOld { id, days, window } => format!(
                "Paper {id} was published {days} days ago; papers can be submitted up to \
                 {window} days after their arXiv publication."
            ),
            SubmitRefusal::NotFound { reason, .. } => reason.clone(),
        }
    }
}

impl std::fmt::Display for SubmitRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why a submission did not go through: refused (the input) or failed (we, or arXiv).
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The submitter's input was refused; nothing was stored.
    #[error("{0}")]
    Refused(SubmitRefusal),
    /// The paper is not in the store and arXiv could not be asked in time; nothing was
    /// stored. Try again after [`LOOKUP_RETRY_AFTER_SECS`].
    #[error("paper {id} is not on this hub yet and arXiv could not be asked")]
    LookupUnavailable {
        id: ArxivId,
        #[source]
        source: LookupError,
    },
    /// The store failed.
    #[error("submitting paper {id}")]
    Store {
        id: ArxivId,
        #[source]
        source: StoreError,
    },
    /// The paper was featured and is gone when read back.
    #[error("submitted paper {id} vanished")]
    Vanished { id: ArxivId },
}

impl SubmitError {
    /// For [`SubmitError::LookupUnavailable`]: what to tell the submitter (safe to show), who
    /// should try again after [`LOOKUP_RETRY_AFTER_SECS`].
    pub fn retry_message(id: &ArxivId) -> String {
        format!(
            "Paper {id} is not on this hub yet and arXiv could not be asked just now; nothing \
             was changed. Please submit it again in {LOOKUP_RETRY_AFTER_SECS} seconds."
        )
    }
}

/// The lookup timed out.
#[derive(Debug, thiserror::Error)]
#[error("no answer within {} s", LOOKUP_DEADLINE.as_secs())]
pub struct LookupTimedOut;

/// The outcome of a submission that went through.
#[derive(Debug)]
pub struct Submitted {
    pub paper: Paper,
    pub day: NaiveDate,
}

/// What a submission talks to: the store, the lookup (`None`: no arXiv lookup configured), the
/// metrics, and its config.
#[derive(Clone, Copy)]
pub struct Submissions<'a> {
    pub store: &'a dyn Store,
    pub lookup: Option<&'a dyn PaperLookup>,
    pub metrics: &'a dyn Metrics,
    pub config: SubmitConfig,
}

impl Submissions<'_> {
    /// Features the paper `raw` names (an arXiv id or URL) on `now`'s day with `user` as its
    /// submitter: from the store, else from the lookup.
    pub async fn submit_paper(
        &self,
        user: &User,
        raw: &str,
        now: DateTime<Utc>,
    ) -> Result<Submitted, SubmitError> {
        let id = ArxivId::parse(raw.trim())
            .map_err(|e| SubmitError::Refused(SubmitRefusal::Invalid(e.to_string())))?;
        let store_failed = |source| SubmitError::Store {
            id: id.clone(),
            source,
        };
        let refused = |refusal| Err(SubmitError::Refused(refusal));
        let today = now.date_naive();
        let featuring = Featuring {
            date: today,
            submitter: Some(Submitter {
                name: user.username.to_string(),
                fullname: None,
            }),
        };
        let stored = self.store.get_paper(&id).await.map_err(store_failed)?;
        let (published, from_lookup) = match &stored {
            Some(paper) => {
                if let Some(first) = paper.featured.first() {
                    return refused(SubmitRefusal::AlreadyFeatured {
                        id,
                        day: first.date,
                    });
                }
                (paper.published_at, None)
            }
            None => {
                let Some(lookup) = self.lookup else {
                    return refused(SubmitRefusal::NotFound {
                        reason: format!(
                            "Paper {id} is not in this hub's store yet, and this hub has no \
                             arXiv lookup configured: it can be submitted once it has been \
                             ingested."
                        ),
                        id,
                    });
                };
                let found = match tokio::time::timeout(LOOKUP_DEADLINE, lookup.lookup(&id)).await {
                    Ok(Ok(found)) => found,
                    Ok(Err(source)) => return Err(arxiv_unreachable(id, source)),
                    Err(_) => return Err(arxiv_unreachable(id, Box::new(LookupTimedOut))),
                };
                let Some(found) = found else {
                    return refused(SubmitRefusal::NotFound {
                        reason: format!("arXiv has no paper {id}."),
                        id,
                    });
                };
                (found.published_at, Some(found))
            }
        };
        let window = self.config.window_days;
        if let Some(published) = published {
            let days = (now - published).num_days();
            if now - published > Duration::days(window) {
                return refused(SubmitRefusal::TooOld { id, days, window });
            }
        }
        match from_lookup {
            Some(mut found) => {
                found.featured = Some(featuring);
                let outcomes = self
                    .store
                    .upsert_papers(vec![found], WriteMode::Commit)
                    .await
                    .map_err(store_failed)?;
                self.metrics
                    .record_ingest("submission", IngestCounts::of(&outcomes));
            }
            None => {
                self.store
                    .feature_paper(&id, featuring)
                    .await
                    .map_err(store_failed)?;
                // A paper already stored, now on the daily feed: an update of its record.
                self.metrics
                    .record_ingest("submission", IngestCounts::of(&[UpsertOutcome::Updated]));
            }
        }
        let paper = self
            .store
            .get_paper(&id)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| SubmitError::Vanished { id: id.clone() })?;
        tracing::info!(user.id = user.id.0, paper.id = %id, "paper submitted to today's feed");
        Ok(Submitted { paper, day: today })
    }
}

/// The answer to a submission whose lookup failed: not "unknown to arXiv", which nobody
/// knows, but "try again", with nothing stored.
fn arxiv_unreachable(id: ArxivId, source: LookupError) -> SubmitError {
    tracing::warn!(paper.id = %id, reason = %source, "arXiv lookup for a submission failed");
    SubmitError::LookupUnavailable { id, source }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeZone as _;
    use paperfeed_store::SqliteStore;

    use super::*;
    use crate::test_support::{sqlite_store, user};

    /// Stands for arXiv: knows one paper, or fails, or never answers.
    enum FixedLookup {
        Knows(Box<NewPaper>),
        Fails,
        Hangs,
    }

    #[async_trait]
    impl PaperLookup for FixedLookup {
        async fn lookup(&self, id: &ArxivId) -> Result<Option<NewPaper>, LookupError> {
            match self {
                FixedLookup::Knows(paper) if paper.id == *id => Ok(Some((**paper).clone())),
                FixedLookup::Knows(_) => Ok(None),
                FixedLookup::Fails => Err("arXiv answered 503".into()),
                FixedLookup::Hangs => std::future::pending().await,
            }
        }
    }

    /// Counts what a submission records.
    #[derive(Default)]
    struct Counted(Mutex<Vec<(String, IngestCounts)>>);

    impl Metrics for Counted {
        fn record_ingest(&self, source: &str, counts: IngestCounts) {
            self.0.lock().unwrap().push((source.to_owned(), counts));
        }
        fn record_smtp_failure(&self, _: crate::metrics::SmtpFailure) {}
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 20, 12, 0, 0).unwrap()
    }

    fn paper(id: &str, published_days_ago: i64) -> NewPaper {
        let mut paper = crate::test_support::paper(id, &format!("Paper {id}"), "An abstract.");
        paper.published_at = Some(now() - Duration::days(published_days_ago));
        paper
    }

    struct Hub {
        _dir: tempfile::TempDir,
        store: SqliteStore,
        user: User,
        metrics: Counted,
    }

    async fn hub() -> Hub {
        let (dir, store) = sqlite_store().await;
        let user = user(&store, "ada", false).await;
        Hub {
            _dir: dir,
            store,
            user,
            metrics: Counted::default(),
        }
    }

    impl Hub {
        fn submissions<'a>(&'a self, lookup: Option<&'a dyn PaperLookup>) -> Submissions<'a> {
            Submissions {
                store: &self.store,
                lookup,
                metrics: &self.metrics,
                config: SubmitConfig::default(),
            }
        }

        async fn submit(
            &self,
            lookup: Option<&dyn PaperLookup>,
            raw: &str,
        ) -> Result<Submitted, SubmitError> {
            self.submissions(lookup)
                .submit_paper(&self.user, raw, now())
                .await
        }
    }

    fn refusal(result: Result<Submitted, SubmitError>) -> SubmitRefusal {
        match result {
            Err(SubmitError::Refused(refusal)) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stored_paper_is_featured_today_with_its_submitter_once() {
        let hub = hub().await;
        hub.store
            .upsert_papers(vec![paper("2605.00001", 3)], WriteMode::Commit)
            .await
            .unwrap();
        let done = hub
            .submit(None, "https://arxiv.org/abs/2605.00001v2")
            .await
            .unwrap();
        assert_eq!(done.day, now().date_naive());
        assert_eq!(done.paper.featured.len(), 1);
        let featured = &done.paper.featured[0];
        assert_eq!(featured.date, now().date_naive());
        assert_eq!(
            featured.submitter.as_ref().map(|s| s.name.as_str()),
            Some("ada")
        );
        let counted = hub.metrics.0.lock().unwrap().clone();
        assert_eq!(counted.len(), 1);
        assert_eq!(counted[0].0, "submission");
        assert_eq!(counted[0].1.updated, 1);

        let again = refusal(hub.submit(None, "2605.00001").await);
        assert_eq!(
            again,
            SubmitRefusal::AlreadyFeatured {
                id: ArxivId::parse("2605.00001").unwrap(),
                day: now().date_naive()
            }
        );
        assert!(again.message().contains("already on the daily feed"));
    }

    #[tokio::test]
    async fn a_paper_the_store_lacks_is_looked_up_and_stored() {
        let hub = hub().await;
        let arxiv = FixedLookup::Knows(Box::new(paper("2605.00002", 1)));
        let done = hub.submit(Some(&arxiv), "2605.00002").await.unwrap();
        assert_eq!(done.paper.title, "Paper 2605.00002");
        let stored = hub.store.get_paper(&done.paper.id).await.unwrap().unwrap();
        assert_eq!(stored.featured.len(), 1);
        assert_eq!(hub.metrics.0.lock().unwrap()[0].1.new, 1);

        let unknown = refusal(hub.submit(Some(&arxiv), "2605.00003").await);
        assert_eq!(unknown.message(), "arXiv has no paper 2605.00003.");
    }

    #[tokio::test]
    async fn input_is_refused_with_the_reason_and_nothing_stored() {
        let hub = hub().await;
        assert!(matches!(
            refusal(hub.submit(None, "not an id").await),
            SubmitRefusal::Invalid(_)
        ));
        let no_lookup = refusal(hub.submit(None, "2605.00004").await);
        assert!(
            no_lookup.message().contains("no arXiv lookup configured"),
            "{no_lookup}"
        );
        let arxiv = FixedLookup::Knows(Box::new(paper("2605.00005", 30)));
        let old = refusal(hub.submit(Some(&arxiv), "2605.00005").await);
        assert_eq!(
            old.message(),
            "Paper 2605.00005 was published 30 days ago; papers can be submitted up to 14 \
             days after their arXiv publication."
        );
        let id = ArxivId::parse("2605.00005").unwrap();
        assert!(hub.store.get_paper(&id).await.unwrap().is_none());
        assert!(hub.metrics.0.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn arxiv_unreachable_is_a_failure_to_retry_with_its_cause() {
        let hub = hub().await;
        let failed = hub.submit(Some(&FixedLookup::Fails), "2605.00006").await;
        let Err(error) = failed else {
            panic!("expected a failure, got {failed:?}")
        };
        assert!(
            matches!(&error, SubmitError::LookupUnavailable { id, .. } if id.as_str() == "2605.00006"),
            "{error:?}"
        );
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("arXiv answered 503"));

        let hung = hub.submit(Some(&FixedLookup::Hangs), "2605.00006").await;
        assert!(
            matches!(&hung, Err(SubmitError::LookupUnavailable { source, .. })
                if source.to_string() == "no answer within 5 s"),
            "{hung:?}"
        );
        let id = ArxivId::parse("2605.00006").unwrap();
        assert!(hub.store.get_paper(&id).await.unwrap().is_none());
    }
}
