//! What pages share about the reader's library: the Save button on cards and paper pages (a
//! POST form with the session's CSRF token, answered with a redirect back, so it works
//! without JavaScript), and the paper page's library box (save, reading state, collections).

use paperfeed_core::{ArxivId, ReadingState};

use crate::community::auth::Viewer;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::CardView;
pub use crate::views::SaveButton;

/// One of the reader's collections, in the paper page's select.
pub struct CollectionOption {
    pub id: i64,
    pub name: String,
    /// The paper is in it already.
    pub holds: bool,
}

/// The paper page's library box for a logged-in reader.
pub struct PaperLibrary {
    pub save: SaveButton,
    /// The reading state when saved.
    pub state: Option<ReadingState>,
    pub collections: Vec<CollectionOption>,
}

/// The library box of paper `id` for the viewer; `None` when logged out.
pub async fn paper_library(
    state: &AppState,
    viewer: &Viewer,
    id: &ArxivId,
) -> Result<Option<PaperLibrary>, AppError> {
    let Some(session) = viewer.0.as_ref() else {
        return Ok(None);
    };
    let user = session.user.id;
    let saved = state.store.saved_paper(user, id).await?;
    let holding = state.store.collections_with_paper(user, id).await?;
    let collections = state
        .store
        .collections(user)
        .await?
        .into_iter()
        .map(|c| CollectionOption {
            holds: holding.contains(&c.id),
            id: c.id,
            name: c.name,
        })
        .collect();
    Ok(Some(PaperLibrary {
        save: SaveButton {
            csrf: session.csrf_token.clone(),
            paper: id.to_string(),
            saved: saved.is_some(),
            next: format!("/papers/{id}"),
        },
        state: saved.map(|s| s.state),
        collections,
    }))
}

/// Gives each card a Save button for a logged-in viewer (one store read for the whole list),
/// coming back to `next`.
pub async fn add_save_buttons(
    state: &AppState,
    viewer: &Viewer,
    cards: &mut [CardView],
    next: &str,
) -> Result<(), AppError> {
    let Some(session) = viewer.0.as_ref() else {
        return Ok(());
    };
    let ids: Vec<ArxivId> = cards
        .iter()
        .filter_map(|c| ArxivId::parse(&c.id).ok())
        .collect();
    let saved = state.store.saved_among(session.user.id, &ids).await?;
    for card in cards {
        card.save = Some(SaveButton {
            csrf: session.csrf_token.clone(),
            saved: saved.iter().any(|s| s.as_str() == card.id),
            paper: card.id.clone(),
            next: next.to_owned(),
        });
    }
    Ok(())
}

/// A collection's address: `/collections/12-reading-group`.
pub fn collection_href(c: &paperfeed_store::Collection) -> String {
    let tail = paperfeed_core::library::slug(&c.name);
    if tail.is_empty() {
        format!("/collections/{}", c.id)
    } else {
        format!("/collections/{}-{tail}", c.id)
    }
}
