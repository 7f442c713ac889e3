//! The paper page: everything the hub knows about one paper.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use paperfeed_app::visibility;
use paperfeed_core::ArxivId;
use paperfeed_store::SeenReason;

use crate::api::markdown::wants_markdown;
use crate::community::auth::Viewer;
use crate::error::{AppError, render_error};
use crate::exports::Export;
use crate::page_cache::Shows;
use crate::rich_text::{SafeHtml, render_comment};
use crate::state::AppState;
use crate::views::{Link, PaperView};

#[derive(Template)]
#[template(path = "paper.html")]
struct PaperPage {
    paper: PaperView,
    canonical: String,
    similar: Vec<Link>,
    similar_note: Option<&'static str>,
    /// The session's CSRF token; `None` when logged out.
    csrf: Option<String>,
    voted: bool,
    /// The signed-in reader marked it "not interested".
    dismissed: bool,
    is_admin: bool,
    comments: Vec<CommentView>,
    /// Comments the source feed counted that are not on this hub, and where they are.
    elsewhere: Option<ElsewhereComments>,
    trending: Option<TrendingView>,
    /// The Highwire Press `citation_*` tags Zotero's and Google Scholar's importers read.
    citation: CitationMeta,
    /// Save, reading state and collections, for a logged-in reader.
    library: Option<crate::saved::PaperLibrary>,
}

struct CitationMeta {
    title: String,
    authors: Vec<String>,
    /// `YYYY/MM/DD`, as Highwire dates are written.
    date: Option<String>,
    pdf_url: String,
}

impl CitationMeta {
    fn new(paper: &paperfeed_core::Paper) -> Self {
        Self {
            title: paperfeed_core::normalize_text(&paper.title),
            authors: paper
                .authors
                .iter()
                .filter(|a| !a.hidden)
                .map(|a| a.name.clone())
                .collect(),
            date: paper
                .published_at
                .map(|at| at.format("%Y/%m/%d").to_string()),
            pdf_url: paper.id.pdf_url(),
        }
    }
}

/// Comments counted by the source feed but not copied here. Only Hugging Face's daily papers
/// feed carries comment counts (arXiv, OAI-PMH and Kaggle records have none), so they are in
/// the paper's discussion there.
struct ElsewhereComments {
    label: String,
    /// "is" or "are", for the label.
    verb: &'static str,
    href: String,
}

impl ElsewhereComments {
    /// The comments of `paper` beyond the `shown_here` visible ones of this hub.
    fn of(paper: &paperfeed_core::Paper, shown_here: usize) -> Option<Self> {
        let imported = usize::try_from(paper.num_comments)
            .unwrap_or(0)
            .saturating_sub(shown_here);
        (imported > 0).then(|| Self {
            label: crate::views::plural(imported, "comment", "comments"),
            verb: if imported == 1 { "is" } else { "are" },
            href: format!("https://huggingface.co/papers/{}#community", paper.id),
        })
    }
}

struct CommentView {
    id: i64,
    author: String,
    html: SafeHtml,
    source: String,
    hidden: bool,
    mine: bool,
    when: String,
}

/// The terms of the paper's trending score, for "why it ranks here".
struct TrendingView {
    upvotes: i64,
    comments: i64,
    stars: Option<i64>,
    hours: String,
    points: String,
    decay: String,
    score: String,
    /// Said when the hours count to an old archive's newest day, not to now.
    note: Option<String>,
}

fn trending_view(
    paper: &paperfeed_core::Paper,
    clock: &paperfeed_core::TrendingClock,
) -> Option<TrendingView> {
    let day = paper.featured.last()?.date;
    let t = paperfeed_core::trending_score(
        paper.upvotes,
        paper.num_comments,
        paper.github_stars,
        day,
        clock.as_of,
    );
    Some(TrendingView {
        upvotes: t.upvotes,
        comments: t.comments,
        stars: t.github_stars,
        hours: format!("{:.0}", t.hours_since_featured),
        points: format!("{:.2}", t.points),
        decay: format!("{:.1}", t.decay),
        score: format!("{:.4}", t.score),
        note: crate::trending_clock::note(clock),
    })
}

/// Papers shown under "Similar papers".
const SIMILAR: usize = 5;

/// `/papers/{id}` (HTML, or Markdown for `Accept: text/markdown`) and `/papers/{id}.md`.
pub async fn show_paper(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Viewer,
    Path(raw_id): Path<String>,
) -> Result<Response, AppError> {
    let (raw_id, export) = Export::split(&raw_id);
    let suffix = export.map_or("", |(_, suffix)| suffix);
    let export = match export {
        Some((export, _)) => Some(export),
        None => wants_markdown(&headers).then_some(Export::Markdown),
    };
    let id = ArxivId::parse(raw_id).map_err(|e| AppError::BadRequest(e.to_string()))?;
    // `/papers/2309.11523v2` and friends land on the one canonical address.
    if id.as_str() != raw_id {
        return Ok(crate::redirect::permanent(&format!("/papers/{id}{suffix}")));
    }
    let Some(paper) = state.store.get_paper(&id).await? else {
        return Err(AppError::not_found(
            format!("Paper {id} is not on this hub"),
            "No paper with this arXiv id has been ingested or submitted here yet.",
        )
        .with_suggestions(vec![
            Link::new(id.abs_url(), format!("{id} on arXiv")),
            Link::new("/", "The latest papers"),
        ]));
    };
    if let Some(export) = export {
        return export.response(&paper);
    }
    // One batch read for the neighbours, in similarity order; one that vanished is skipped.
    let neighbours: Vec<ArxivId> = state
        .search
        .similar(&id, SIMILAR)
        .into_iter()
        .map(|n| n.id)
        .collect();
    let similar: Vec<Link> = state
        .store
        .get_papers(&neighbours)
        .await?
        .into_iter()
        .map(|p| Link::new(format!("/papers/{}", p.id), p.title))
        .collect();
    let similar_note = similar
        .is_empty()
        .then_some(if state.search.semantic_off().is_some() {
            "Similar papers need semantic search, which is off on this hub."
        } else {
            "Similar papers appear once this paper's embedding has been computed."
        });
    let user = viewer.user();
    let voted = match user {
        Some(u) => state.store.has_voted(u.id, &id).await?,
        None => false,
    };
    let is_admin = user.is_some_and(|u| u.is_admin);
    let dismissed = match user {
        Some(u) => {
            // Opening the page is what "seen" means first; the page shows whatever happens.
            let seen = visibility::mark_seen(&*state.store, u.id, &id, SeenReason::Opened).await;
            if let Err(e) = seen {
                tracing::warn!(user.id = u.id.0, paper.id = %id, error = %e.detail(), "seen mark (opened) not kept");
            }
            let marks = state
                .store
                .reader_marks(u.id, std::slice::from_ref(&id))
                .await?;
            marks.dismissed.contains(&id)
        }
        None => false,
    };
    let stored = state.store.comments(&id).await?;
    let elsewhere = ElsewhereComments::of(&paper, stored.iter().filter(|c| !c.hidden).count());
    let comments = stored
        .into_iter()
        .filter(|c| !c.hidden || is_admin)
        .map(|c| CommentView {
            id: c.id,
            mine: user.is_some_and(|u| u.id == c.author_id),
            author: c.author.to_string(),
            html: render_comment(&c.body),
            source: c.body,
            hidden: c.hidden,
            when: c.created_at.format("%b %-d, %Y %H:%M UTC").to_string(),
        })
        .collect();
    let page = PaperPage {
        library: crate::saved::paper_library(&state, &viewer, &id).await?,
        canonical: format!("/papers/{id}"),
        trending: trending_view(&paper, &crate::trending_clock::now(&state).await?),
        citation: CitationMeta::new(&paper),
        paper: PaperView::new(&paper),
        similar,
        similar_note,
        csrf: viewer.0.as_ref().map(|s| s.csrf_token.clone()),
        voted,
        is_admin,
        comments,
        elsewhere,
        dismissed,
    };
    let mut response = Html(page.render().map_err(render_error)?).into_response();
    // The paper and its neighbours' titles: what the page cache drops it for.
    response
        .extensions_mut()
        .insert(Shows::papers(neighbours.into_iter().chain([id])));
    // The same address answers `Accept: text/markdown` with Markdown.
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    Ok(response)
}
