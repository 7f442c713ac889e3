//! Author, organisation and category pages, follow buttons, the Following feed (page and private
//! RSS/Atom), and the reader's private feed addresses.
//!
//! These pages depend on who asks (follow buttons, the reader's feed), and follows do not move
//! the store's change counter, so the routes are mounted outside the ETag validators and the
//! page cache (see [`routes`]) and answer `Cache-Control: private, no-store`.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use paperfeed_app::feed_tokens::{self, FeedScope};
use paperfeed_app::follows::{
    self, FollowError, FollowingItem, Listing, cursor_text, page_size, parse_cursor,
};
use paperfeed_core::{
    AuthorKey, FollowKind, FollowTarget, IndexKind, category_name, organization_name,
};
use paperfeed_store::ListingCursor;
use serde::Deserialize;

use crate::community::auth::Viewer;
use crate::community::rate_limit::Action;
use crate::error::{AppError, failed, render_error};
use crate::private_feed::{TokenParams, feed_reader, feed_token_refused, private, private_feed};
use crate::query::encode;
use crate::redirect::see_other;
use crate::state::AppState;
use crate::syndication::{Feed, FeedFormat, FeedItem, base_url};
use crate::views::{CardView, Link, author_href, category_href, organization_href};

/// The routes of this module, with the body limit of every route; mounted after the ETag
/// validators (`lib.rs`), since what they show depends on the reader.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/authors/{slug}", get(show_author))
        .route("/orgs/{name}", get(show_organization))
        .route("/categories/{name}", get(show_category))
        .route("/follows", post(change_follow))
        .route("/following", get(show_following))
        .route("/following/feed-address", post(create_feed_address))
        .route("/following/feed.xml", get(following_rss))
        .route("/following/feed.atom", get(following_atom))
        .route(
            "/account/feed-tokens/{id}/revoke",
            post(revoke_feed_address),
        )
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::body_limit::limit_body))
}

#[derive(Deserialize, Default)]
pub struct PageParams {
    #[serde(default)]
    before: Option<String>,
}

fn cursor(
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Option<ListingCursor>, AppError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    match params.before.as_deref().filter(|b| !b.is_empty()) {
        None => Ok(None),
        Some(text) => parse_cursor(text).map(Some).ok_or_else(|| {
            AppError::BadRequest(format!("before={text:?} is not a position in this list"))
        }),
    }
}

/// The follow button of a page: what it follows and whether the viewer does.
pub struct FollowButton {
    kind: &'static str,
    key: String,
    following: bool,
    back: String,
    csrf: String,
}

async fn follow_button(
    state: &AppState,
    viewer: &Viewer,
    target: &FollowTarget,
    back: &str,
) -> Result<Option<FollowButton>, AppError> {
    let Some(session) = viewer.0.as_ref() else {
        return Ok(None);
    };
    Ok(Some(FollowButton {
        kind: target.kind().as_str(),
        key: target.key(),
        following: state.store.is_following(session.user.id, target).await?,
        back: back.to_owned(),
        csrf: session.csrf_token.clone(),
    }))
}

/// One paper in a list, with why it is there (the Following feed) or nothing.
pub struct ListedCard {
    card: CardView,
    reasons: Vec<Link>,
}

fn card_of(paper: &paperfeed_core::Paper, at: chrono::DateTime<Utc>) -> CardView {
    let day = paper.first_featured().unwrap_or_else(|| at.date_naive());
    CardView::new(paper, day, false)
}

#[derive(Template)]
#[template(path = "follows_list.html")]
struct ListPage {
    title: String,
    heading: String,
    eyebrow: String,
    notes: Vec<String>,
    variants: Vec<Link>,
    button: Option<FollowButton>,
    cards: Vec<ListedCard>,
    next: Option<String>,
    empty: String,
    feed_address: Option<String>,
    csrf: Option<String>,
    following_page: bool,
    /// The Following page's "N hidden — show" control.
    control: Option<crate::personal::HiddenControl>,
}

impl ListPage {
    fn new(title: String, heading: String, eyebrow: &str) -> Self {
        Self {
            title,
            heading,
            eyebrow: eyebrow.to_owned(),
            notes: Vec::new(),
            variants: Vec::new(),
            button: None,
            cards: Vec::new(),
            next: None,
            control: None,
            empty: String::new(),
            feed_address: None,
            csrf: None,
            following_page: false,
        }
    }

    fn listing(&mut self, listing: Listing, path: &str) {
        self.cards = listing
            .papers
            .iter()
            .map(|p| ListedCard {
                card: card_of(&p.paper, p.at),
                reasons: Vec::new(),
            })
            .collect();
        self.next = listing
            .next
            .map(|c| format!("{path}?before={}", encode(&cursor_text(&c))));
    }

    fn respond(&self) -> Result<Response, AppError> {
        Ok(private(
            Html(self.render().map_err(render_error)?).into_response(),
        ))
    }
}

pub async fn show_author(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let before = cursor(params)?;
    let Some(key) =
        AuthorKey::from_slug(&slug).or_else(|| AuthorKey::from_name(&slug.replace('-', " ")))
    else {
        return Err(AppError::not_found(
            "No such author",
            "An author page is named by letters and digits joined by dashes.",
        ));
    };
    let path = author_href(&key);
    if key.slug() != slug {
        // One address per author: a variant spelling goes to the canonical one.
        return Ok(see_other(&path));
    }
    let page = follows::author_page(&*state.store, &key, before, page_size(None))
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                "No such author",
                format!("No paper on this hub lists an author named “{key}”."),
            )
        })?;
    let mut view = ListPage::new(
        page.display_name.clone(),
        page.display_name.clone(),
        "Author",
    );
    view.notes.push(
        "Names are merged when they are the same once accents, case, punctuation and \
         “Last, First” order are set aside, or when the same Hugging Face account claimed them. \
         Initials are never expanded."
            .into(),
    );
    view.variants = page
        .variants
        .iter()
        .map(|v| {
            let why = match &v.via_account {
                None => "same normalised name".to_owned(),
                Some(account) => format!("same claimed account: {account}"),
            };
            Link::new(
                author_href(&v.key),
                format!("{} — {} paper(s), {why}", v.name, v.papers),
            )
        })
        .collect();
    view.button = follow_button(&state, &viewer, &FollowTarget::Author(key), &path).await?;
    view.listing(page.listing, &path);
    view.respond()
}

async fn topic(
    state: &AppState,
    viewer: &Viewer,
    kind: IndexKind,
    target: FollowTarget,
    name: &str,
    path: String,
    before: Option<ListingCursor>,
) -> Result<Response, AppError> {
    let page = follows::topic_page(&*state.store, kind, name, before, page_size(None)).await?;
    let (eyebrow, heading) = match kind {
        IndexKind::Organization => (
            "Organisation",
            page.label.clone().unwrap_or_else(|| name.to_owned()),
        ),
        _ => ("Category", name.to_owned()),
    };
    let mut view = ListPage::new(heading.clone(), heading, eyebrow);
    view.empty = format!("No paper on this hub is listed under {name} yet.");
    view.button = follow_button(state, viewer, &target, &path).await?;
    view.listing(page.listing, &path);
    view.respond()
}

pub async fn show_organization(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let before = cursor(params)?;
    let name = organization_name(&name).ok_or_else(|| {
        AppError::not_found(
            "No such organisation",
            "Organisation names are letters, digits, -, _ and .",
        )
    })?;
    let path = organization_href(&name);
    let target = FollowTarget::Organization(name.clone());
    topic(
        &state,
        &viewer,
        IndexKind::Organization,
        target,
        &name,
        path,
        before,
    )
    .await
}

pub async fn show_category(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let before = cursor(params)?;
    let name = category_name(&name).ok_or_else(|| {
        AppError::not_found(
            "No such category",
            "arXiv categories look like cs.CL or hep-th.",
        )
    })?;
    let path = category_href(&name);
    let target = FollowTarget::Category(name.clone());
    topic(
        &state,
        &viewer,
        IndexKind::Category,
        target,
        &name,
        path,
        before,
    )
    .await
}

#[derive(Deserialize)]
pub struct FollowForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    key: String,
    /// `follow` or `unfollow`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    back: Option<String>,
}

fn follow_refused(e: FollowError) -> AppError {
    match e {
        FollowError::TooMany => AppError::BadRequest(e.to_string()),
        FollowError::Store(_) => failed(e),
    }
}

/// `POST /follows`: follow or unfollow what the form names, then back to the page it came from.
pub async fn change_follow(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<FollowForm>,
) -> Result<Response, AppError> {
    let back = form.back.as_deref().map_or_else(
        || "/following".to_owned(),
        crate::redirect::same_site_or_home,
    );
    let session = viewer.require_csrf(&form.csrf, &back)?;
    state
        .community
        .limit(Action::Follow, &session.user.id.0.to_string())?;
    let target = FollowKind::parse(&form.kind)
        .and_then(|kind| FollowTarget::parse(kind, &form.key))
        .ok_or_else(|| {
            AppError::BadRequest("kind, key: nothing of that name can be followed".into())
        })?;
    match form.action.as_str() {
        "follow" => {
            follows::follow(&*state.store, session.user.id, &target, Utc::now())
                .await
                .map_err(follow_refused)?;
        }
        "unfollow" => {
            follows::unfollow(&*state.store, session.user.id, &target)
                .await
                .map_err(follow_refused)?;
        }
        other => {
            return Err(AppError::BadRequest(format!(
                "action={other:?}: use follow or unfollow"
            )));
        }
    }
    Ok(see_other(&back))
}

/// The reasons of an item as links to what is followed.
fn reason_links(item: &FollowingItem) -> Vec<Link> {
    item.reasons
        .iter()
        .map(|reason| {
            let href = match reason.target() {
                FollowTarget::Author(key) => author_href(&key),
                FollowTarget::Organization(name) => organization_href(&name),
                FollowTarget::Category(name) => category_href(&name),
                FollowTarget::SavedSearch(_) => "/account/searches".to_owned(),
            };
            Link::new(href, reason.to_string())
        })
        .collect()
}

async fn following_page(
    state: &AppState,
    viewer: &Viewer,
    before: Option<ListingCursor>,
    feed_address: Option<String>,
    visibility: &crate::personal::VisibilityParams,
) -> Result<Response, AppError> {
    let session = viewer.require("/following")?;
    let limit = page_size(None);
    let matches = follows::saved_search_matches(
        state.search.clone(),
        &state.search_matches,
        &*state.store,
        session.user.id,
        before.as_ref(),
        limit,
    )
    .await?;
    let mut page =
        follows::following_feed(&*state.store, session.user.id, &matches, before, limit).await?;
    // Muted, dismissed and (asked for) seen papers are hidden, counted for the control.
    let hidden = if visibility.show_hidden() {
        0
    } else {
        follows::without_hidden(
            &*state.store,
            &state.filters,
            session.user.id,
            &mut page,
            visibility.hide_seen(),
        )
        .await?
    };
    let mut view = ListPage::new("Following".into(), "Following".into(), "Your feed");
    view.following_page = true;
    view.control =
        crate::personal::HiddenControl::new(viewer, "/following", "", visibility, hidden);
    view.csrf = Some(session.csrf_token.clone());
    view.feed_address = feed_address;
    view.empty = if page.follows == 0 {
        "You follow nothing yet: follow authors, organisations and categories from their pages."
            .into()
    } else {
        "Nothing on this hub matches what you follow yet.".into()
    };
    // The reader's controls on each card, as on their day pages: Not interested and Save.
    let back = "/following";
    let mut cards: Vec<CardView> = page
        .items
        .iter()
        .map(|item| {
            let mut card = card_of(&item.paper, item.at);
            crate::personal::personalise(&mut card, viewer, back, None);
            card
        })
        .collect();
    crate::saved::add_save_buttons(state, viewer, &mut cards, back).await?;
    view.cards = cards
        .into_iter()
        .zip(&page.items)
        .map(|(card, item)| ListedCard {
            card,
            reasons: reason_links(item),
        })
        .collect();
    view.next = page
        .next
        .map(|c| format!("/following?before={}", encode(&cursor_text(&c))));
    view.respond()
}

pub async fn show_following(
    State(state): State<AppState>,
    viewer: Viewer,
    visibility: crate::personal::VisibilityParams,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let before = cursor(params)?;
    following_page(&state, &viewer, before, None, &visibility).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /following/feed-address`: a new private feed address, shown once on the page.
pub async fn create_feed_address(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/following")?;
    state
        .community
        .limit(Action::Follow, &session.user.id.0.to_string())?;
    let made = feed_tokens::create_feed_token(
        &*state.store,
        session.user.id,
        &FeedScope::Following,
        Utc::now(),
    )
    .await
    .map_err(feed_token_refused)?;
    let base = base_url(&state, &headers);
    let address = format!("{base}/following/feed.xml?token={}", encode(&made.secret));
    following_page(
        &state,
        &viewer,
        None,
        Some(address),
        &crate::personal::VisibilityParams::default(),
    )
    .await
}

/// `POST /account/feed-tokens/{id}/revoke`: the address stops working at once.
pub async fn revoke_feed_address(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AppError> {
    let session = viewer.require_csrf(&form.csrf, "/account")?;
    state
        .community
        .limit(Action::Follow, &session.user.id.0.to_string())?;
    feed_tokens::revoke_feed_token(&*state.store, session.user.id, id)
        .await
        .map_err(feed_token_refused)?;
    Ok(see_other("/account"))
}

pub async fn following_rss(
    state: State<AppState>,
    headers: HeaderMap,
    params: Result<Query<TokenParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    following_feed(state, headers, params, FeedFormat::Rss).await
}

pub async fn following_atom(
    state: State<AppState>,
    headers: HeaderMap,
    params: Result<Query<TokenParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    following_feed(state, headers, params, FeedFormat::Atom).await
}

/// Items in the private Following feed.
const FEED_ITEMS: usize = 50;

async fn following_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<TokenParams>, axum::extract::rejection::QueryRejection>,
    format: FeedFormat,
) -> Result<Response, AppError> {
    let reader = feed_reader(&state, params, &FeedScope::Following, "your Following page").await?;
    let matches = follows::saved_search_matches(
        state.search.clone(),
        &state.search_matches,
        &*state.store,
        reader,
        None,
        FEED_ITEMS,
    )
    .await?;
    let mut page =
        follows::following_feed(&*state.store, reader, &matches, None, FEED_ITEMS).await?;
    follows::without_hidden(&*state.store, &state.filters, reader, &mut page, false).await?;
    let base = base_url(&state, &headers);
    let items: Vec<FeedItem> = page
        .items
        .iter()
        .map(|item| {
            let why: Vec<String> = item.reasons.iter().map(ToString::to_string).collect();
            FeedItem {
                guid: item.paper.id.abs_url(),
                title: item.paper.title.clone(),
                link: format!("{base}/papers/{}", item.paper.id),
                summary: format!("Why: {}.\n\n{}", why.join("; "), item.paper.abstract_text),
                authors: item
                    .paper
                    .visible_authors()
                    .map(|a| a.name.clone())
                    .collect(),
                categories: item.paper.categories.clone(),
                published: item.at,
                upvotes: item.paper.upvotes,
            }
        })
        .collect();
    let feed = Feed {
        title: "Following · paperfeed".into(),
        description: "Papers by the authors, organisations and categories you follow".into(),
        html_url: format!("{base}/following"),
        // The token stays out of the document: a feed shared onwards does not carry it.
        self_url: format!("{base}/following/feed.{}", format.extension()),
        updated: items
            .iter()
            .map(|i| i.published)
            .max()
            .unwrap_or(chrono::DateTime::UNIX_EPOCH),
        items,
    };
    Ok(private_feed(&feed, format))
}
