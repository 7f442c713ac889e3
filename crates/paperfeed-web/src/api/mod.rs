//! The JSON API under `/api/`, in Hugging Face's routes and shapes so that HF's own clients
//! (`huggingface_hub`, the `hf` CLI) work against this hub unchanged. Routes and their
//! OpenAPI 3.1 document come from the same handler annotations (utoipa-axum), and
//! `/api/openapi.json` serves that document.

mod community;
mod daily;
mod error;
mod json;
pub mod markdown;
mod me;
mod me_data;
mod me_follows;
mod me_library;
mod me_mutes;
mod me_recommendations;
mod me_searches;
mod papers;
mod params;
mod suggest;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cached_pages;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "paperfeed",
        description = "A self-hosted Daily Papers hub, API-compatible with Hugging Face's \
                       daily papers and papers routes. Every error is `{\"error\", \"parameter\"?}`."
    ),
    paths(paper_markdown_doc),
    components(schemas(daily::DailySort)),
    modifiers(&BearerScheme),
    tags(
        (name = "papers", description = "Daily papers and papers"),
        (name = "community", description = "Upvotes and submissions with `Authorization: Bearer TOKEN`"),
        (name = "me", description = "The caller's account and linked sign-in providers, own follows, mutes, saved searches, recommendations, feeds and data, with `Authorization: Bearer TOKEN`"),
        (name = "library", description = "The caller's saved papers and collections, with `Authorization: Bearer TOKEN`")
    )
)]
struct ApiDoc;

/// Defines the `bearer` security scheme the community routes name: API tokens from
/// `paperfeed token create` or account settings, sent as `Authorization: Bearer TOKEN`.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (`paperfeed token create NAME`)"))
                    .build(),
            ),
        );
    }
}

/// A paper as Markdown: title, authors, dates, links, abstract. The paper page `/papers/{id}`
/// answers the same to `Accept: text/markdown`.
#[utoipa::path(
    get,
    path = "/papers/{id}.md",
    tag = "papers",
    params(("id" = String, Path, description = "An arXiv id in canonical form (no prefix or version)", example = "2608.19880")),
    responses(
        (status = 200, description = "Title, authors, links and abstract", content_type = "text/markdown", body = String),
        (status = 308, description = "A versioned or prefixed id: the canonical address is in `Location`",
            headers(("location" = String, description = "`/papers/{id}.md` with the canonical id"))),
        (status = 400, description = "Not an arXiv id (an HTML page saying why)", content_type = "text/html", body = String),
        (status = 404, description = "No such paper on this hub (an HTML page)", content_type = "text/html", body = String),
    )
)]
#[expect(
    dead_code,
    reason = "carries the OpenAPI description of a route served elsewhere"
)]
fn paper_markdown_doc() {}

/// A paper in the API's shape (HF's `paper` object), for bodies sent elsewhere (webhooks).
pub fn paper_json(paper: &paperfeed_core::Paper) -> serde_json::Value {
    serde_json::to_value(json::PaperJson::new(paper)).unwrap_or_default()
}

/// A page error met outside the API's handlers (the body limit) in the API's error shape.
pub fn error_response(error: crate::AppError) -> axum::response::Response {
    error::ApiError::from(error).into_response()
}

/// States in the document the pattern each id and period is checked against (`params.rs`),
/// from the same constants, so the two cannot drift apart (utoipa takes only literals).
fn with_patterns(mut doc: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let operations = item
                .as_object_mut()
                .into_iter()
                .flat_map(|i| i.values_mut());
            for operation in operations {
                let parameters = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten();
                for parameter in parameters {
                    let pattern = match parameter.get("name").and_then(Value::as_str) {
                        Some("id") if path.ends_with(".md") => params::CANONICAL_ID_PATTERN,
                        Some("search_id") => params::POSITIVE_ID_PATTERN,
                        Some("before") if path == "/api/me/following" => {
                            params::LISTING_CURSOR_PATTERN
                        }
                        Some("limit")
                            if path == "/api/me/following" || path == "/api/me/recommendations" =>
                        {
                            params::LIMIT_100_PATTERN
                        }
                        Some("limit") if path == "/api/suggest" => params::LIMIT_10_PATTERN,
                        Some("kind") if path == "/api/me/follows" => params::FOLLOW_KIND_PATTERN,
                        Some("id") | Some("paper") => params::ID_PATTERN,
                        Some("cursor") => params::CANONICAL_ID_PATTERN,
                        Some("date") => params::DATE_PATTERN,
                        Some("week") => params::WEEK_PATTERN,
                        Some("month") => params::MONTH_PATTERN,
                        _ => continue,
                    };
                    if let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut)
                    {
                        schema.insert("pattern".to_owned(), pattern.into());
                    }
                }
            }
        }
    }
    if let Some(arxiv_id) = doc
        .pointer_mut("/components/schemas/SubmitJson/properties/arxivId")
        .and_then(Value::as_object_mut)
    {
        arxiv_id.insert("pattern".to_owned(), params::SUBMIT_PATTERN.into());
    }
    if let Some(id) = doc
        .pointer_mut("/components/schemas/DismissJson/properties/id")
        .and_then(Value::as_object_mut)
    {
        id.insert("pattern".to_owned(), params::ID_PATTERN.into());
    }
    doc
}

/// The API routes (and their document at `/api/openapi.json`), to merge into the hub's router.
pub fn router(state: AppState) -> Router<AppState> {
    // Answers that depend only on the store are kept per store change like rendered pages.
    let (cached, cached_doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(daily::list_daily_papers))
        .routes(routes!(papers::get_paper))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            cached_pages::serve_cached,
        ))
        .split_for_parts();
    let (uncached, uncached_doc) = OpenApiRouter::new()
        .routes(routes!(papers::search_papers))
        .routes(routes!(suggest::suggest))
        .routes(routes!(papers::list_papers))
        .routes(routes!(community::upvote_paper, community::withdraw_upvote))
        .routes(routes!(community::submit_paper_api))
        .merge(me_mutes::router())
        .routes(routes!(
            me_follows::list_follows,
            me_follows::create_follow,
            me_follows::delete_follow
        ))
        .routes(routes!(me_follows::get_following))
        .routes(routes!(me_recommendations::get_recommendations))
        .merge(me_library::routes())
        .merge(me_searches::routes())
        .routes(routes!(me::get_me))
        .routes(routes!(me_data::my_data))
        .split_for_parts();
    let mut doc = cached_doc;
    doc.merge(uncached_doc);
    let document = Bytes::from(
        serde_json::to_value(&doc)
            .map(with_patterns)
            .and_then(|doc| serde_json::to_string_pretty(&doc))
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "the OpenAPI document does not serialize");
                String::new()
            }),
    );
    cached
        .merge(uncached)
        .route(
            "/api/openapi.json",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    document.clone(),
                )
                    .into_response()
            }),
        )
        .method_not_allowed_fallback(error::wrong_method)
        .route("/api/{*rest}", any(error::no_such_route))
}
