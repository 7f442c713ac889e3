//! JSON views in Hugging Face's shapes (`/api/daily_papers`, `/api/papers/{id}`), field for
//! field as HF's real responses name and type them, so that HF's own clients read ours.
//! Fields we have no data for are left out, as HF leaves them out when it has none.

use chrono::{DateTime, NaiveDate, Utc};
use paperfeed_core::{Author, Paper, Submitter, fingerprint};
use serde::Serialize;
use utoipa::ToSchema;

/// HF's timestamp form: `2026-08-20T00:00:00.000Z`.
fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A day as HF dates it: midnight UTC.
fn day_timestamp(day: NaiveDate) -> String {
    format!("{}T00:00:00.000Z", day.format("%Y-%m-%d"))
}

/// A hub user (a submitter, or an author who claimed the paper).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserJson {
    /// The user name.
    #[schema(example = "akhaliq")]
    pub name: String,
    /// The user name again, under the key HF's client reads it from.
    pub user: String,
    pub fullname: String,
    /// Always `user`.
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub kind: &'static str,
}

impl UserJson {
    fn named(name: &str, fullname: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            user: name.to_owned(),
            fullname: fullname.unwrap_or(name).to_owned(),
            kind: "user",
        }
    }

    fn submitter(s: &Submitter) -> Self {
        Self::named(&s.name, s.fullname.as_deref())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorJson {
    /// A stable id for this author of this paper (derived from the paper id and position:
    /// the hub keeps no author records of its own).
    #[serde(rename = "_id")]
    #[schema(example = "00000000a1b2c3d4e5f60718")]
    pub id: String,
    /// Empty for a hidden author: the hub shows hidden authors by name nowhere.
    pub name: String,
    /// Hidden by the author's request (still counted, in place).
    pub hidden: bool,
    /// The hub user who claimed this authorship.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserJson>,
}

impl AuthorJson {
    fn new(paper: &Paper, index: usize, author: &Author) -> Self {
        let hash = fingerprint(&format!("{}#{index}", paper.id));
        Self {
            id: format!("{index:08x}{hash:016x}"),
            name: if author.hidden {
                String::new()
            } else {
                author.name.clone()
            },
            hidden: author.hidden,
            user: author
                .user
                .as_deref()
                .filter(|_| !author.hidden)
                .map(|u| UserJson::named(u, None)),
        }
    }
}

/// A paper, as HF's `paper` object.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaperJson {
    /// The arXiv id.
    #[schema(example = "2608.19880")]
    pub id: String,
    pub authors: Vec<AuthorJson>,
    /// When version 1 appeared on arXiv.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-08-20T00:00:00.000Z")]
    pub published_at: Option<String>,
    /// The first day the paper was featured on the daily feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_on_daily_at: Option<String>,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_on_daily_by: Option<UserJson>,
    /// The abstract.
    pub summary: String,
    pub upvotes: i64,
    /// HF's discussion thread id; this hub has no discussions yet, so it is never sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discussion_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_repo: Option<String>,
    #[serde(rename = "ai_summary", skip_serializing_if = "Option::is_none")]
    pub ai_summary: Option<String>,
    #[serde(rename = "ai_keywords", skip_serializing_if = "Vec::is_empty")]
    pub ai_keywords: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_stars: Option<i64>,
}

impl PaperJson {
    pub fn new(paper: &Paper) -> Self {
        let first = paper.featured.first();
        Self {
            id: paper.id.to_string(),
            authors: paper
                .authors
                .iter()
                .enumerate()
                .map(|(i, a)| AuthorJson::new(paper, i, a))
                .collect(),
            published_at: paper.published_at.map(timestamp),
            submitted_on_daily_at: first.map(|f| day_timestamp(f.date)),
            title: paper.title.clone(),
            submitted_on_daily_by: first
                .and_then(|f| f.submitter.as_ref())
                .map(UserJson::submitter),
            summary: paper.abstract_text.clone(),
            upvotes: paper.upvotes,
            discussion_id: None,
            project_page: paper.project_page.clone(),
            github_repo: paper.github_repo.clone(),
            ai_summary: paper.ai_summary.clone(),
            ai_keywords: paper.ai_keywords.clone(),
            github_stars: paper.github_stars,
        }
    }
}

/// `GET /api/papers/{id}`: the paper object with its comment count beside it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaperDetailJson {
    #[serde(flatten)]
    pub paper: PaperJson,
    pub num_comments: i64,
}

impl PaperDetailJson {
    pub fn new(paper: &Paper) -> Self {
        Self {
            paper: PaperJson::new(paper),
            num_comments: paper.num_comments,
        }
    }
}

/// One entry of a daily feed (`/api/daily_papers`), also the shape of search results.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyPaperJson {
    pub paper: PaperJson,
    /// The featured day this entry is listed under (not the arXiv date; that is
    /// `paper.publishedAt`). For a paper never featured: its arXiv date.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-08-21T00:00:00.000Z")]
    pub published_at: Option<String>,
    pub title: String,
    pub summary: String,
    pub num_comments: i64,
    /// Who put the paper on the feed that day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<UserJson>,
}

impl DailyPaperJson {
    /// The entry for `paper` listed under featured day `day` (`None`: not featured).
    pub fn new(paper: &Paper, day: Option<NaiveDate>) -> Self {
        let featuring = day.and_then(|d| paper.featured.iter().find(|f| f.date == d));
        Self {
            published_at: day
                .map(day_timestamp)
                .or_else(|| paper.published_at.map(timestamp)),
            title: paper.title.clone(),
            summary: paper.abstract_text.clone(),
            num_comments: paper.num_comments,
            submitted_by: featuring
                .and_then(|f| f.submitter.as_ref())
                .map(UserJson::submitter),
            paper: PaperJson::new(paper),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_a_z_like_hf() {
        let day: NaiveDate = "2026-08-21".parse().unwrap();
        assert_eq!(day_timestamp(day), "2026-08-21T00:00:00.000Z");
        let at = DateTime::parse_from_rfc3339("2026-08-20T13:05:09Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(at), "2026-08-20T13:05:09.000Z");
    }
}
