//! Why a paper was picked, in the reader's terms: the signals of theirs it is nearest to
//! ("because you saved …", "author you follow: …", "matches your search …") and the terms of
//! its score with their weights (relevance, social, recency, exploration).

use std::collections::HashMap;
use std::fmt;

use paperfeed_core::{ArxivId, AuthorKey, Paper};
use paperfeed_search::recommend::{Nearest, Pick, SignalKind, Source};

/// One signal of the reader's a pick resembles.
#[derive(Clone, Debug, PartialEq)]
pub enum Because {
    /// Close to a paper they gave a signal on.
    Paper {
        kind: SignalKind,
        id: ArxivId,
        title: String,
        similarity: f32,
    },
    /// By an author they follow (the name as this paper lists it).
    Author {
        key: String,
        name: String,
        similarity: f32,
    },
    /// Close to the papers of an organisation or category they follow.
    Topic {
        /// `organization` or `category`.
        kind: String,
        name: String,
        similarity: f32,
    },
    /// Matches one of their saved searches.
    Search {
        id: i64,
        name: String,
        similarity: f32,
    },
}

impl Because {
    pub fn similarity(&self) -> f32 {
        match self {
            Because::Paper { similarity, .. }
            | Because::Author { similarity, .. }
            | Because::Topic { similarity, .. }
            | Because::Search { similarity, .. } => *similarity,
        }
    }

    /// A short name of the kind of signal, as the API spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Because::Paper { kind, .. } => kind.as_str(),
            Because::Author { .. } => "followed_author",
            Because::Topic { .. } => "followed_topic",
            Because::Search { .. } => "saved_search",
        }
    }
}

impl fmt::Display for Because {
    /// `because you saved “Title”`, `author you follow: Zoë Müller`, … (escaped where shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Because::Paper { kind, title, .. } => {
                let did = match kind {
                    SignalKind::Seed => "you asked for papers like",
                    SignalKind::Saved => "you saved",
                    SignalKind::InCollection => "you collected",
                    SignalKind::Upvoted => "you upvoted",
                    SignalKind::Opened => "you opened",
                    // Not a positive: never named as a reason; kept total.
                    _ => "of",
                };
                write!(f, "because {did} \u{201C}{title}\u{201D}")
            }
            Because::Author { name, .. } => write!(f, "author you follow: {name}"),
            Because::Topic { kind, name, .. } => {
                let kind = if kind == "organization" {
                    "organisation"
                } else {
                    kind.as_str()
                };
                write!(f, "close to the {kind} you follow: {name}")
            }
            Because::Search { name, .. } => {
                write!(f, "matches your search \u{201C}{name}\u{201D}")
            }
        }
    }
}

/// A weighted term of the score: `weight × value` was added.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weighted {
    pub value: f32,
    pub weight: f32,
}

/// The terms of a pick's score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreTerms {
    pub score: f32,
    /// The model's relevance, in standard deviations over the candidates.
    pub relevance: f32,
    /// Popularity (log upvotes, standardised) and the reader's social weight.
    pub social: Weighted,
    /// How recent (1 today, halving over the window) and its weight.
    pub recency: Weighted,
    /// Seeded noise the reader's exploration added.
    pub exploration: f32,
}

impl fmt::Display for ScoreTerms {
    /// `relevance 1.52 · social 0.10 × 0.80 · recency 0.25 × 0.91`, and exploration when used.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "relevance {:.2} \u{B7} social {:.2} \u{D7} {:.2} \u{B7} recency {:.2} \u{D7} {:.2}",
            self.relevance,
            self.social.weight,
            self.social.value,
            self.recency.weight,
            self.recency.value
        )?;
        if self.exploration != 0.0 {
            write!(f, " \u{B7} exploration {:+.2}", self.exploration)?;
        }
        Ok(())
    }
}

impl ScoreTerms {
    pub(crate) fn of(pick: &Pick) -> Self {
        Self {
            score: pick.score,
            relevance: pick.model,
            social: Weighted {
                value: pick.social.value,
                weight: pick.social.weight,
            },
            recency: Weighted {
                value: pick.recency.value,
                weight: pick.recency.weight,
            },
            exploration: pick.exploration,
        }
    }
}

/// How strongly a kind of signal speaks for a paper, to name the strongest when one paper is
/// near by two (seeded and opened).
fn strength(kind: SignalKind) -> u8 {
    match kind {
        SignalKind::Seed => 0,
        SignalKind::Saved => 1,
        SignalKind::InCollection => 2,
        SignalKind::Upvoted => 3,
        SignalKind::Followed | SignalKind::SavedSearch => 4,
        SignalKind::Opened => 5,
        SignalKind::NotInterested => 6,
    }
}

/// The reasons of a pick, closest first: every positive it is near (a followed author only
/// when this paper lists them), each source once under its strongest signal, skipping what it
/// does not resemble at all.
pub(crate) fn reasons_of(
    pick: &Pick,
    paper: &Paper,
    titles: &HashMap<ArxivId, String>,
) -> Vec<Because> {
    let mut nearest: Vec<&Nearest> = Vec::new();
    for n in pick
        .nearest
        .iter()
        .filter(|n| n.similarity > 0.0 && !n.kind.is_negative())
    {
        match nearest.iter_mut().find(|kept| kept.source == n.source) {
            Some(kept) if strength(n.kind) < strength(kept.kind) => *kept = n,
            Some(_) => {}
            None => nearest.push(n),
        }
    }
    nearest
        .into_iter()
        .filter_map(|n| because(n, paper, titles))
        .collect()
}

fn because(n: &Nearest, paper: &Paper, titles: &HashMap<ArxivId, String>) -> Option<Because> {
    let similarity = n.similarity;
    match &n.source {
        Source::Paper(id) => Some(Because::Paper {
            kind: n.kind,
            id: id.clone(),
            title: titles.get(id).cloned().unwrap_or_else(|| id.to_string()),
            similarity,
        }),
        Source::Named { key, label } => {
            let (kind, rest) = key.split_once(':')?;
            match kind {
                "author" => {
                    let name = paper.visible_authors().find_map(|a| {
                        AuthorKey::from_name(&a.name)
                            .filter(|k| k.as_str() == rest)
                            .map(|_| a.name.clone())
                    })?;
                    Some(Because::Author {
                        key: rest.to_owned(),
                        name,
                        similarity,
                    })
                }
                "organization" | "category" => Some(Because::Topic {
                    kind: kind.to_owned(),
                    name: label.clone(),
                    similarity,
                }),
                "search" => Some(Because::Search {
                    id: rest.parse().ok()?,
                    name: label.clone(),
                    similarity,
                }),
                _ => None,
            }
        }
    }
}

/// The papers the reasons of `picks` name, for their titles.
pub(crate) fn named_papers(picks: &[Pick]) -> Vec<ArxivId> {
    picks
        .iter()
        .flat_map(|p| &p.nearest)
        .filter_map(|n| match &n.source {
            Source::Paper(id) => Some(id.clone()),
            Source::Named { .. } => None,
        })
        .collect()
}
