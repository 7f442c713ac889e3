//! What pages share about recommended papers (`paperfeed_app::recommend`): a card like the
//! daily page's with the reader's controls, the reasons it was picked (each linking to what it
//! names) and the terms of its score.

use paperfeed_app::recommend::{Because, ForYouItem};
use paperfeed_core::AuthorKey;

use crate::community::auth::Viewer;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{CardView, Link, author_href, category_href, organization_href};

/// One recommended paper as a page lists it.
pub struct PickCard {
    pub card: CardView,
    pub reasons: Vec<Link>,
    /// `relevance 1.52 · social 0.10 × 0.80 · recency 0.25 × 0.91`.
    pub terms: String,
}

/// Where a reason links: the paper, author, organisation, category or saved searches it names.
pub fn reason_link(reason: &Because) -> Link {
    let href = match reason {
        Because::Paper { id, .. } => format!("/papers/{id}"),
        Because::Author { key, .. } => {
            AuthorKey::from_name(key).map_or_else(|| "/following".to_owned(), |k| author_href(&k))
        }
        Because::Topic { kind, name, .. } if kind == "organization" => organization_href(name),
        Because::Topic { name, .. } => category_href(name),
        Because::Search { .. } => "/account/searches".to_owned(),
    };
    Link::new(
        href,
        format!("{reason} (similarity {:.2})", reason.similarity()),
    )
}

fn card_of(item: &ForYouItem) -> CardView {
    let day = item
        .paper
        .first_featured()
        .or_else(|| item.paper.published_at.map(|t| t.date_naive()))
        .unwrap_or_default();
    CardView::new(&item.paper, day, true)
}

fn pick(card: CardView, item: &ForYouItem) -> PickCard {
    PickCard {
        card,
        reasons: item.reasons.iter().map(reason_link).collect(),
        terms: item.terms.to_string(),
    }
}

/// Cards for `items`, as anyone sees them.
pub fn plain_cards(items: &[ForYouItem]) -> Vec<PickCard> {
    items.iter().map(|item| pick(card_of(item), item)).collect()
}

/// Cards for `items` with a signed-in reader's controls: "Not interested", "Recommend from
/// this" and Save, posting back to `back`.
pub async fn pick_cards(
    state: &AppState,
    viewer: &Viewer,
    items: &[ForYouItem],
    back: &str,
) -> Result<Vec<PickCard>, AppError> {
    let mut cards: Vec<CardView> = items.iter().map(card_of).collect();
    for card in &mut cards {
        crate::personal::personalise(card, viewer, back, None);
    }
    crate::saved::add_save_buttons(state, viewer, &mut cards, back).await?;
    Ok(cards
        .into_iter()
        .zip(items)
        .map(|(card, item)| pick(card, item))
        .collect())
}
