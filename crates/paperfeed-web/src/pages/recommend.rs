//! "For you": the reader's recommendations (`/for-you`, each card with its reasons, the terms
//! of its score and "Not interested"), the controls (pause, reset, seeds, social weight,
//! recency window, exploration), "Recommend from this" on cards and paper pages, and the
//! private RSS/Atom feed of the same picks, and the "for you" digest choice (`POST
//! /for-you/digest`: a few picks in the reader's digest mail, or none), said beside where the
//! reader's digest subscription stands.
//!
//! Everything here depends on who asks, and the reader's signals do not all move the store's
//! change counter, so the routes are mounted outside the ETag validators and the page cache
//! (see [`routes`]) and answer `Cache-Control: private, no-store`. Every form is a POST with
//! the session's CSRF token, rate-limited per user (action `recommender`), answered with a
//! redirect (no JavaScript).

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use paperfeed_app::feed_tokens::{self, FeedScope};
use paperfeed_app::recommend::{
    self, Controls, ControlsChange, DEFAULT_DIGEST_PICKS, ForYou, MAX_RECENCY_DAYS, MAX_SEEDS,
    RecommendError,
};
use paperfeed_app::subscriptions::{self, DigestStatus};
use paperfeed_core::ArxivId;
use paperfeed_store::Session;
use serde::Deserialize;

use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::error::{AppError, failed, render_error};
use crate::picks::{PickCard, pick_cards};
use crate::private_feed::{
    TokenParams, feed_reader, feed_token_refused, format_of, private, private_feed,
};
use crate::query::encode;
use crate::redirect::see_other;
use crate::state::AppState;
use crate::syndication::{Feed, FeedItem, base_url};
use crate::views::paper_href;

/// The page.
const PAGE: &str = "/for-you";
/// Picks on the page and in the feed.
const PAGE_PICKS: usize = 20;
const FEED_PICKS: usize = 50;

/// The routes of this module, with the body limit of every route; mounted after the ETag
/// validators (`lib.rs`), since what they show depends on the reader.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route(PAGE, get(show_for_you))
        .route("/for-you/controls", post(change_controls))
        .route("/for-you/pause", post(pause))
        .route("/for-you/reset", post(reset))
        .route("/for-you/seeds", post(change_seed))
        .route("/for-you/feed-address", post(create_feed_address))
        .route("/for-you/digest", post(change_digest_picks))
        .route("/for-you/{file}", get(for_you_feed))
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::body_limit::limit_body))
}

/// The session of a form that passed its CSRF check and the reader's rate limit.
fn accepted<'a>(
    state: &AppState,
    viewer: &'a Viewer,
    csrf: &str,
    back: &str,
) -> Result<&'a Session, AppError> {
    let session = viewer.require_csrf(csrf, back)?;
    state
        .community
        .limit(Action::Recommender, &session.user.id.0.to_string())?;
    Ok(session)
}

fn refused(e: RecommendError) -> AppError {
    match e {
        RecommendError::NoSuchPaper(id) => {
            AppError::not_found("No such paper", format!("Paper {id} is not on this hub."))
        }
        e if e.is_refusal() => AppError::BadRequest(e.to_string()),
        e => failed(e),
    }
}

/// One option of the digest picks select.
struct DigestChoice {
    picks: u8,
    selected: bool,
}

struct SeedView {
    id: String,
    href: String,
    title: String,
}

#[derive(Template)]
#[template(path = "for_you.html")]
struct ForYouPage {
    csrf: String,
    /// `picks`, `paused`, `cold_start` or `warming`.
    state: &'static str,
    cards: Vec<PickCard>,
    controls: Controls,
    seeds: Vec<SeedView>,
    max_seeds: usize,
    max_recency_days: u32,
    reset_on: Option<String>,
    /// A control the reader sent that was refused, and why.
    error: Option<String>,
    /// A private feed address just made (shown once).
    feed_address: Option<String>,
    /// Picks in the reader's digest; `None`: off.
    digest_picks: Option<u8>,
    /// What the picks select offers (off aside).
    digest_choices: Vec<DigestChoice>,
    /// Where the reader's digest stands: `no_mail`, `not_subscribed`, `pending`, `suspended`,
    /// `daily` or `weekly`.
    digest: &'static str,
    /// The account's address (the one a digest subscription goes to).
    email: String,
}

async fn for_you_page(
    state: &AppState,
    viewer: &Viewer,
    error: Option<String>,
    feed_address: Option<String>,
) -> Result<Response, AppError> {
    let session = viewer.require(PAGE)?;
    let user = session.user.id;
    let page = state
        .recommender
        .for_you(&*state.store, user, PAGE_PICKS)
        .await
        .map_err(refused)?;
    let (name, cards) = match &page.result {
        ForYou::Paused => ("paused", Vec::new()),
        ForYou::ColdStart => ("cold_start", Vec::new()),
        ForYou::Warming => ("warming", Vec::new()),
        ForYou::Picks(items) => ("picks", pick_cards(state, viewer, items, PAGE).await?),
    };
    let seeds = recommend::seed_papers(&*state.store, user)
        .await
        .map_err(refused)?
        .iter()
        .map(|p| SeedView {
            id: p.id.to_string(),
            href: paper_href(p),
            title: p.title.clone(),
        })
        .collect();
    let digest_picks = recommend::digest_picks(&*state.store, user)
        .await
        .map_err(refused)?;
    let digest =
        match subscriptions::digest_status(state.mail_links.as_deref(), &session.user.email)
            .await
            .map_err(failed)?
        {
            DigestStatus::NoMail => "no_mail",
            DigestStatus::NotSubscribed => "not_subscribed",
            DigestStatus::Pending => "pending",
            DigestStatus::Suspended => "suspended",
            DigestStatus::Subscribed(f) => f.as_str(),
        };
    let mut offered = vec![3, DEFAULT_DIGEST_PICKS, recommend::MAX_DIGEST_PICKS];
    if let Some(n) = digest_picks.filter(|n| !offered.contains(n)) {
        offered.push(n);
        offered.sort_unstable();
    }
    let digest_choices = offered
        .into_iter()
        .map(|picks| DigestChoice {
            picks,
            selected: digest_picks == Some(picks),
        })
        .collect();
    let view = ForYouPage {
        csrf: session.csrf_token.clone(),
        state: name,
        cards,
        controls: page.controls,
        seeds,
        max_seeds: MAX_SEEDS,
        max_recency_days: MAX_RECENCY_DAYS,
        reset_on: page
            .controls
            .reset_at
            .map(|at| at.format("%b %-d, %Y %H:%M UTC").to_string()),
        error,
        feed_address,
        digest_picks,
        digest_choices,
        digest,
        email: session.user.email.as_str().to_owned(),
    };
    let status = if view.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(private(
        (status, Html(view.render().map_err(render_error)?)).into_response(),
    ))
}

/// `GET /for-you`.
pub async fn show_for_you(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, AppError> {
    for_you_page(&state, &viewer, None, None).await
}

#[derive(Deserialize)]
pub struct ControlsForm {
    #[serde(default)]
    csrf: String,
    social_weight: Option<String>,
    recency_days: Option<String>,
    exploration: Option<String>,
}

/// `POST /for-you/controls`: social weight, recency window and exploration; a value out of
/// range is refused on the page, saying which and why.
pub async fn change_controls(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<ControlsForm>,
) -> Result<Response, AppError> {
    let session = accepted(&state, &viewer, &form.csrf, PAGE)?;
    let change = ControlsChange {
        social_weight: form.social_weight,
        recency_days: form.recency_days,
        exploration: form.exploration,
    };
    match recommend::change_controls(&*state.store, session.user.id, &change, Utc::now()).await {
        Ok(_) => Ok(see_other(PAGE)),
        Err(e) if e.is_refusal() => for_you_page(&state, &viewer, Some(e.to_string()), None).await,
        Err(e) => Err(failed(e)),
    }
}

#[derive(Deserialize)]
pub struct PauseForm {
    #[serde(default)]
    csrf: String,
    /// `true` pauses, `false` resumes.
    #[serde(default)]
    paused: String,
}

/// `POST /for-you/pause`: pause or resume.
pub async fn pause(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<PauseForm>,
) -> Result<Response, AppError> {
    let session = accepted(&state, &viewer, &form.csrf, PAGE)?;
    let paused = match form.paused.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(AppError::BadRequest(format!(
                "paused={other:?}: send true or false"
            )));
        }
    };
    recommend::set_paused(&*state.store, session.user.id, paused, Utc::now())
        .await
        .map_err(refused)?;
    Ok(see_other(PAGE))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /for-you/reset`: every signal so far is ignored from now on, and the seeds go.
pub async fn reset(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let session = accepted(&state, &viewer, &form.csrf, PAGE)?;
    recommend::reset(&*state.store, session.user.id, Utc::now())
        .await
        .map_err(refused)?;
    Ok(see_other(PAGE))
}

#[derive(Deserialize)]
pub struct SeedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    paper: String,
    /// `add` or `remove`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    back: Option<String>,
}

/// `POST /for-you/seeds`: "Recommend from this" (cards, paper pages) and taking a seed back.
pub async fn change_seed(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SeedForm>,
) -> Result<Response, AppError> {
    let back = form
        .back
        .as_deref()
        .map_or_else(|| PAGE.to_owned(), crate::redirect::same_site_or_home);
    let session = accepted(&state, &viewer, &form.csrf, &back)?;
    let id = ArxivId::parse(form.paper.trim()).map_err(|e| {
        AppError::BadRequest(format!("paper: {:?} is not an arXiv id ({e})", form.paper))
    })?;
    let user = session.user.id;
    match form.action.as_str() {
        "add" => {
            recommend::add_seed(&*state.store, user, &id, Utc::now())
                .await
                .map_err(refused)?;
        }
        "remove" => {
            recommend::remove_seed(&*state.store, user, &id)
                .await
                .map_err(refused)?;
        }
        other => {
            return Err(AppError::BadRequest(format!(
                "action={other:?}: use add or remove"
            )));
        }
    }
    Ok(see_other(&back))
}

#[derive(Deserialize)]
pub struct DigestPicksForm {
    #[serde(default)]
    csrf: String,
    /// `off`, or a number of picks (1–10).
    #[serde(default)]
    picks: String,
}

/// `POST /for-you/digest`: puts that many picks in the reader's digest, or (`off`) none; a
/// value out of range is refused on the page, saying which and why.
pub async fn change_digest_picks(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<DigestPicksForm>,
) -> Result<Response, AppError> {
    let session = accepted(&state, &viewer, &form.csrf, PAGE)?;
    match recommend::set_digest_picks(&*state.store, session.user.id, &form.picks, Utc::now()).await
    {
        Ok(_) => Ok(see_other(&format!("{PAGE}#digest"))),
        Err(e) if e.is_refusal() => for_you_page(&state, &viewer, Some(e.to_string()), None).await,
        Err(e) => Err(failed(e)),
    }
}

/// `POST /for-you/feed-address`: a new private feed address, shown once on the page.
pub async fn create_feed_address(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let session = accepted(&state, &viewer, &form.csrf, PAGE)?;
    let made = feed_tokens::create_feed_token(
        &*state.store,
        session.user.id,
        &FeedScope::ForYou,
        Utc::now(),
    )
    .await
    .map_err(feed_token_refused)?;
    let base = base_url(&state, &headers);
    let address = format!("{base}/for-you/feed.xml?token={}", encode(&made.secret));
    for_you_page(&state, &viewer, None, Some(address)).await
}

/// `GET /for-you/feed.xml|feed.atom?token=`: the private feed, the same picks as the page,
/// each with why; empty while paused or before the first signal.
pub async fn for_you_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    params: Result<Query<TokenParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let format = format_of(&file).ok_or_else(|| {
        AppError::not_found(
            "No such page",
            "The For you feed is at /for-you/feed.xml (RSS) or /for-you/feed.atom (Atom).",
        )
    })?;
    let reader = feed_reader(&state, params, &FeedScope::ForYou, "your For you page").await?;
    let page = state
        .recommender
        .for_you(&*state.store, reader, FEED_PICKS)
        .await
        .map_err(refused)?;
    let items = match page.result {
        ForYou::Picks(items) => items,
        _ => Vec::new(),
    };
    let base = base_url(&state, &headers);
    let items: Vec<FeedItem> = items
        .iter()
        .map(|item| {
            let mut entry = FeedItem::for_paper(
                &base,
                &item.paper,
                paperfeed_core::listing_time(&item.paper),
            );
            let mut why: Vec<String> = item.reasons.iter().map(ToString::to_string).collect();
            why.push(item.terms.to_string());
            entry.summary = format!("Why: {}.\n\n{}", why.join("; "), entry.summary);
            entry
        })
        .collect();
    let feed = Feed {
        title: "For you · paperfeed".into(),
        description: "Papers picked for you from what you saved, upvoted, followed and seeded"
            .into(),
        html_url: format!("{base}{PAGE}"),
        // The token stays out of the document: a feed shared onwards does not carry it.
        self_url: format!("{base}/for-you/feed.{}", format.extension()),
        updated: items
            .iter()
            .map(|i| i.published)
            .max()
            .unwrap_or(chrono::DateTime::UNIX_EPOCH),
        items,
    };
    Ok(private_feed(&feed, format))
}
