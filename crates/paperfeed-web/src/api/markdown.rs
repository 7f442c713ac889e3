//! A paper as Markdown (`/papers/{id}.md`, or the paper page asked for with
//! `Accept: text/markdown`): what HF's `read_paper` and `hf papers read` fetch.

use std::fmt::Write;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paperfeed_core::Paper;

/// Markdown of `paper`: title, authors, dates, links, abstract and AI summary. Text is the
/// stored text; line breaks in one-line fields are folded so they cannot start new blocks,
/// and only http(s) links are given.
pub fn paper_markdown(paper: &Paper) -> String {
    let line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", line(&paper.title));
    let authors: Vec<String> = paper.visible_authors().map(|a| line(&a.name)).collect();
    if !authors.is_empty() {
        let _ = writeln!(md, "**Authors:** {}\n", authors.join(", "));
    }
    if let Some(at) = paper.published_at {
        let _ = writeln!(md, "**Published on arXiv:** {}\n", at.format("%Y-%m-%d"));
    }
    if !paper.featured.is_empty() {
        let days: Vec<String> = paper.featured.iter().map(|f| f.date.to_string()).collect();
        let _ = writeln!(md, "**Featured:** {}\n", days.join(", "));
    }
    let _ = writeln!(md, "**Upvotes:** {}\n", paper.upvotes);
    let _ = writeln!(md, "## Links\n");
    let _ = writeln!(md, "- arXiv: {}", paper.id.abs_url());
    let _ = writeln!(md, "- PDF: {}", paper.id.pdf_url());
    let links = [
        ("Code", &paper.github_repo),
        ("Project page", &paper.project_page),
    ];
    for (label, url) in links {
        if let Some(url) = url.as_deref().filter(|u| is_web_url(u)) {
            let _ = writeln!(md, "- {label}: {}", line(url));
        }
    }
    let _ = writeln!(md, "\n## Abstract\n\n{}", paper.abstract_text.trim());
    if let Some(summary) = &paper.ai_summary {
        let _ = writeln!(md, "\n## AI summary\n\n{}", summary.trim());
    }
    if !paper.ai_keywords.is_empty() {
        let _ = writeln!(
            md,
            "\n**Keywords:** {}",
            line(&paper.ai_keywords.join(", "))
        );
    }
    md
}

fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

pub fn markdown_response(paper: &Paper) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            ),
            (header::VARY, HeaderValue::from_static("accept")),
        ],
        paper_markdown(paper),
    )
        .into_response()
}

/// `/papers/{id}.md` is read-only: it shares its route with the paper pages' form posts
/// (`/papers/{id}/upvote`), so another method would reach the form handler and be refused
/// for the wrong reason. This layer answers those with 405 and `Allow`, as the document says.
pub async fn only_read_markdown(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    if read || !request.uri().path().ends_with(".md") {
        return next.run(request).await;
    }
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
        "a paper's Markdown can only be read (GET)",
    )
        .into_response()
}

/// Whether the client prefers Markdown to HTML: `text/markdown` is in `Accept` with a weight
/// above zero and at least that of `text/html`. Wildcards alone mean HTML.
pub fn wants_markdown(headers: &HeaderMap) -> bool {
    let mut markdown = 0.0_f32;
    let mut html = 0.0_f32;
    for accept in headers.get_all(header::ACCEPT) {
        let Ok(accept) = accept.to_str() else {
            continue;
        };
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match kind.as_str() {
                "text/markdown" => markdown = markdown.max(q),
                "text/html" => html = html.max(q),
                _ => {}
            }
        }
    }
    markdown > 0.0 && markdown >= html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn markdown_is_served_only_when_preferred_to_html() {
        assert!(wants_markdown(&accept("text/markdown")));
        assert!(wants_markdown(&accept("text/markdown, text/html;q=0.9")));
        assert!(!wants_markdown(&accept(
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )));
        assert!(!wants_markdown(&accept("*/*")));
        assert!(!wants_markdown(&accept("text/markdown;q=0")));
        assert!(!wants_markdown(&HeaderMap::new()));
    }
}
