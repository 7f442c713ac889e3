//! What a reader tells their recommender: pause it, reset it, seed it from papers they choose,
//! and how much the social term, the recency window and exploration count. Kept in the store;
//! the next page load reads them, so each takes effect there.

use chrono::{DateTime, Utc};
use paperfeed_core::{ArxivId, Paper};
use paperfeed_store::{RecommenderSettings, SeedAdded, Store, UserId};

use super::RecommendError;

/// The most seed papers one reader keeps.
pub const MAX_SEEDS: usize = 100;
/// The controls of a reader who never changed them.
pub const DEFAULT_SOCIAL_WEIGHT: u8 = 10;
pub const DEFAULT_RECENCY_DAYS: u32 = 30;
pub const DEFAULT_EXPLORATION: u8 = 0;
/// The widest recency window, in days (ten years).
pub const MAX_RECENCY_DAYS: u32 = 3650;

/// A reader's controls as the page shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Controls {
    pub paused: bool,
    /// Percent (0–100).
    pub social_weight: u8,
    /// Days (1–[`MAX_RECENCY_DAYS`]).
    pub recency_days: u32,
    /// Percent (0–100).
    pub exploration: u8,
    /// The last reset: signals given before it are ignored.
    pub reset_at: Option<DateTime<Utc>>,
}

impl Default for Controls {
    fn default() -> Self {
        Self {
            paused: false,
            social_weight: DEFAULT_SOCIAL_WEIGHT,
            recency_days: DEFAULT_RECENCY_DAYS,
            exploration: DEFAULT_EXPLORATION,
            reset_at: None,
        }
    }
}

impl Controls {
    /// The controls `stored` holds (the defaults for a reader who never set any).
    pub fn of(stored: Option<&RecommenderSettings>) -> Self {
        stored.map_or_else(Self::default, |s| Self {
            paused: s.paused,
            social_weight: s.social_weight.min(100),
            recency_days: s.recency_days.clamp(1, MAX_RECENCY_DAYS),
            exploration: s.exploration.min(100),
            reset_at: s.reset_at,
        })
    }

    fn stored(self, now: DateTime<Utc>) -> RecommenderSettings {
        RecommenderSettings {
            paused: self.paused,
            social_weight: self.social_weight,
            recency_days: self.recency_days,
            exploration: self.exploration,
            reset_at: self.reset_at,
            updated_at: now,
        }
    }
}

/// New values for the weighed controls, as typed: each is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControlsChange {
    pub social_weight: Option<String>,
    pub recency_days: Option<String>,
    pub exploration: Option<String>,
}

fn number<T: std::str::FromStr + PartialOrd + Copy>(
    field: &'static str,
    text: &str,
    range: std::ops::RangeInclusive<T>,
    what: &'static str,
) -> Result<T, RecommendError> {
    text.trim()
        .parse::<T>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or(RecommendError::Invalid { field, what })
}

/// `user`'s controls (the defaults until they change one).
pub async fn controls(store: &dyn Store, user: UserId) -> Result<Controls, RecommendError> {
    Ok(Controls::of(
        store.recommender_settings(user).await?.as_ref(),
    ))
}

/// Sets the social weight, recency window and exploration that `change` gives (others stay).
pub async fn change_controls(
    store: &dyn Store,
    user: UserId,
    change: &ControlsChange,
    now: DateTime<Utc>,
) -> Result<Controls, RecommendError> {
    let mut controls = controls(store, user).await?;
    if let Some(text) = &change.social_weight {
        controls.social_weight = number(
            "social_weight",
            text,
            0..=100,
            "a whole number from 0 to 100",
        )?;
    }
    if let Some(text) = &change.recency_days {
        controls.recency_days = number(
            "recency_days",
            text,
            1..=MAX_RECENCY_DAYS,
            "a whole number of days from 1 to 3650",
        )?;
    }
    if let Some(text) = &change.exploration {
        controls.exploration =
            number("exploration", text, 0..=100, "a whole number from 0 to 100")?;
    }
    store
        .set_recommender_settings(user, &controls.stored(now))
        .await?;
    Ok(controls)
}

/// Pauses (`true`) or resumes the reader's recommendations.
pub async fn set_paused(
    store: &dyn Store,
    user: UserId,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<Controls, RecommendError> {
    let mut controls = controls(store, user).await?;
    controls.paused = paused;
    store
        .set_recommender_settings(user, &controls.stored(now))
        .await?;
    tracing::debug!(user.id = user.0, paused, "recommender paused or resumed");
    Ok(controls)
}

/// Starts the reader's recommender over: every signal given before `now` is ignored from the
/// next load on (their library, votes and follows stay as they are; only the recommender
/// forgets them), and their seeds are forgotten. The other controls stay.
pub async fn reset(
    store: &dyn Store,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Controls, RecommendError> {
    let mut controls = controls(store, user).await?;
    controls.reset_at = Some(now);
    store.reset_recommender(user, &controls.stored(now)).await?;
    tracing::info!(user.id = user.0, "recommender reset");
    Ok(controls)
}

/// Adds `paper` to the reader's seeds ("recommend from this"); false when it was one already.
pub async fn add_seed(
    store: &dyn Store,
    user: UserId,
    paper: &ArxivId,
    now: DateTime<Utc>,
) -> Result<bool, RecommendError> {
    match store.add_seed(user, paper, now, MAX_SEEDS).await? {
        SeedAdded::Added => Ok(true),
        SeedAdded::AlreadyThere => Ok(false),
        SeedAdded::NoSuchPaper => Err(RecommendError::NoSuchPaper(paper.clone())),
        SeedAdded::Full => Err(RecommendError::TooManySeeds),
    }
}

/// Takes a paper out of the reader's seeds; false when it was not one.
pub async fn remove_seed(
    store: &dyn Store,
    user: UserId,
    paper: &ArxivId,
) -> Result<bool, RecommendError> {
    Ok(store.remove_seed(user, paper).await?)
}

/// The reader's seed papers, newest first.
pub async fn seed_papers(store: &dyn Store, user: UserId) -> Result<Vec<Paper>, RecommendError> {
    let ids: Vec<ArxivId> = store
        .seeds(user)
        .await?
        .into_iter()
        .map(|s| s.paper)
        .collect();
    Ok(store.get_papers(&ids).await?)
}
