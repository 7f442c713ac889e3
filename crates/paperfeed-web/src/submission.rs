//! Submitting a paper from a page or the API: the hub's store, lookup and metrics handed to the
//! application layer's submission rules, and its answer in the web's terms.

use chrono::{DateTime, Utc};
use paperfeed_app::submit::{
    LOOKUP_RETRY_AFTER_SECS, Submissions, SubmitConfig, SubmitError, SubmitRefusal, Submitted,
};
use paperfeed_store::User;

use crate::error::{AppError, failed};
use crate::state::AppState;

/// Submits the paper `raw` names as `user` through the hub's store, lookup and metrics: the
/// featured paper, or the refusal to show the submitter; a failure (503 "try again" when
/// arXiv could not be asked, else 500) as the error.
pub async fn submit_paper(
    state: &AppState,
    user: &User,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Result<Submitted, SubmitRefusal>, AppError> {
    let submissions = Submissions {
        store: &*state.store,
        lookup: state.community.lookup.as_deref(),
        metrics: &*state.metrics,
        config: SubmitConfig {
            window_days: state.community.settings.submit_window_days,
        },
    };
    match submissions.submit_paper(user, raw, now).await {
        Ok(done) => Ok(Ok(done)),
        Err(SubmitError::Refused(refusal)) => Ok(Err(refusal)),
        Err(SubmitError::LookupUnavailable { id, .. }) => Err(AppError::Unavailable {
            message: SubmitError::retry_message(&id),
            retry_after_secs: LOOKUP_RETRY_AFTER_SECS,
        }),
        Err(error) => Err(failed(error)),
    }
}
