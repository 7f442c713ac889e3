//! The paper as paperfeed knows it, what a source says about one, and how the two merge.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ArxivId;

/// One author in the order the paper lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub name: String,
    /// The hub user who claimed this authorship (HF `authors[].user.user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Hidden by the author's request; still counted, not shown by name.
    #[serde(default)]
    pub hidden: bool,
}

impl Author {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            user: None,
            hidden: false,
        }
    }
}

/// The Hugging Face organisation a paper is listed under on the daily feed (HF's
/// `organization`: `google`, "Google").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The organisation's name on Hugging Face: its key in URLs (`/orgs/google`).
    pub name: String,
    /// How it calls itself ("Google"), when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fullname: Option<String>,
}

/// One arXiv version (`v1`, `v2`, …) and when it was submitted, when the source says so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperVersion {
    pub number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Who put a paper on the daily feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitter {
    /// The user name (HF `submittedBy.name`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fullname: Option<String>,
}

/// A day on which the paper appeared on the daily feed. This is not the arXiv date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Featuring {
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<Submitter>,
}

/// A paper with everything the hub knows about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    pub id: ArxivId,
    pub title: String,
    pub abstract_text: String,
    pub authors: Vec<Author>,
    /// arXiv categories, primary first (`cs.CL`, `cs.LG`); empty when no source said.
    pub categories: Vec<String>,
    /// When version 1 appeared on arXiv.
    pub published_at: Option<DateTime<Utc>>,
    /// Known versions in ascending order; empty when no source said.
    pub versions: Vec<PaperVersion>,
    /// Days the paper was featured, ascending, one entry per day.
    pub featured: Vec<Featuring>,
    pub upvotes: i64,
    pub num_comments: i64,
    pub github_repo: Option<String>,
    pub github_stars: Option<i64>,
    pub project_page: Option<String>,
    pub ai_summary: Option<String>,
    pub ai_keywords: Vec<String>,
    /// The HF organisation the paper is listed under, when the feed said.
    pub organization: Option<Organization>,
}

impl Paper {
    pub fn latest_version(&self) -> Option<u32> {
        self.versions.iter().map(|v| v.number).max()
    }

    /// The first featured day, the one a daily page lists it under first.
    pub fn first_featured(&self) -> Option<NaiveDate> {
        self.featured.first().map(|f| f.date)
    }

    /// How recent the stored text is: the highest arXiv version, then the latest featured day.
    fn text_rank(&self) -> (u32, Option<NaiveDate>) {
        (
            self.latest_version().unwrap_or(0),
            self.featured.last().map(|f| f.date),
        )
    }

    /// The text that search embeds for this paper: title and abstract.
    pub fn embedding_text(&self) -> String {
        embedding_text(&self.title, &self.abstract_text)
    }

    /// A stable fingerprint of [`Paper::embedding_text`], so derived vectors know when the
    /// text under them changed.
    pub fn text_fingerprint(&self) -> i64 {
        fingerprint(&self.embedding_text())
    }

    /// Authors one may show by name.
    pub fn visible_authors(&self) -> impl Iterator<Item = &Author> {
        self.authors.iter().filter(|a| !a.hidden)
    }
}

/// The text search embeds for a paper with this title and abstract. One rule, so that the
/// store's backlog and the paper's fingerprint always describe the same text.
pub fn embedding_text(title: &str, abstract_text: &str) -> String {
    format!("{title}. {abstract_text}")
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms (unlike `DefaultHasher`), so a
/// fingerprint stored today still matches tomorrow.
pub fn fingerprint(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// What one source record says about a paper. `None`/empty means "this source does not say",
/// never "erase what we know".
#[derive(Clone, Debug, PartialEq)]
pub struct NewPaper {
    pub id: ArxivId,
    pub title: String,
    pub abstract_text: String,
    pub authors: Vec<Author>,
    pub categories: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub versions: Vec<PaperVersion>,
    pub featured: Option<Featuring>,
    pub upvotes: Option<i64>,
    pub num_comments: Option<i64>,
    pub github_repo: Option<String>,
    pub github_stars: Option<i64>,
    pub project_page: Option<String>,
    pub ai_summary: Option<String>,
    pub ai_keywords: Option<Vec<String>>,
    pub organization: Option<Organization>,
}

impl NewPaper {
    /// A record with only the required fields; sources fill in the rest.
    pub fn new(id: ArxivId, title: String, abstract_text: String, authors: Vec<Author>) -> Self {
        Self {
            id,
            title,
            abstract_text,
            authors,
            categories: Vec::new(),
            published_at: None,
            versions: Vec::new(),
            featured: None,
            upvotes: None,
            num_comments: None,
            github_repo: None,
            github_stars: None,
            project_page: None,
            ai_summary: None,
            ai_keywords: None,
            organization: None,
        }
    }

    fn latest_version(&self) -> Option<u32> {
        self.versions.iter().map(|v| v.number).max()
    }

    /// How recent this record's text is: see [`merge`].
    fn text_rank(&self) -> (u32, Option<NaiveDate>) {
        (
            self.latest_version().unwrap_or(0),
            self.featured.as_ref().map(|f| f.date),
        )
    }
}

/// What an upsert did to one paper; ingest summaries count these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpsertOutcome {
    New,
    Updated,
    Unchanged,
}

/// Merges a source record into what is stored. Pure and order-tolerant, so that re-ingesting
/// the same files in any order converges to the same paper:
///
/// - Title, abstract and authors come from the most recent record: the highest arXiv version,
///   then (between records of the same version, such as two feed days that name none) the
///   latest featured day. A feed file re-read after an arXiv harvest, or an older feed day
///   re-read after a newer one, therefore never flips the text back and forth.
/// - Versions, categories and featured days are unions; a day featured twice keeps the first
///   submitter we learned of unless we had none.
/// - Feed counters (upvotes, comments, GitHub stars) only grow: an older snapshot of the feed
///   never lowers a newer one.
/// - Links, AI annotations and the organisation are taken from the most recent record that has them; an older
///   record only fills gaps.
pub fn merge(existing: Option<&Paper>, new: NewPaper) -> Paper {
    let Some(old) = existing else {
        return fresh(new);
    };
    let mut paper = old.clone();
    let takes_text = new.text_rank() >= old.text_rank();
    if takes_text {
        if !new.title.is_empty() {
            paper.title = new.title;
        }
        if !new.abstract_text.is_empty() {
            paper.abstract_text = new.abstract_text;
        }
        if !new.authors.is_empty() {
            paper.authors = merge_authors(&old.authors, new.authors);
        }
    }
    for version in new.versions {
        match paper
            .versions
            .iter_mut()
            .find(|v| v.number == version.number)
        {
            Some(known) => {
                if known.submitted_at.is_none() {
                    known.submitted_at = version.submitted_at;
                }
            }
            None => paper.versions.push(version),
        }
    }
    paper.versions.sort_by_key(|v| v.number);
    if !new.categories.is_empty() && (takes_text || paper.categories.is_empty()) {
        paper.categories = new.categories;
    }
    paper.published_at = match (old.published_at, new.published_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(featuring) = new.featured {
        add_featuring(&mut paper.featured, featuring);
    }
    paper.upvotes = paper.upvotes.max(new.upvotes.unwrap_or(0));
    paper.num_comments = paper.num_comments.max(new.num_comments.unwrap_or(0));
    paper.github_stars = max_opt(paper.github_stars, new.github_stars);
    // Links and AI annotations follow the text: the most recent record's win, and an older
    // record only fills what is still missing.
    take_if_some(&mut paper.github_repo, new.github_repo, takes_text);
    take_if_some(&mut paper.project_page, new.project_page, takes_text);
    take_if_some(&mut paper.ai_summary, new.ai_summary, takes_text);
    if let Some(keywords) = new.ai_keywords
        && !keywords.is_empty()
        && (takes_text || paper.ai_keywords.is_empty())
    {
        paper.ai_keywords = keywords;
    }
    if let Some(org) = new.organization
        && (takes_text || paper.organization.is_none())
    {
        paper.organization = Some(org);
    }
    paper
}

fn fresh(new: NewPaper) -> Paper {
    let mut versions = new.versions;
    versions.sort_by_key(|v| v.number);
    versions.dedup_by_key(|v| v.number);
    Paper {
        id: new.id,
        title: new.title,
        abstract_text: new.abstract_text,
        authors: new.authors,
        categories: new.categories,
        published_at: new.published_at,
        versions,
        featured: new.featured.into_iter().collect(),
        upvotes: new.upvotes.unwrap_or(0),
        num_comments: new.num_comments.unwrap_or(0),
        github_repo: new.github_repo,
        github_stars: new.github_stars,
        project_page: new.project_page,
        ai_summary: new.ai_summary,
        ai_keywords: new.ai_keywords.unwrap_or_default(),
        organization: new.organization,
    }
}

/// Keeps claims (`user`) and hidden flags the hub learned from the feed when an arXiv record,
/// which knows neither, replaces the author list.
fn merge_authors(old: &[Author], new: Vec<Author>) -> Vec<Author> {
    new.into_iter()
        .map(|mut author| {
            if author.user.is_none()
                && let Some(known) = old.iter().find(|o| o.name == author.name)
            {
                author.user.clone_from(&known.user);
                author.hidden |= known.hidden;
            }
            author
        })
        .collect()
}

fn add_featuring(featured: &mut Vec<Featuring>, featuring: Featuring) {
    match featured.iter_mut().find(|f| f.date == featuring.date) {
        Some(known) => {
            if known.submitter.is_none() {
                known.submitter = featuring.submitter;
            }
        }
        None => {
            featured.push(featuring);
            featured.sort_by_key(|f| f.date);
        }
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn take_if_some(slot: &mut Option<String>, value: Option<String>, newer: bool) {
    if let Some(v) = value.filter(|v| !v.is_empty())
        && (newer || slot.is_none())
    {
        *slot = Some(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ArxivId {
        ArxivId::parse("2403.06634").unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn hf(date: &str, upvotes: i64) -> NewPaper {
        let mut p = NewPaper::new(
            id(),
            "Feed title".into(),
            "Feed abstract".into(),
            vec![Author {
                name: "Nicholas Carlini".into(),
                user: Some("carlini".into()),
                hidden: false,
            }],
        );
        p.featured = Some(Featuring {
            date: day(date),
            submitter: Some(Submitter {
                name: "akhaliq".into(),
                fullname: None,
            }),
        });
        p.upvotes = Some(upvotes);
        p
    }

    fn arxiv(version: u32, title: &str) -> NewPaper {
        let mut p = NewPaper::new(
            id(),
            title.into(),
            "arXiv abstract".into(),
            vec![
                Author::named("Nicholas Carlini"),
                Author::named("Daniel Paleka"),
            ],
        );
        p.versions = (1..=version)
            .map(|number| PaperVersion {
                number,
                submitted_at: None,
            })
            .collect();
        p.categories = vec!["cs.CR".into()];
        p
    }

    #[test]
    fn fingerprints_are_stable_and_follow_the_text() {
        assert_eq!(
            fingerprint(""),
            i64::from_ne_bytes(0xcbf2_9ce4_8422_2325_u64.to_ne_bytes())
        );
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }

    #[test]
    fn merging_the_same_record_twice_changes_nothing() {
        let once = merge(None, hf("2024-03-12", 63));
        let twice = merge(Some(&once), hf("2024-03-12", 63));
        assert_eq!(once, twice);
    }

    #[test]
    fn a_paper_featured_on_two_days_keeps_both_dates() {
        let a = merge(None, hf("2024-03-12", 10));
        let b = merge(Some(&a), hf("2024-03-15", 20));
        let dates: Vec<_> = b.featured.iter().map(|f| f.date.to_string()).collect();
        assert_eq!(dates, ["2024-03-12", "2024-03-15"]);
        assert_eq!(b.upvotes, 20);
        // Reading the older day again keeps the newer vote count.
        let c = merge(Some(&b), hf("2024-03-12", 10));
        assert_eq!(c, b);
    }

    #[test]
    fn a_newer_version_updates_the_text_and_an_older_one_does_not() {
        let v1 = merge(None, arxiv(1, "Old title"));
        let v2 = merge(Some(&v1), arxiv(2, "New title"));
        assert_eq!(v2.title, "New title");
        assert_eq!(v2.latest_version(), Some(2));
        let stale = merge(Some(&v2), arxiv(1, "Old title"));
        assert_eq!(stale, v2);
    }

    #[test]
    fn two_feed_days_with_different_text_converge_in_either_order() {
        let mut older = hf("2024-03-12", 10);
        older.title = "Older title".into();
        older.ai_keywords = Some(vec!["old".into()]);
        older.project_page = Some("https://old.example".into());
        let mut newer = hf("2024-03-15", 20);
        newer.title = "Newer title".into();
        newer.ai_keywords = Some(vec!["new".into()]);
        let forward = merge(Some(&merge(None, older.clone())), newer.clone());
        let backward = merge(Some(&merge(None, newer.clone())), older.clone());
        assert_eq!(forward, backward);
        assert_eq!(forward.title, "Newer title");
        assert_eq!(forward.ai_keywords, ["new"]);
        assert_eq!(
            forward.project_page.as_deref(),
            Some("https://old.example"),
            "gaps are filled"
        );
        assert_eq!(merge(Some(&forward), older), forward);
        assert_eq!(merge(Some(&forward), newer), forward);
    }

    #[test]
    fn feed_text_does_not_override_arxiv_text_but_claims_survive() {
        let feed = merge(None, hf("2024-03-12", 63));
        let harvested = merge(Some(&feed), arxiv(2, "arXiv title"));
        assert_eq!(harvested.title, "arXiv title");
        assert_eq!(harvested.authors[0].user.as_deref(), Some("carlini"));
        assert_eq!(harvested.featured.len(), 1);
        let again = merge(Some(&harvested), hf("2024-03-12", 63));
        assert_eq!(again, harvested);
    }
}
