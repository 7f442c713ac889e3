//! Paper thumbnails on cards and at `/thumbnails/{id}.png`: the first page of the PDF as
//! `paperfeed thumbnails` rendered it, kept in the store (`ThumbnailStore`). A card whose paper
//! has none shows a blank sheet instead (card.html), so nothing is ever fetched from elsewhere.
//!
//! A thumbnail's address carries its version (`?v=` its making time), so browsers may keep it
//! for a year: a new rendering has a new address.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use paperfeed_core::ArxivId;

use crate::error::AppError;
use crate::state::AppState;
use crate::views::CardView;

/// The address of a paper's thumbnail made at `version` (seconds).
pub fn thumbnail_href(id: &ArxivId, version: i64) -> String {
    format!("/thumbnails/{id}.png?v={version}")
}

/// Gives the cards whose papers have a thumbnail its address, in one read.
pub async fn add_thumbnails(state: &AppState, cards: &mut [CardView]) -> Result<(), AppError> {
    let ids: Vec<ArxivId> = cards
        .iter()
        .filter_map(|c| ArxivId::parse(&c.id).ok())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let versions = state.store.thumbnail_versions(&ids).await?;
    for card in cards.iter_mut() {
        if let Some(v) = versions.iter().find(|v| v.paper.as_str() == card.id) {
            card.thumbnail = Some(thumbnail_href(&v.paper, v.made_at.timestamp()));
        }
    }
    Ok(())
}

#[derive(serde::Deserialize, Default)]
pub struct ThumbnailQuery {
    #[serde(default)]
    v: String,
}

/// `GET /thumbnails/{id}.png`: the PNG, or 404 when the paper has none.
pub async fn show_thumbnail(
    State(state): State<AppState>,
    Path(file): Path<String>,
    query: Result<Query<ThumbnailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let not_found = || {
        AppError::not_found(
            "No thumbnail",
            "This paper has no thumbnail: `paperfeed thumbnails` makes them from the PDFs.",
        )
    };
    let id = file
        .strip_suffix(".png")
        .and_then(|id| ArxivId::parse(id).ok())
        .ok_or_else(not_found)?;
    let thumbnail = state.store.thumbnail(&id).await?.ok_or_else(not_found)?;
    let asked = query.map(|q| q.0.v).unwrap_or_default();
    // The address names this version: kept for a year. Any other (an old version, none):
    // briefly, so a new rendering shows soon.
    let cache = if asked == thumbnail.made_at.timestamp().to_string() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let mut response = thumbnail.image.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
