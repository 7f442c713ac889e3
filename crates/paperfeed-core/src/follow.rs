//! What a reader can follow, and the reason a followed paper is shown.
//!
//! A follow is a kind and a key: an author by [`AuthorKey`], an organisation by its Hugging Face
//! name (`google`), an arXiv category (`cs.CL`) or a saved search by its id. Keys are checked
//! here so the store and the URLs only ever see valid, bounded ones.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{AuthorKey, Paper};

/// The longest organisation name kept (Hugging Face allows 96).
pub const MAX_ORGANIZATION_CHARS: usize = 96;
/// The longest category name kept (`cond-mat.stat-mech` is 18).
pub const MAX_CATEGORY_CHARS: usize = 32;

/// One thing a reader follows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FollowTarget {
    Author(AuthorKey),
    /// A Hugging Face organisation name, as HF spells it (case kept; compared as is).
    Organization(String),
    /// An arXiv category (`cs.CL`, `hep-th`).
    Category(String),
    /// A saved search of the same reader, by id.
    SavedSearch(i64),
}

/// The kinds, as stored and as the API spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FollowKind {
    Author,
    Organization,
    Category,
    SavedSearch,
}

impl FollowKind {
    pub const ALL: [FollowKind; 4] = [
        FollowKind::Author,
        FollowKind::Organization,
        FollowKind::Category,
        FollowKind::SavedSearch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FollowKind::Author => "author",
            FollowKind::Organization => "organization",
            FollowKind::Category => "category",
            FollowKind::SavedSearch => "search",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl FollowTarget {
    /// A target from its kind and key as stored or typed; `None` when the key is not valid
    /// for the kind (an author key must already be normalised: see [`AuthorKey::from_slug`]).
    pub fn parse(kind: FollowKind, key: &str) -> Option<Self> {
        match kind {
            // Stored keys have spaces, slugs dashes: both name the same author.
            FollowKind::Author => {
                AuthorKey::from_slug(&key.replace(' ', "-")).map(FollowTarget::Author)
            }
            FollowKind::Organization => organization_name(key).map(FollowTarget::Organization),
            FollowKind::Category => category_name(key).map(FollowTarget::Category),
            FollowKind::SavedSearch => key
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .map(FollowTarget::SavedSearch),
        }
    }

    pub fn kind(&self) -> FollowKind {
        match self {
            FollowTarget::Author(_) => FollowKind::Author,
            FollowTarget::Organization(_) => FollowKind::Organization,
            FollowTarget::Category(_) => FollowKind::Category,
            FollowTarget::SavedSearch(_) => FollowKind::SavedSearch,
        }
    }

    /// The key as stored: an author's normalised name, an organisation or category name, a
    /// saved search's id in decimal.
    pub fn key(&self) -> String {
        match self {
            FollowTarget::Author(k) => k.as_str().to_owned(),
            FollowTarget::Organization(name) | FollowTarget::Category(name) => name.clone(),
            FollowTarget::SavedSearch(id) => id.to_string(),
        }
    }
}

impl fmt::Display for FollowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Hugging Face organisation name: 1 to 96 ASCII letters, digits, `-`, `_` or `.`, not
/// starting with `.` or `-`. `None` otherwise.
pub fn organization_name(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= MAX_ORGANIZATION_CHARS
        && !text.starts_with(['.', '-'])
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| text.to_owned())
}

/// An arXiv category: an archive (`cs`, `hep-th`, `cond-mat`) and optionally `.` and a subject
/// class (`CL`, `stat-mech`), ASCII letters and `-`, at most 32 characters. `None` otherwise.
pub fn category_name(text: &str) -> Option<String> {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('-')
            && p.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
    };
    let ok = text.len() <= MAX_CATEGORY_CHARS
        && match text.split_once('.') {
            Some((archive, class)) => part(archive) && part(class),
            None => part(text),
        };
    ok.then(|| text.to_owned())
}

/// What the store indexes a paper under, so author, organisation and category pages and the
/// Following feed are index range scans: one entry per kind and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub kind: IndexKind,
    pub key: String,
    /// For authors the name as this paper lists it (the variants an author page explains);
    /// for accounts the [`AuthorKey`] of the author who claimed it; for organisations their
    /// full name; for categories the category.
    pub label: String,
}

/// The kinds of [`IndexEntry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexKind {
    /// By [`AuthorKey`].
    Author,
    /// By the Hugging Face account that claimed an authorship.
    Account,
    Organization,
    Category,
}

impl IndexKind {
    pub const ALL: [IndexKind; 4] = [
        IndexKind::Author,
        IndexKind::Account,
        IndexKind::Organization,
        IndexKind::Category,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Author => "author",
            IndexKind::Account => "account",
            IndexKind::Organization => "organization",
            IndexKind::Category => "category",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl FollowKind {
    /// The index a follow of this kind reads; saved searches are matched by the search engine.
    pub fn index_kind(self) -> Option<IndexKind> {
        match self {
            FollowKind::Author => Some(IndexKind::Author),
            FollowKind::Organization => Some(IndexKind::Organization),
            FollowKind::Category => Some(IndexKind::Category),
            FollowKind::SavedSearch => None,
        }
    }
}

/// The longest claimed account name indexed.
const MAX_ACCOUNT_CHARS: usize = 96;

/// Everything `paper` is indexed under: each visible author by [`AuthorKey`] (authors hidden
/// at their request are not), each claimed account, its organisation and its valid arXiv
/// categories. No kind and key twice.
pub fn index_entries(paper: &Paper) -> Vec<IndexEntry> {
    let mut entries: Vec<IndexEntry> = Vec::new();
    let mut push = |kind: IndexKind, key: String, label: String| {
        if !entries.iter().any(|e| e.kind == kind && e.key == key) {
            entries.push(IndexEntry { kind, key, label });
        }
    };
    for author in paper.visible_authors() {
        let Some(key) = AuthorKey::from_name(&author.name) else {
            continue;
        };
        if let Some(user) = author
            .user
            .as_deref()
            .filter(|u| !u.is_empty() && u.len() <= MAX_ACCOUNT_CHARS)
        {
            push(IndexKind::Account, user.to_owned(), key.as_str().to_owned());
        }
        let name: String = author.name.chars().take(MAX_LABEL_CHARS).collect();
        push(IndexKind::Author, key.as_str().to_owned(), name);
    }
    if let Some(org) = &paper.organization
        && let Some(name) = organization_name(&org.name)
    {
        let label = org.fullname.as_deref().unwrap_or(&org.name);
        let label: String = label.chars().take(MAX_LABEL_CHARS).collect();
        push(IndexKind::Organization, name, label);
    }
    for category in &paper.categories {
        if let Some(name) = category_name(category) {
            push(IndexKind::Category, name.clone(), name);
        }
    }
    entries
}

/// The longest label kept in the index.
const MAX_LABEL_CHARS: usize = 200;

/// When a paper counts as new, for "newest first" on author, organisation and category pages
/// and in the Following feed: its arXiv publication, else its first featured day, else the
/// epoch (listed last).
pub fn listing_time(paper: &Paper) -> DateTime<Utc> {
    paper
        .published_at
        .or_else(|| {
            paper
                .first_featured()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
        .unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Author, NewPaper, Organization, merge};

    #[test]
    fn targets_round_trip_through_kind_and_key() {
        let targets = [
            FollowTarget::Author(AuthorKey::from_name("Zoë Müller").unwrap()),
            FollowTarget::Organization("Tencent-Hunyuan".into()),
            FollowTarget::Category("cond-mat.stat-mech".into()),
            FollowTarget::SavedSearch(42),
        ];
        for target in targets {
            let kind = FollowKind::parse(target.kind().as_str()).unwrap();
            assert_eq!(FollowTarget::parse(kind, &target.key()), Some(target));
        }
    }

    #[test]
    fn invalid_keys_are_refused() {
        assert_eq!(FollowTarget::parse(FollowKind::Author, "Zoë"), None);
        assert_eq!(FollowTarget::parse(FollowKind::Author, ""), None);
        assert_eq!(FollowTarget::parse(FollowKind::Organization, "<b>"), None);
        assert_eq!(FollowTarget::parse(FollowKind::Organization, ""), None);
        assert_eq!(
            FollowTarget::parse(FollowKind::Organization, &"a".repeat(97)),
            None
        );
        assert_eq!(FollowTarget::parse(FollowKind::Category, "cs."), None);
        assert_eq!(FollowTarget::parse(FollowKind::Category, "cs.C1"), None);
        assert_eq!(FollowTarget::parse(FollowKind::SavedSearch, "0"), None);
        assert_eq!(FollowTarget::parse(FollowKind::SavedSearch, "x"), None);
        assert_eq!(FollowKind::parse("authors"), None);
    }

    #[test]
    fn a_paper_is_indexed_by_visible_authors_accounts_organisation_and_categories() {
        let mut new = NewPaper::new(
            crate::ArxivId::parse("2403.06634").unwrap(),
            "T".into(),
            "A".into(),
            vec![
                Author {
                    name: "Zoë Müller".into(),
                    user: Some("zoe".into()),
                    hidden: false,
                },
                Author::named("Zoe Muller"),
                Author {
                    name: "Hidden Person".into(),
                    user: Some("hidden".into()),
                    hidden: true,
                },
                Author::named("..."),
            ],
        );
        new.categories = vec!["cs.CL".into(), "not a category".into()];
        new.organization = Some(Organization {
            name: "google".into(),
            fullname: Some("Google".into()),
        });
        let paper = merge(None, new);
        let entries: Vec<String> = index_entries(&paper)
            .iter()
            .map(|e| format!("{}|{}|{}", e.kind.as_str(), e.key, e.label))
            .collect();
        assert_eq!(
            entries,
            [
                "account|zoe|zoe muller",
                "author|zoe muller|Zoë Müller",
                "organization|google|Google",
                "category|cs.CL|cs.CL",
            ]
        );
        assert_eq!(listing_time(&paper), DateTime::UNIX_EPOCH);
    }
}
