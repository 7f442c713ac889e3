//! A paper or a list of papers in the formats besides HTML, chosen by the address's suffix:
//! Markdown (`.md`, one paper), and for citation managers BibTeX (`.bib`), RIS (`.ris`) and
//! CSL-JSON (`.csl.json`), written by `paperfeed_core::citation`.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::api::markdown::markdown_response;
use crate::error::AppError;

/// The formats a paper can be downloaded in besides its page, by address suffix.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Export {
    Markdown,
    BibTex,
    Ris,
    CslJson,
}

impl Export {
    /// The citation formats, which lists (a day, week or month) have too.
    pub(crate) fn for_lists(raw: &str) -> (&str, Option<Export>) {
        match Self::split(raw) {
            (_, Some((Export::Markdown, _))) | (_, None) => (raw, None),
            (rest, Some((export, _))) => (rest, Some(export)),
        }
    }

    /// The citation format a `format=` parameter names: `bib`, `ris` or `csl`.
    pub(crate) fn named(name: &str) -> Result<Export, AppError> {
        match name.trim() {
            "bib" | "bibtex" => Ok(Export::BibTex),
            "ris" => Ok(Export::Ris),
            "csl" | "csl.json" | "csljson" => Ok(Export::CslJson),
            other => Err(AppError::BadRequest(format!(
                "format={:?} is not an export format: use bib, ris or csl",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    const ALL: [(Export, &'static str); 4] = [
        (Export::Markdown, ".md"),
        (Export::BibTex, ".bib"),
        (Export::Ris, ".ris"),
        (Export::CslJson, ".csl.json"),
    ];

    /// The id and the export a path names (`2401.12345.bib` → BibTeX of `2401.12345`).
    pub(crate) fn split(raw: &str) -> (&str, Option<(Export, &'static str)>) {
        for (export, suffix) in Self::ALL {
            if let Some(id) = raw.strip_suffix(suffix) {
                return (id, Some((export, suffix)));
            }
        }
        (raw, None)
    }

    /// One paper in this format.
    pub(crate) fn response(self, paper: &paperfeed_core::Paper) -> Result<Response, AppError> {
        if self == Export::Markdown {
            return Ok(markdown_response(paper));
        }
        self.list(
            std::slice::from_ref(paper),
            &paper.id.as_str().replace('/', "_"),
        )
    }

    /// Papers in this format, as a file named `name` plus the format's suffix. Markdown is a
    /// format of one paper only ([`Export::for_lists`] never offers it); a list asked for it
    /// gets BibTeX.
    pub(crate) fn list(
        self,
        papers: &[paperfeed_core::Paper],
        name: &str,
    ) -> Result<Response, AppError> {
        let (content_type, suffix, body) = match self {
            Export::Markdown | Export::BibTex => (
                "application/x-bibtex; charset=utf-8",
                ".bib",
                papers
                    .iter()
                    .map(paperfeed_core::bibtex)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            Export::Ris => (
                "application/x-research-info-systems; charset=utf-8",
                ".ris",
                papers.iter().map(paperfeed_core::ris).collect::<String>(),
            ),
            Export::CslJson => (
                "application/vnd.citationstyles.csl+json; charset=utf-8",
                ".csl.json",
                serde_json::to_string_pretty(
                    &papers
                        .iter()
                        .map(paperfeed_core::csl_item)
                        .collect::<Vec<_>>(),
                )
                .map_err(|e| crate::error::failed_at("writing CSL-JSON", e))?,
            ),
        };
        let filename = format!("{name}{suffix}");
        let disposition = HeaderValue::try_from(format!("inline; filename=\"{filename}\""))
            .map_err(|e| crate::error::failed_at("naming an export", e))?;
        Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response())
    }
}
