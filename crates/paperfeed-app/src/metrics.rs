//! What the use cases count, as a small interface the application layer owns: the web's
//! Prometheus registry implements it, tests and one-shot commands use [`NoMetrics`], and no
//! background job needs the web crate to be counted.

use paperfeed_core::UpsertOutcome;

/// How a delivery failed, as the SMTP layer sorts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpFailure {
    /// 4xx replies, timeouts, broken connections: retried later.
    Temporary,
    /// 5xx replies: the address does not take mail.
    Permanent,
}

impl SmtpFailure {
    pub fn of(error: &paperfeed_mail::SendError) -> Self {
        match error {
            paperfeed_mail::SendError::Temporary(_) => Self::Temporary,
            paperfeed_mail::SendError::Permanent(_) => Self::Permanent,
        }
    }
}

/// Ingested records by outcome, for one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl IngestCounts {
    /// The tally of one stored batch's outcomes.
    pub fn of(outcomes: &[UpsertOutcome]) -> Self {
        let mut counts = Self::default();
        for outcome in outcomes {
            match outcome {
                UpsertOutcome::New => counts.new += 1,
                UpsertOutcome::Updated => counts.updated += 1,
                UpsertOutcome::Unchanged => counts.unchanged += 1,
            }
        }
        counts
    }
}

/// The counters use cases update. Cheap to call from any task.
pub trait Metrics: Send + Sync {
    /// Records ingested from `source` (`arxiv`, `oai`, `hf`, `submission`, …: a small fixed set).
    fn record_ingest(&self, source: &str, counts: IngestCounts);
    /// One failed delivery.
    fn record_smtp_failure(&self, kind: SmtpFailure);
}

/// Counts nothing: for commands that run once and tests that do not look.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn record_ingest(&self, _: &str, _: IngestCounts) {}
    fn record_smtp_failure(&self, _: SmtpFailure) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_tallied_by_outcome() {
        use UpsertOutcome::{New, Unchanged, Updated};
        let counts = IngestCounts::of(&[New, Updated, New, Unchanged]);
        assert_eq!(
            counts,
            IngestCounts {
                new: 2,
                updated: 1,
                unchanged: 1,
                rejected: 0
            }
        );
    }
}
