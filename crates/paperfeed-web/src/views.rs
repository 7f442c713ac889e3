//! View models: what the templates show, computed from domain values. Templates stay free of
//! logic; every piece of untrusted text reaches them either as a plain `String` (escaped by
//! askama) or as `SafeHtml` made by `rich_text`.

use chrono::{DateTime, NaiveDate, Utc};
use paperfeed_core::{Author, AuthorKey, Avatar, Featuring, Organization, Paper};

use crate::rich_text::{SafeHtml, render_inline, render_paragraphs};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    pub label: String,
}

impl Link {
    pub fn new(href: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            href: href.into(),
            label: label.into(),
        }
    }
}

/// `Mar 11, 2024`, as on the reference page.
pub fn human_date(day: NaiveDate) -> String {
    day.format("%b %-d, %Y").to_string()
}

/// `Tuesday, Mar 12, 2024` for page headings.
pub fn long_date(day: NaiveDate) -> String {
    day.format("%A, %b %-d, %Y").to_string()
}

pub fn day_href(day: NaiveDate) -> String {
    format!("/papers/date/{}", day.format("%Y-%m-%d"))
}

pub fn paper_href(paper: &Paper) -> String {
    format!("/papers/{}", paper.id)
}

/// An author's page: `/authors/zoe-muller` (letters beyond ASCII percent-encoded).
pub fn author_href(key: &AuthorKey) -> String {
    format!("/authors/{}", crate::query::encode(&key.slug()))
}

/// An organisation's page: `/orgs/google`.
pub fn organization_href(name: &str) -> String {
    format!("/orgs/{}", crate::query::encode(name))
}

/// A category's page: `/categories/cs.CL`.
pub fn category_href(name: &str) -> String {
    format!("/categories/{}", crate::query::encode(name))
}

/// A link to an author's page, when the name has a key.
fn author_link(author: &Author) -> Option<Link> {
    AuthorKey::from_name(&author.name).map(|k| Link::new(author_href(&k), author.name.clone()))
}

/// The badge of a paper's organisation: its full name, linking to its page.
fn organization_link(org: &Organization) -> Link {
    Link::new(
        organization_href(&org.name),
        org.fullname.clone().unwrap_or_else(|| org.name.clone()),
    )
}

/// Authors named on a card; the rest are counted.
const CARD_AUTHORS: usize = 3;

/// An avatar as a page draws it: initials on the colour class `av0` … `av11` (style.css),
/// made here from the name alone, never fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvatarView {
    pub initials: String,
    pub class: String,
}

impl AvatarView {
    pub fn person(name: &str) -> Self {
        Self::from(Avatar::of_person(name))
    }

    pub fn name(name: &str) -> Self {
        Self::from(Avatar::of_name(name))
    }
}

impl From<Avatar> for AvatarView {
    fn from(a: Avatar) -> Self {
        Self {
            initials: a.initials,
            class: format!("av{}", a.colour),
        }
    }
}

/// A count as cards show it: `950`, `1.2k`, `12k`, `3.4M`.
pub fn compact_count(n: i64) -> String {
    let n = n.max(0);
    let short = |value: f64, unit: &str| {
        if value < 10.0 {
            let s = format!("{value:.1}");
            format!("{}{unit}", s.trim_end_matches(".0"))
        } else {
            format!("{value:.0}{unit}")
        }
    };
    #[expect(clippy::cast_precision_loss, reason = "a rounded label")]
    let f = n as f64;
    match n {
        0..1_000 => n.to_string(),
        1_000..999_500 => short(f / 1e3, "k"),
        _ => short(f / 1e6, "M"),
    }
}

/// The link to a paper's code on a card: the repository, labelled with its stars.
pub struct RepoView {
    pub href: String,
    /// `1.2k`, when the source counted stars.
    pub stars: Option<String>,
    /// `1,234 stars` for the accessible name.
    pub stars_long: Option<String>,
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One card on a feed page.
pub struct CardView {
    pub href: String,
    pub id: String,
    pub title: SafeHtml,
    pub abstract_html: SafeHtml,
    pub authors_label: String,
    pub published: Option<String>,
    pub published_iso: Option<String>,
    /// The featured day this card is listed under, shown on week and month pages.
    pub featured_label: Option<String>,
    pub featured_href: String,
    pub submitter: Option<String>,
    pub upvotes: i64,
    /// The paper as COinS (an OpenURL ContextObject) for Zotero's connector on list pages.
    pub coins: String,
    /// A Save / Saved toggle, for a logged-in reader (`saved::add_save_buttons`).
    pub save: Option<SaveButton>,
    /// The first few visible authors, each linking to their page.
    pub author_links: Vec<Link>,
    /// Whether more authors than [`CardView::author_links`] are listed.
    pub more_authors: bool,
    /// The organisation badge.
    pub organization: Option<Link>,
    /// A signed-in reader's controls and marks (`personal::personalise`).
    pub personal: Option<CardPersonal>,
    /// The first visible authors' avatars, drawn as a stack before their names.
    pub author_avatars: Vec<AvatarView>,
    pub organization_avatar: Option<AvatarView>,
    pub submitter_avatar: Option<AvatarView>,
    /// The paper's code, with its GitHub stars.
    pub repo: Option<RepoView>,
    pub comments: i64,
    /// The first page of the PDF (`thumbnails::add_thumbnails`); a placeholder when `None`.
    pub thumbnail: Option<String>,
}

/// What a card shows only to the signed-in reader: "Not interested" (or its undo, when
/// `dismissed`) posting back to `back`, and why the card is hidden from their lists.
pub struct CardPersonal {
    pub csrf: String,
    pub back: String,
    pub hidden: Option<String>,
    pub dismissed: bool,
}

impl CardView {
    pub fn new(paper: &Paper, day: NaiveDate, show_day: bool) -> Self {
        let submitter = paper
            .featured
            .iter()
            .find(|f| f.date == day)
            .and_then(|f| f.submitter.as_ref())
            .map(|s| s.name.clone());
        let repo = safe_url(&paper.github_repo).map(|href| RepoView {
            href,
            stars: paper.github_stars.map(compact_count),
            stars_long: paper
                .github_stars
                .map(|n| plural(usize::try_from(n).unwrap_or(0), "star", "stars")),
        });
        Self {
            author_avatars: paper
                .visible_authors()
                .take(CARD_AUTHORS)
                .map(|a| AvatarView::person(&a.name))
                .collect(),
            organization_avatar: paper
                .organization
                .as_ref()
                .map(|o| AvatarView::name(o.fullname.as_deref().unwrap_or(&o.name))),
            submitter_avatar: submitter.as_deref().map(AvatarView::name),
            repo,
            comments: paper.num_comments.max(0),
            thumbnail: None,
            href: paper_href(paper),
            id: paper.id.to_string(),
            coins: paperfeed_core::openurl_kev(paper),
            author_links: paper
                .visible_authors()
                .take(CARD_AUTHORS)
                .filter_map(author_link)
                .collect(),
            more_authors: paper.visible_authors().count() > CARD_AUTHORS,
            organization: paper.organization.as_ref().map(organization_link),
            save: None,
            title: render_inline(&paper.title),
            abstract_html: render_inline(&card_abstract(&paper.abstract_text)),
            authors_label: plural(paper.authors.len(), "author", "authors"),
            published: paper.published_at.map(|d| human_date(d.date_naive())),
            published_iso: paper.published_at.map(iso),
            featured_label: show_day.then(|| human_date(day)),
            featured_href: day_href(day),
            submitter,
            upvotes: paper.upvotes,
            personal: None,
        }
    }
}

/// The start of an abstract a card carries: at most `CARD_ABSTRACT_CHARS`, cut at a word, and
/// never inside a formula (a cut `$…` would show as its TeX source).
fn card_abstract(text: &str) -> String {
    let flat = text.replace("\n\n", " ");
    let cut = paperfeed_core::cut_at_word(&flat, paperfeed_core::CARD_ABSTRACT_CHARS);
    if cut.len() == flat.len() {
        return flat;
    }
    let dollars: Vec<usize> = cut
        .char_indices()
        .filter(|&(i, c)| c == '$' && (i == 0 || cut.as_bytes()[i - 1] != b'\\'))
        .map(|(i, _)| i)
        .collect();
    match dollars.last() {
        Some(&last) if dollars.len() % 2 == 1 => format!("{}…", cut[..last].trim_end()),
        _ => cut.into_owned(),
    }
}

fn iso(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub struct AuthorView {
    pub name: String,
    pub user: Option<String>,
    /// The author's page on this hub.
    pub href: Option<String>,
}

pub struct FeaturingView {
    pub label: String,
    pub href: String,
    pub submitter: Option<String>,
}

impl FeaturingView {
    fn new(f: &Featuring) -> Self {
        Self {
            label: human_date(f.date),
            href: day_href(f.date),
            submitter: f.submitter.as_ref().map(|s| match &s.fullname {
                Some(full) if full != &s.name => format!("{full} ({})", s.name),
                _ => s.name.clone(),
            }),
        }
    }
}

/// The paper page.
pub struct PaperView {
    pub id: String,
    pub title: SafeHtml,
    pub title_text: String,
    pub abstract_html: SafeHtml,
    pub authors: Vec<AuthorView>,
    pub hidden_authors: usize,
    pub authors_label: String,
    pub categories: Vec<String>,
    pub published: Option<String>,
    pub published_iso: Option<String>,
    pub latest_version: Option<u32>,
    pub featured: Vec<FeaturingView>,
    pub upvotes: i64,
    pub comments_label: String,
    pub abs_url: String,
    pub pdf_url: String,
    pub github_repo: Option<String>,
    pub github_label: Option<String>,
    pub github_stars: Option<i64>,
    pub project_page: Option<String>,
    pub ai_summary: Option<SafeHtml>,
    pub ai_keywords: Vec<String>,
    /// The organisation badge.
    pub organization: Option<Link>,
}

/// Only http(s) links from sources are shown as links; anything else (`javascript:`) is dropped.
fn safe_url(url: &Option<String>) -> Option<String> {
    url.as_ref()
        .map(|u| u.trim())
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_owned)
}

impl PaperView {
    pub fn new(paper: &Paper) -> Self {
        let github_repo = safe_url(&paper.github_repo);
        let github_label = github_repo.as_ref().map(|u| {
            u.trim_start_matches("https://github.com/")
                .trim_start_matches("http://github.com/")
                .to_owned()
        });
        Self {
            id: paper.id.to_string(),
            title: render_inline(&paper.title),
            title_text: paper.title.clone(),
            abstract_html: render_paragraphs(&paper.abstract_text),
            authors: paper
                .visible_authors()
                .map(|a| AuthorView {
                    name: a.name.clone(),
                    user: a.user.clone(),
                    href: author_link(a).map(|l| l.href),
                })
                .collect(),
            hidden_authors: paper.authors.iter().filter(|a| a.hidden).count(),
            authors_label: plural(paper.authors.len(), "author", "authors"),
            categories: paper.categories.clone(),
            published: paper.published_at.map(|d| human_date(d.date_naive())),
            published_iso: paper.published_at.map(iso),
            latest_version: paper.latest_version(),
            featured: paper
                .featured
                .iter()
                .rev()
                .map(FeaturingView::new)
                .collect(),
            upvotes: paper.upvotes,
            comments_label: plural(
                usize::try_from(paper.num_comments).unwrap_or(0),
                "comment",
                "comments",
            ),
            abs_url: paper.id.abs_url(),
            pdf_url: paper.id.pdf_url(),
            github_repo,
            github_label,
            github_stars: paper.github_stars,
            project_page: safe_url(&paper.project_page),
            ai_summary: paper.ai_summary.as_deref().map(render_inline),
            ai_keywords: paper.ai_keywords.clone(),
            organization: paper.organization.as_ref().map(organization_link),
        }
    }
}

/// The "Save this search" form under a search's results, for a logged-in reader.
pub struct SaveSearchView {
    pub csrf: String,
    pub q: String,
    pub mode: String,
    pub sort: String,
    /// The suggested name: the query, cut to the longest name.
    pub name: String,
    pub max_name: usize,
}

impl SaveSearchView {
    /// The form saving `q` in `mode` and `sort` for the session whose CSRF token is `csrf`.
    pub fn new(csrf: &str, q: &str, mode: &str, sort: &str) -> Self {
        let max_name = paperfeed_app::saved_searches::MAX_NAME_CHARS;
        SaveSearchView {
            csrf: csrf.to_owned(),
            q: q.to_owned(),
            mode: mode.to_owned(),
            sort: sort.to_owned(),
            name: q.trim().chars().take(max_name).collect(),
            max_name,
        }
    }
}

/// A Save / Saved toggle for one paper (`saved::add_save_buttons` fills it in).
#[derive(Clone, Debug)]
pub struct SaveButton {
    pub csrf: String,
    pub paper: String,
    pub saved: bool,
    /// Where the form comes back to.
    pub next: String,
}
