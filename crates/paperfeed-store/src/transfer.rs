//! Copying one store into another, table by table (`paperfeed migrate`): rows read in key
//! order from the source a page at a time and written into the target one page per
//! transaction, ids and all, so references between tables hold.
//!
//! Writing is an upsert in which the source wins: a row missing from the target is added, a row
//! that differs is updated, an equal one is left alone, so a second run changes nothing and a
//! run cut short is completed by the next. The change counter is copied as the greater of the
//! two, so the target's `change_seq` is never below the source's (papers keep theirs).
//!
//! Rows travel as [`Value`]s, which both backends turn to and from their own column types.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::StoreError;

/// One column value on its way between stores.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Time(DateTime<Utc>),
    Day(NaiveDate),
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Time(t) => write!(f, "{}", t.to_rfc3339()),
            Value::Day(d) => write!(f, "{d}"),
            Value::Json(_) => f.write_str("(json)"),
            Value::Bytes(b) => write!(f, "({} bytes)", b.len()),
        }
    }
}

/// What a column holds, so each backend knows how it stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Bool,
    Text,
    /// An instant, kept to the millisecond.
    Time,
    /// An instant kept to the second (papers.published_at).
    TimeSecs,
    Day,
    Json,
    Bytes,
}

/// How a row already in the target is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The source's row replaces a different one.
    SourceWins,
    /// The greater `value` is kept (the change counter).
    Greatest,
}

/// One table: its key columns come first in `columns`.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub key_len: usize,
    pub columns: &'static [(&'static str, Kind)],
    pub merge: Merge,
}

impl Table {
    pub fn key_columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns[..self.key_len].iter().map(|c| c.0)
    }

    /// The key of `row`, for paging (`after`) and for messages.
    pub fn key_of(&self, row: &[Value]) -> Vec<Value> {
        row[..self.key_len.min(row.len())].to_vec()
    }

    /// `id=5` / `paper_id="2403.00001", day=2024-03-12`: a row named in an error.
    pub fn describe(&self, row: &[Value]) -> String {
        self.key_columns()
            .zip(row)
            .map(|(c, v)| format!("{c}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

use Kind::{Bool, Bytes, Day, Int, Json, Text, Time, TimeSecs};

/// Every table a store holds, parents before children. Leases are not copied: they belong to
/// running nodes.
pub const TABLES: &[Table] = &[
    Table {
        name: "papers",
        key_len: 1,
        columns: &[
            ("id", Text),
            ("title", Text),
            ("abstract", Text),
            ("authors", Json),
            ("categories", Json),
            ("published_at", TimeSecs),
            ("versions", Json),
            ("upvotes", Int),
            ("num_comments", Int),
            ("github_repo", Text),
            ("github_stars", Int),
            ("project_page", Text),
            ("ai_summary", Text),
            ("ai_keywords", Json),
            ("created_at", Time),
            ("updated_at", Time),
            ("change_seq", Int),
            ("text_hash", Int),
            ("local_upvotes", Int),
            ("local_comments", Int),
            ("organization", Json),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "featurings",
        key_len: 2,
        columns: &[
            ("paper_id", Text),
            ("day", Day),
            ("submitter_name", Text),
            ("submitter_fullname", Text),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "paper_embeddings",
        key_len: 2,
        columns: &[
            ("paper_id", Text),
            ("model", Text),
            ("text_hash", Int),
            ("vector", Bytes),
            ("seq", Int),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "users",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("username", Text),
            ("email", Text),
            ("password_hash", Text),
            ("is_admin", Bool),
            ("created_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "sessions",
        key_len: 1,
        columns: &[
            ("id_hash", Text),
            ("user_id", Int),
            ("csrf_token", Text),
            ("created_at", Time),
            ("expires_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "api_tokens",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("created_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "votes",
        key_len: 2,
        columns: &[("user_id", Int), ("paper_id", Text), ("created_at", Time)],
        merge: Merge::SourceWins,
    },
    Table {
        name: "comments",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("paper_id", Text),
            ("user_id", Int),
            ("body", Text),
            ("hidden", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "mutes",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("kind", Text),
            ("text", Text),
            ("key", Text),
            ("created_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "dismissed_papers",
        key_len: 2,
        columns: &[("user_id", Int), ("paper_id", Text), ("created_at", Time)],
        merge: Merge::SourceWins,
    },
    Table {
        name: "seen_papers",
        key_len: 2,
        columns: &[
            ("user_id", Int),
            ("paper_id", Text),
            ("reasons", Int),
            ("first_seen_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "saved_papers",
        key_len: 2,
        columns: &[
            ("user_id", Int),
            ("paper_id", Text),
            ("saved_at", Time),
            ("reading_state", Text),
            ("note", Text),
            ("updated_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "collections",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("public", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "collection_papers",
        key_len: 2,
        columns: &[
            ("collection_id", Int),
            ("paper_id", Text),
            ("added_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "harvest_positions",
        key_len: 1,
        columns: &[
            ("source", Text),
            ("cursor", Text),
            ("last_day", Day),
            ("updated_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "subscribers",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("email", Text),
            ("status", Text),
            ("frequency", Text),
            ("topics", Json),
            ("papers_per_digest", Int),
            ("permanent_failures", Int),
            ("confirm_sent_at", Time),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "digest_jobs",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("subscriber_id", Int),
            ("period", Text),
            ("state", Text),
            ("attempts", Int),
            ("lease_until", Time),
            ("claim_token", Text),
            ("next_attempt_at", Time),
            ("last_error", Text),
            ("sent_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "mailed_papers",
        key_len: 2,
        columns: &[("subscriber_id", Int), ("paper_id", Text), ("job_id", Int)],
        merge: Merge::SourceWins,
    },
    Table {
        name: "paper_keys",
        key_len: 4,
        columns: &[
            ("kind", Text),
            ("key", Text),
            ("sort_at", Time),
            ("paper_id", Text),
            ("label", Text),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "follows",
        key_len: 3,
        columns: &[
            ("user_id", Int),
            ("kind", Text),
            ("key", Text),
            ("created_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "feed_tokens",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("scope", Text),
            ("token_hash", Text),
            ("created_at", Time),
            ("last_used_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "saved_searches",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("name", Text),
            ("query", Text),
            ("mode", Text),
            ("sort", Text),
            ("created_seq", Int),
            ("created_at", Time),
            ("in_digest", Bool),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "saved_search_matches",
        key_len: 2,
        columns: &[
            ("search_id", Int),
            ("paper_id", Text),
            ("matched_at", Time),
            ("mailed_at", Time),
            ("found_through", Int),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "webhooks",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("search_id", Int),
            ("url", Text),
            ("secret", Text),
            ("created_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "webhook_deliveries",
        key_len: 1,
        columns: &[
            ("id", Int),
            ("hook_id", Int),
            ("paper_id", Text),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Time),
            ("last_attempt_at", Time),
            ("last_status", Int),
            ("last_error", Text),
            ("created_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "recommender_settings",
        key_len: 1,
        columns: &[
            ("user_id", Int),
            ("paused", Bool),
            ("social_weight", Int),
            ("recency_days", Int),
            ("exploration", Int),
            ("reset_at", Time),
            ("updated_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "recommender_seeds",
        key_len: 2,
        columns: &[("user_id", Int), ("paper_id", Text), ("added_at", Time)],
        merge: Merge::SourceWins,
    },
    Table {
        name: "for_you_digests",
        key_len: 1,
        columns: &[("user_id", Int), ("picks", Int), ("updated_at", Time)],
        merge: Merge::SourceWins,
    },
    Table {
        name: "identities",
        key_len: 2,
        columns: &[
            ("provider", Text),
            ("subject", Text),
            ("user_id", Int),
            ("login", Text),
            ("verified_email", Text),
            ("linked_at", Time),
            ("last_used_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "paper_thumbnails",
        key_len: 1,
        columns: &[
            ("paper_id", Text),
            ("image", Bytes),
            ("width", Int),
            ("height", Int),
            ("failure", Text),
            ("made_at", Time),
        ],
        merge: Merge::SourceWins,
    },
    Table {
        name: "store_counters",
        key_len: 1,
        columns: &[("name", Text), ("value", Int)],
        merge: Merge::Greatest,
    },
];

/// One table row as copied.
pub type TransferRow = Vec<Value>;

/// What writing a page of rows did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for Copied {
    fn add_assign(&mut self, other: Self) {
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// The SQL that upserts one row of `table` with the source winning. `placeholder(i)` renders
/// parameter `i` (0-based); `differs` renders "the stored row differs from `excluded`" for the
/// non-key columns in the backend's dialect.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn upsert_sql(
    table: &Table,
    placeholder: impl Fn(usize) -> String,
    differs: impl Fn(&[&str]) -> String,
) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.0).collect();
    let values: Vec<String> = (0..names.len()).map(&placeholder).collect();
    let keys: Vec<&str> = table.key_columns().collect();
    let rest = &names[table.key_len..];
    let update = match table.merge {
        Merge::SourceWins => {
            let set: Vec<String> = rest.iter().map(|c| format!("{c} = excluded.{c}")).collect();
            format!("do update set {} where {}", set.join(", "), differs(rest))
        }
        Merge::Greatest => format!(
            "do update set value = excluded.value where {}.value < excluded.value",
            table.name
        ),
    };
    format!(
        "insert into {} ({}) values ({}) on conflict ({}) {update}",
        table.name,
        names.join(", "),
        values.join(", "),
        keys.join(", ")
    )
}

/// The SQL that reads a page of `table` in key order, after a key when `after`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn page_sql(
    table: &Table,
    after: bool,
    placeholder: impl Fn(usize) -> String,
    limit: usize,
) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.0).collect();
    let keys: Vec<&str> = table.key_columns().collect();
    let filter = if after {
        let params: Vec<String> = (0..keys.len()).map(placeholder).collect();
        format!("where ({}) > ({})", keys.join(", "), params.join(", "))
    } else {
        String::new()
    };
    format!(
        "select {} from {} {filter} order by {} limit {limit}",
        names.join(", "),
        table.name,
        keys.join(", ")
    )
}

/// A store that can be copied from and into (both backends).
#[async_trait]
pub trait Transfer: Send + Sync + 'static {
    async fn count_rows(&self, table: &'static Table) -> Result<u64, StoreError>;

    /// At most `limit` rows of `table` in key order, after the key `after` when given.
    async fn read_rows(
        &self,
        table: &'static Table,
        after: Option<Vec<Value>>,
        limit: usize,
    ) -> Result<Vec<TransferRow>, StoreError>;

    /// Upserts `rows` (the source wins) in one transaction. A row the store refuses is a
    /// [`StoreError::Rejected`] naming the table and the row's key, and nothing of the page is
    /// kept.
    async fn write_rows(
        &self,
        table: &'static Table,
        rows: Vec<TransferRow>,
    ) -> Result<Copied, StoreError>;

    /// After every table is copied: new ids continue after the copied ones.
    async fn finish_transfer(&self) -> Result<(), StoreError>;
}
