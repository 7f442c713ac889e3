//! `GET /api/suggest?q=`: titles, authors and categories for what is typed in the search box,
//! for the search box's suggestions while typing (`assets/suggest.js`).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use paperfeed_app::suggest::{DEFAULT_SUGGESTIONS, MAX_TYPED_CHARS, SuggestError};
use paperfeed_search::{MAX_SUGGESTIONS, Suggestion};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::error::{ApiError, ApiQuery, ErrorJson};
use crate::api::params;
use crate::community::rate_limit::Action;
use crate::state::AppState;
use crate::views::{author_href, category_href};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// What is typed so far, up to 200 characters. `author:` or `category:` before it asks for
    /// authors or categories only. Blank or absent suggests nothing.
    #[param(value_type = Option<String>, max_length = 200, example = "attention is")]
    q: Option<String>,
    /// Suggestions, 1 to 10 (default 8).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10)]
    limit: Option<String>,
}

/// The suggestions for a text.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuggestionsJson {
    /// The text suggestions were made for.
    #[schema(example = "attention is")]
    query: String,
    /// Categories first, then authors, then titles; best first within each.
    suggestions: Vec<SuggestionJson>,
}

/// One suggestion.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuggestionJson {
    /// `title`, `author` or `category`.
    #[schema(example = "title")]
    kind: &'static str,
    /// What to show: the paper's title, the author's name, the category.
    #[schema(example = "Attention Is All You Need")]
    label: String,
    /// The page on this hub that choosing it opens: the paper's, the author's, the category's.
    #[schema(example = "/papers/1706.03762")]
    url: String,
    /// The paper's arXiv id (titles).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "1706.03762")]
    id: Option<String>,
    /// How many papers on this hub are by the author or in the category (authors, categories).
    #[serde(skip_serializing_if = "Option::is_none")]
    papers: Option<u32>,
}

impl SuggestionJson {
    fn new(suggestion: Suggestion) -> Self {
        match suggestion {
            Suggestion::Title { id, title } => Self {
                kind: "title",
                url: format!("/papers/{id}"),
                label: title,
                id: Some(id.to_string()),
                papers: None,
            },
            Suggestion::Author { key, name, papers } => Self {
                kind: "author",
                url: author_href(&key),
                label: name,
                id: None,
                papers: Some(papers),
            },
            Suggestion::Category { name, papers } => Self {
                kind: "category",
                url: category_href(&name),
                label: name,
                id: None,
                papers: Some(papers),
            },
        }
    }
}

/// Suggestions while typing: papers by title, authors and categories whose words start with
/// the text (a title from any word but stop words, an author from any part of the name, a
/// category from its start), from an in-memory index of what is indexed so far.
#[utoipa::path(
    get,
    path = "/api/suggest",
    tag = "papers",
    params(SuggestParams),
    responses(
        (status = 200, description = "Suggestions, possibly none", body = SuggestionsJson,
            headers(("cache-control" = String, description = "Kept a minute"))),
        (status = 400, description = "A parameter is malformed or `q` is too long; `parameter` names it", body = ErrorJson),
        (status = 429, description = "Too many requests from this address", body = ErrorJson,
            headers(("retry-after" = String, description = "Seconds to wait"))),
    )
)]
pub async fn suggest(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    ApiQuery(params): ApiQuery<SuggestParams>,
) -> Result<Response, ApiError> {
    let limit = params::limit_within(&params.limit, DEFAULT_SUGGESTIONS, MAX_SUGGESTIONS)?;
    state
        .community
        .limit_client(Action::Suggest, &headers, &extensions)?;
    let typed = params.q.unwrap_or_default();
    let found =
        paperfeed_app::suggest::suggest(&state.search, &typed, limit).map_err(|e| match e {
            SuggestError::TooLong => ApiError::bad_parameter(
                "q",
                format!(
                    "q is {} characters long; suggestions are made for up to {MAX_TYPED_CHARS}",
                    typed.chars().count()
                ),
            ),
            SuggestError::BadLimit => ApiError::bad_parameter("limit", e.to_string()),
        })?;
    let body = SuggestionsJson {
        query: typed,
        suggestions: found.into_iter().map(SuggestionJson::new).collect(),
    };
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(body)).into_response())
}
