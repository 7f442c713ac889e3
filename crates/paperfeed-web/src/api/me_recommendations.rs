//! The caller's recommendations through the API, with `Authorization: Bearer`:
//! `GET /api/me/recommendations?limit=N` — the same picks as `/for-you`, each paper in the
//! API's usual shape with the reasons it was picked and the terms of its score.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use paperfeed_app::recommend::{
    self, Because, Controls, DEFAULT_PICKS, ForYou, ForYouItem, MAX_PICKS, ScoreTerms, Weighted,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::community::caller;
use crate::api::error::{ApiError, ApiQuery, ErrorJson};
use crate::api::json::PaperJson;
use crate::error::failed;
use crate::state::AppState;

/// A number for JSON: never NaN or infinite (JSON has no such numbers).
fn finite(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
}

/// Why a paper was picked: one of the caller's signals it resembles.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReasonJson {
    /// `seed`, `saved`, `in_collection`, `upvoted`, `opened`, `followed_author`,
    /// `followed_topic` or `saved_search`.
    #[schema(example = "saved")]
    kind: String,
    /// The reason in words.
    #[schema(example = "because you saved “Attention Is All You Need”")]
    text: String,
    /// How close the pick is to it (cosine similarity, -1 to 1).
    similarity: f32,
    /// The paper it names, for paper signals.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "1706.03762")]
    paper_id: Option<String>,
    /// The saved search it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    search_id: Option<i64>,
}

impl ReasonJson {
    fn new(reason: &Because) -> Self {
        let (paper_id, search_id) = match reason {
            Because::Paper { id, .. } => (Some(id.to_string()), None),
            Because::Search { id, .. } => (None, Some(*id)),
            _ => (None, None),
        };
        Self {
            kind: reason.kind().to_owned(),
            text: reason.to_string(),
            similarity: finite(reason.similarity()),
            paper_id,
            search_id,
        }
    }
}

/// A weighted term of the score: `weight × value` was added.
#[derive(Serialize, ToSchema)]
pub struct WeightedJson {
    value: f32,
    weight: f32,
}

impl WeightedJson {
    fn new(w: Weighted) -> Self {
        Self {
            value: finite(w.value),
            weight: finite(w.weight),
        }
    }
}

/// The terms of a pick's score.
#[derive(Serialize, ToSchema)]
pub struct ScoreJson {
    /// The score the order follows (before diversity).
    total: f32,
    /// The model's relevance, in standard deviations over the candidates.
    relevance: f32,
    /// Popularity (log upvotes, standardised) and the caller's social weight.
    social: WeightedJson,
    /// How recent (1 for the newest day, halving over the window) and its weight.
    recency: WeightedJson,
    /// Noise the caller's exploration added.
    exploration: f32,
}

impl ScoreJson {
    fn new(t: &ScoreTerms) -> Self {
        Self {
            total: finite(t.score),
            relevance: finite(t.relevance),
            social: WeightedJson::new(t.social),
            recency: WeightedJson::new(t.recency),
            exploration: finite(t.exploration),
        }
    }
}

/// One recommended paper.
#[derive(Serialize, ToSchema)]
pub struct RecommendationJson {
    paper: PaperJson,
    /// The caller's signals it is nearest to, closest first.
    reasons: Vec<ReasonJson>,
    score: ScoreJson,
}

impl RecommendationJson {
    fn new(item: &ForYouItem) -> Self {
        Self {
            paper: PaperJson::new(&item.paper),
            reasons: item.reasons.iter().map(ReasonJson::new).collect(),
            score: ScoreJson::new(&item.terms),
        }
    }
}

/// The caller's controls, as `/for-you` sets them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControlsJson {
    paused: bool,
    /// Percent, 0 to 100.
    social_weight: u8,
    /// Days.
    recency_days: u32,
    /// Percent, 0 to 100.
    exploration: u8,
    /// The last reset (RFC 3339): signals before it are ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    reset_at: Option<String>,
    /// Picks the caller's digest mail carries (1 to 10, set on `/for-you`); `null`: none.
    #[schema(example = 5)]
    digest_picks: Option<u8>,
}

impl ControlsJson {
    fn new(c: &Controls, digest_picks: Option<u8>) -> Self {
        Self {
            paused: c.paused,
            social_weight: c.social_weight,
            recency_days: c.recency_days,
            exploration: c.exploration,
            reset_at: c.reset_at.map(|at| at.to_rfc3339()),
            digest_picks,
        }
    }
}

/// The caller's recommendations.
#[derive(Serialize, ToSchema)]
pub struct RecommendationsJson {
    /// `picks`; or why there are none: `paused`, `cold_start` (no signal yet: seed, save,
    /// follow or save a search), `warming` (the hub just started).
    #[schema(example = "picks")]
    state: String,
    items: Vec<RecommendationJson>,
    controls: ControlsJson,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationsParams {
    /// Papers to return, 1 to 100 (default 20).
    limit: Option<String>,
}

/// `limit` as the document's pattern states it: 1 to 100, digits only, no leading zero.
fn limit_of(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_PICKS);
    };
    text.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| text.parse::<usize>().ok())
        .flatten()
        .filter(|n| (1..=MAX_PICKS).contains(n) && !text.starts_with('0'))
        .ok_or_else(|| {
            ApiError::bad_parameter("limit", "limit must be a whole number from 1 to 100")
        })
}

/// The caller's recommendations: up to `limit` papers picked from their signals, each with
/// why, as on `/for-you`.
#[utoipa::path(
    get,
    path = "/api/me/recommendations",
    tag = "me",
    params(RecommendationsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's picks (empty with the reason in `state`)", body = RecommendationsJson),
        (status = 400, description = "`limit` is malformed", body = ErrorJson),
        (status = 401, description = "No valid API token", body = ErrorJson),
    )
)]
pub async fn get_recommendations(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<RecommendationsParams>,
) -> Result<Json<RecommendationsJson>, ApiError> {
    let user = caller(&state, &headers).await?;
    let limit = limit_of(params.limit.as_deref())?;
    let page = state
        .recommender
        .for_you(&*state.store, user.id, limit)
        .await
        .map_err(|e| ApiError::from(failed(e)))?;
    let digest_picks = recommend::digest_picks(&*state.store, user.id)
        .await
        .map_err(|e| ApiError::from(failed(e)))?;
    let (name, items) = match &page.result {
        ForYou::Paused => ("paused", Vec::new()),
        ForYou::ColdStart => ("cold_start", Vec::new()),
        ForYou::Warming => ("warming", Vec::new()),
        ForYou::Picks(items) => ("picks", items.iter().map(RecommendationJson::new).collect()),
    };
    Ok(Json(RecommendationsJson {
        state: name.to_owned(),
        items,
        controls: ControlsJson::new(&page.controls, digest_picks),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_read_as_the_document_states_it() {
        assert_eq!(limit_of(None).unwrap(), DEFAULT_PICKS);
        for ok in ["1", "20", "99", "100"] {
            assert!(limit_of(Some(ok)).is_ok(), "{ok}");
        }
        for bad in ["0", "101", "05", "+5", " 5", "", "-1", "1e2", "twenty"] {
            assert!(limit_of(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
