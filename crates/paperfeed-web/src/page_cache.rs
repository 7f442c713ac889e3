//! Rendered pages kept in memory and served again until something they show changes.
//!
//! Every request asks the store for its change counter (one indexed row), so a page is never
//! served from before a change any node committed. When the counter has moved since the cache
//! last looked, the cache asks the store once which papers changed meanwhile
//! (`papers_changed_since`) and drops only the pages that show one of them: a page says what
//! it shows ([`Shows`], a response extension its handler sets: papers, a span of featured
//! days, links to the neighbouring days); a page that says nothing depends on everything.
//! Whatever cannot be told apart — a step of the counter that no changed paper accounts for
//! (library writes, anything that does not stamp a paper), too many changes at once, a store
//! error — empties the cache, as every change did before. A paper featured on a day the cache
//! has not seen with papers before may give other pages a new neighbour: pages that link
//! their neighbours go too.
//!
//! Each kept answer carries an entity tag computed from its bytes, so a revalidation is
//! answered 304 for as long as the page is the same, on every node alike, and a page whose
//! papers did not change keeps its tag through votes elsewhere.
//!
//! Some of what a page shows moves without any change to its papers: trending scores decay with
//! the clock, a new paper may join a paper's similar papers, the trending clock of an old
//! archive moves with its newest featured day. So a kept page is also re-rendered once it is
//! [`MAX_AGE`] old; its tag stays the same when its bytes do, so clients still get their 304.
//!
//! Only successful HTML and JSON GETs (pages, and API answers serialized once) are kept, with
//! their content type. Requests that prefer Markdown pass by: the same address answers them
//! differently.
//!
//! A page is keyed by the request as its handler reads it: the decoded path and only the
//! query parameters that route reads ([`known_params`]), so `?junk=N` cannot make a new entry
//! per request. The cache is bounded in bytes: past [`DEFAULT_BUDGET`] the least recently
//! used pages make room, and a page larger than an eighth of the budget is streamed to the
//! client without being kept (it is never buffered whole here).

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use lru::LruCache;
use paperfeed_core::ArxivId;
use paperfeed_store::{ChangedPaper, Store, StoreError};

use crate::error::AppError;

/// Bytes of pages (bodies, keys and bookkeeping) kept at most.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;
/// What an entry costs beyond its key and body: the kept headers and the map's own nodes.
const ENTRY_OVERHEAD: usize = 256;
/// Counter steps looked into at once; past them the cache starts afresh.
const MAX_STEPS: i64 = 1024;
/// Changed papers read at once; past them the cache starts afresh.
const MAX_CHANGED: usize = 1000;
/// Catch-ups remembered, for pages rendered while one happened.
const KEPT_STEPS: usize = 64;
/// How long a kept page is served before it is rendered again (see the module's comment).
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);
/// Featured days remembered as having papers; past them the set starts again (which only
/// makes the cache drop more).
const MAX_KNOWN_DAYS: usize = 100_000;

/// The query parameters each cached route's handler reads; anything else in the query does
/// not change the answer and is left out of the key. A route missing here is not cached, so
/// a new cached route must be added (with exactly what its handler reads, or the cache would
/// mix answers up).
fn known_params(route: &str) -> Option<&'static [&'static str]> {
    match route {
        // `FeedSort` in pages/feed.rs: the order and the page of a long period.
        "/" | "/papers/date/{day}" | "/papers/week/{week}" | "/papers/month/{month}" => {
            Some(&["sort", "page"])
        }
        // The paper page reads no query.
        "/papers/{*id}" | "/api/papers/{id}" => Some(&[]),
        // `DailyPapersParams` in api/daily.rs.
        "/api/daily_papers" => Some(&["date", "week", "month", "submitter", "sort", "p", "limit"]),
        _ => None,
    }
}

/// The key of a request on `route`: its decoded path and the parameters the route reads,
/// exactly as given (the API refuses an empty or padded value that a page would trim, so
/// values are not normalised here), in a fixed order.
/// `None` (not cached) when the route is not known or a known parameter is repeated.
fn cache_key(route: &str, uri: &Uri) -> Option<String> {
    let known = known_params(route)?;
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    let Some(query) = uri.query().filter(|q| !q.is_empty()) else {
        return Some(path.into_owned());
    };
    let mut key = path.into_owned();
    let mut found: Vec<(&str, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let Some(name) = known.iter().find(|k| **k == name) else {
            continue;
        };
        if found.iter().any(|(n, _)| n == name) {
            return None;
        }
        found.push((name, value.into_owned()));
    }
    found.sort();
    for (i, (name, value)) in found.iter().enumerate() {
        key.push(if i == 0 { '?' } else { '&' });
        key.push_str(name);
        key.push('=');
        key.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
    }
    Some(key)
}

/// What a page shows of the store, for the cache to know which changes touch it. Handlers
/// put it in their response's extensions; a kept page without it is dropped at every change.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shows {
    /// Papers shown, sorted.
    papers: Vec<ArxivId>,
    /// Featured days listed, first and last (`None`: every later day too). Any paper featured
    /// on one of them is shown, or may move into the page.
    days: Option<(NaiveDate, Option<NaiveDate>)>,
    /// Links to the neighbouring featured days, or shows the latest one: a day that gets its
    /// first paper changes it.
    neighbours: bool,
    /// Days the page saw with papers (its own and its neighbours').
    known_days: Vec<NaiveDate>,
}

impl Shows {
    /// A page showing these papers (and nothing else of the store).
    pub(crate) fn papers(ids: impl IntoIterator<Item = ArxivId>) -> Self {
        let mut papers: Vec<ArxivId> = ids.into_iter().collect();
        papers.sort();
        papers.dedup();
        Self {
            papers,
            ..Self::default()
        }
    }

    /// A page listing the papers featured from `first` to `last` (`None`: and every later
    /// day).
    pub(crate) fn days(first: NaiveDate, last: Option<NaiveDate>) -> Self {
        Self {
            days: Some((first, last)),
            ..Self::default()
        }
    }

    /// Also links the neighbouring featured days; `known` are days it saw with papers.
    pub(crate) fn with_neighbours(mut self, known: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.neighbours = true;
        self.known_days = known.into_iter().collect();
        self.known_days.sort();
        self.known_days.dedup();
        self
    }
}

/// What moved between two values of the change counter.
#[derive(Debug)]
enum Change {
    /// Not told apart: every page goes.
    Everything,
    Papers {
        /// Sorted.
        ids: Vec<ArxivId>,
        /// Every day the changed papers are featured on, sorted.
        days: Vec<NaiveDate>,
        /// One of those days was not known to have papers before.
        new_day: bool,
    },
}

impl Change {
    /// Whether a page showing `shows` (`None`: showing everything) may have changed.
    fn touches(&self, shows: Option<&Shows>) -> bool {
        let (Self::Papers { ids, days, new_day }, Some(shows)) = (self, shows) else {
            return true;
        };
        if *new_day && shows.neighbours {
            return true;
        }
        if let Some((first, last)) = shows.days {
            let after_first = days.partition_point(|d| *d < first);
            if days[after_first..]
                .first()
                .is_some_and(|d| last.is_none_or(|last| *d <= last))
            {
                return true;
            }
        }
        // Both sorted: a merge walk.
        let (mut a, mut b) = (ids.iter().peekable(), shows.papers.iter().peekable());
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            match x.cmp(y) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => {
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                }
            }
        }
        false
    }
}

/// Where the cache reads which papers changed: the store (tests give it a list).
pub(crate) trait Changes: Sync {
    fn changed_since(&self, since: i64, limit: usize) -> BoxFuture<'_, ChangedSince>;
}

type ChangedSince = Result<Vec<ChangedPaper>, StoreError>;

impl Changes for Arc<dyn Store> {
    fn changed_since(&self, since: i64, limit: usize) -> BoxFuture<'_, ChangedSince> {
        self.papers_changed_since(since, limit)
    }
}

/// One catch-up: the counter went from `from` to `to`, and this moved.
struct Step {
    from: i64,
    to: i64,
    change: Arc<Change>,
}

pub struct PageCache {
    inner: Mutex<Pages>,
    /// One catch-up at a time; requests that find the counter moved wait for it.
    catching_up: tokio::sync::Mutex<()>,
    budget: usize,
}

struct Pages {
    /// The counter value every kept page is right for.
    change_seq: i64,
    pages: LruCache<String, Arc<Cached>>,
    /// What the kept pages cost, by [`Cached::cost`].
    bytes: usize,
    /// Featured days known to have papers (days never lose their papers).
    known_days: BTreeSet<NaiveDate>,
    /// The latest catch-ups, oldest first, contiguous.
    steps: VecDeque<Step>,
}

/// A kept answer: its body, what describes it, and what it shows.
pub(crate) struct Cached {
    pub body: Bytes,
    pub content_type: HeaderValue,
    /// The entity tag of exactly these bytes.
    pub etag: HeaderValue,
    /// When this node made it, for `Last-Modified`.
    pub modified: DateTime<Utc>,
    pub modified_header: HeaderValue,
    shows: Option<Shows>,
    /// When it was rendered, for [`MAX_AGE`].
    made: std::time::Instant,
}

impl Cached {
    fn cost(&self, key: &str) -> usize {
        key.len() + self.body.len() + ENTRY_OVERHEAD
    }
}

/// What the cache answered: a kept page, or the handler's own answer that was not kept.
pub(crate) enum Served {
    Kept(Arc<Cached>),
    Passed(Response),
}

/// A 64-bit hash of `bytes`, eight at a time: the same on every node and build of one
/// version. Not for secrets: it tells one page's versions apart.
fn content_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash ^ u64::from_le_bytes(word)).wrapping_mul(K);
        hash ^= hash >> 29;
    }
    for &byte in chunks.remainder() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(K);
    }
    hash ^= hash >> 32;
    hash.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (hash >> 29)
}

impl Default for PageCache {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET)
    }
}

impl PageCache {
    /// A cache keeping at most `budget` bytes of pages.
    pub fn with_budget(budget: usize) -> Self {
        Self {
            inner: Mutex::new(Pages {
                change_seq: 0,
                pages: LruCache::unbounded(),
                bytes: 0,
                known_days: BTreeSet::new(),
                steps: VecDeque::new(),
            }),
            catching_up: tokio::sync::Mutex::new(()),
            budget,
        }
    }

    /// The largest body kept; larger ones are streamed through.
    fn max_page(&self) -> usize {
        self.budget / 8
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pages> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings the kept pages to the store's counter `change_seq`: those showing something
    /// that changed since the cache last looked are dropped.
    async fn catch_up(&self, store: &impl Changes, change_seq: i64) {
        if self.lock().change_seq >= change_seq {
            return;
        }
        let _one = self.catching_up.lock().await;
        let from = {
            let mut inner = self.lock();
            if inner.change_seq >= change_seq {
                return;
            }
            if inner.pages.is_empty() {
                let from = inner.change_seq;
                inner.apply(from, change_seq, Change::Everything);
                return;
            }
            inner.change_seq
        };
        let change = if change_seq - from > MAX_STEPS {
            Change::Everything
        } else {
            match store.changed_since(from, MAX_CHANGED).await {
                Ok(changed) => self.lock().classify(from, change_seq, &changed),
                Err(e) => {
                    tracing::warn!(error = %e, "reading what changed failed; page cache emptied");
                    Change::Everything
                }
            }
        };
        self.lock().apply(from, change_seq, change);
    }

    /// The kept page for `key`, once the cache is at `change_seq` or later.
    fn get(&self, key: &str) -> Option<Arc<Cached>> {
        self.lock()
            .pages
            .get(key)
            .filter(|page| page.made.elapsed() < MAX_AGE)
            .cloned()
    }

    /// Keeps `page`, rendered at counter `made_at`, unless a change since then touches it.
    fn put(&self, made_at: i64, key: String, page: Arc<Cached>) {
        let cost = page.cost(&key);
        if cost > self.budget {
            return;
        }
        let mut inner = self.lock();
        inner.learn_days(page.shows.iter().flat_map(|s| &s.known_days).copied());
        if made_at < inner.change_seq {
            // Changes landed while it was rendered: keep it only if none of them touches it.
            let covered = inner
                .steps
                .iter()
                .find(|s| s.to > made_at)
                .is_some_and(|s| s.from <= made_at);
            let touched = inner
                .steps
                .iter()
                .filter(|s| s.to > made_at)
                .any(|s| s.change.touches(page.shows.as_ref()));
            if !covered || touched {
                return;
            }
        }
        if let Some(old) = inner.pages.pop(&key) {
            inner.bytes -= old.cost(&key);
        }
        while inner.bytes + cost > self.budget {
            match inner.pages.pop_lru() {
                Some((k, old)) => inner.bytes -= old.cost(&k),
                None => break,
            }
        }
        inner.bytes += cost;
        inner.pages.put(key, page);
    }

    /// Pages kept and what they cost, for tests.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.pages.len(), inner.bytes)
    }

    /// The kept answer for `key` at `change_seq`, or the one `render` makes, kept when it is
    /// a successful HTML or JSON page small enough. A larger body is passed on as it comes,
    /// after at most [`Self::max_page`] bytes held here.
    pub(crate) async fn serve(
        &self,
        store: &impl Changes,
        change_seq: i64,
        key: String,
        render: impl Future<Output = Response>,
    ) -> Result<Served, AppError> {
        self.catch_up(store, change_seq).await;
        if let Some(page) = self.get(&key) {
            return Ok(Served::Kept(page));
        }
        let response = render.await;
        let content_type = match response.headers().get(header::CONTENT_TYPE) {
            Some(v) if is_kept(v) && response.status() == StatusCode::OK => v.clone(),
            _ => return Ok(Served::Passed(response)),
        };
        let shows = response.extensions().get::<Shows>().cloned();
        let (parts, body) = response.into_parts();
        let mut stream = body.into_data_stream();
        let mut held: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| crate::error::failed_at("rendering a page", e))?;
            if held.len() + chunk.len() > self.max_page() {
                // Too big to keep: what is held, then the rest as the handler makes it.
                let head = futures_util::stream::iter([
                    Ok::<Bytes, axum::Error>(Bytes::from(held)),
                    Ok(chunk),
                ]);
                return Ok(Served::Passed(Response::from_parts(
                    parts,
                    Body::from_stream(head.chain(stream)),
                )));
            }
            held.extend_from_slice(&chunk);
        }
        let hash = content_hash(&held) ^ content_hash(content_type.as_bytes()).rotate_left(17);
        let etag = HeaderValue::from_str(&format!("W/\"{hash:016x}\""))
            .unwrap_or(HeaderValue::from_static("W/\"0\""));
        // A page rendered again with the same bytes (past its age) keeps its Last-Modified.
        let modified = self
            .lock()
            .pages
            .peek(&key)
            .filter(|old| old.etag == etag)
            .map_or_else(
                || crate::http_date::whole_seconds(Utc::now()),
                |old| old.modified,
            );
        let page = Arc::new(Cached {
            body: Bytes::from(held),
            content_type,
            etag,
            modified,
            modified_header: crate::http_date::http_date(modified),
            shows,
            made: std::time::Instant::now(),
        });
        self.put(change_seq, key, Arc::clone(&page));
        Ok(Served::Kept(page))
    }
}

impl Pages {
    fn learn_days(&mut self, days: impl IntoIterator<Item = NaiveDate>) {
        self.known_days.extend(days);
        if self.known_days.len() > MAX_KNOWN_DAYS {
            self.known_days.clear();
        }
    }

    /// What the papers changed from `from` to `to` moved, when they account for every step.
    fn classify(&mut self, from: i64, to: i64, changed: &[ChangedPaper]) -> Change {
        if changed.len() > MAX_CHANGED {
            return Change::Everything;
        }
        // Each step of the counter in (from, to] must be the latest change of some paper
        // read: a step that no paper carries changed something else (or a paper again, but
        // that cannot be told apart).
        let steps: BTreeSet<i64> = changed
            .iter()
            .map(|c| c.change_seq)
            .filter(|s| (from + 1..=to).contains(s))
            .collect();
        if i64::try_from(steps.len()).ok() != Some(to - from) {
            return Change::Everything;
        }
        let mut ids: Vec<ArxivId> = changed.iter().map(|c| c.paper.id.clone()).collect();
        ids.sort();
        ids.dedup();
        let mut days: Vec<NaiveDate> = changed
            .iter()
            .flat_map(|c| c.paper.featured.iter().map(|f| f.date))
            .collect();
        days.sort();
        days.dedup();
        let new_day = days.iter().any(|d| !self.known_days.contains(d));
        self.learn_days(days.iter().copied());
        Change::Papers { ids, days, new_day }
    }

    /// Drops the pages `change` touches and moves to `to`.
    fn apply(&mut self, from: i64, to: i64, change: Change) {
        if matches!(change, Change::Everything) {
            self.pages.clear();
            self.bytes = 0;
        } else {
            let gone: Vec<String> = self
                .pages
                .iter()
                .filter(|(_, page)| change.touches(page.shows.as_ref()))
                .map(|(k, _)| k.clone())
                .collect();
            for key in gone {
                if let Some(old) = self.pages.pop(&key) {
                    self.bytes -= old.cost(&key);
                }
            }
        }
        self.steps.push_back(Step {
            from,
            to,
            change: Arc::new(change),
        });
        while self.steps.len() > KEPT_STEPS {
            self.steps.pop_front();
        }
        self.change_seq = to;
    }
}

fn is_kept(content_type: &HeaderValue) -> bool {
    let v = content_type.as_bytes();
    v.starts_with(b"text/html") || v.starts_with(b"application/json")
}

/// The key of a request, from the route it matched (set by the router before route layers
/// run); `None` when it is not to be cached.
pub(crate) fn request_key(request: &Request) -> Option<String> {
    let route = request.extensions().get::<MatchedPath>()?;
    cache_key(route.as_str(), request.uri())
}

#[cfg(test)]
mod tests {
    use axum::middleware::Next;
    use axum::response::IntoResponse;

    use super::*;

    fn key(route: &str, uri: &str) -> Option<String> {
        cache_key(route, &uri.parse::<Uri>().unwrap())
    }

    #[test]
    fn the_key_holds_only_what_the_handler_reads() {
        let month = "/papers/month/{month}";
        let plain = key(month, "/papers/month/2026-07");
        assert_eq!(plain.as_deref(), Some("/papers/month/2026-07"));
        for junk in [
            "/papers/month/2026-07?junk=1",
            "/papers/month/2026-07?junk=2&x=%00",
            "/papers/month/2026-07?",
            "/papers/month/2026-07?date=2026-07-01",
            "/papers/month/%32026-07",
        ] {
            assert_eq!(key(month, junk), plain, "{junk}");
        }
        // An empty or padded value is its own key: the API answers `?limit=` with a 400,
        // so it must never be served the page kept for a request without `limit`.
        assert_eq!(
            key(month, "/papers/month/2026-07?sort=").as_deref(),
            Some("/papers/month/2026-07?sort=")
        );
        assert_ne!(
            key("/api/daily_papers", "/api/daily_papers?limit="),
            key("/api/daily_papers", "/api/daily_papers")
        );
        assert_ne!(
            key("/api/daily_papers", "/api/daily_papers?limit=+5"),
            key("/api/daily_papers", "/api/daily_papers?limit=5")
        );
        assert_eq!(
            key(month, "/papers/month/2026-07?zzz=1&sort=trending").as_deref(),
            Some("/papers/month/2026-07?sort=trending")
        );
        assert_eq!(key(month, "/papers/month/2026-07?sort=a&sort=b"), None);
        assert_eq!(
            key(
                "/api/daily_papers",
                "/api/daily_papers?limit=5&date=2026-08-21&x=1"
            )
            .as_deref(),
            Some("/api/daily_papers?date=2026-08-21&limit=5")
        );
        assert_eq!(
            key("/papers/{*id}", "/papers/2608.19880?x=1").as_deref(),
            Some("/papers/2608.19880")
        );
        assert_eq!(
            key("/some/new/route", "/some/new/route"),
            None,
            "unknown routes are not kept"
        );
    }

    #[tokio::test]
    async fn route_layers_see_the_matched_route_so_pages_are_keyed() {
        use tower::ServiceExt as _;
        let keys = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = keys.clone();
        let app = axum::Router::new()
            .route(
                "/papers/month/{month}",
                axum::routing::get(|| async { "m" }),
            )
            .route("/papers/{*id}", axum::routing::get(|| async { "p" }))
            .route_layer(axum::middleware::from_fn(
                move |request: Request, next: Next| {
                    seen.lock().unwrap().push(request_key(&request));
                    next.run(request)
                },
            ));
        for uri in ["/papers/month/2026-07?junk=1", "/papers/2608.19880?x=2"] {
            let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        assert_eq!(
            *keys.lock().unwrap(),
            [
                Some("/papers/month/2026-07".to_owned()),
                Some("/papers/2608.19880".to_owned())
            ]
        );
    }

    fn html(body: Vec<u8>) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response()
    }

    fn html_showing(body: &str, shows: Shows) -> Response {
        let mut response = html(body.as_bytes().to_vec());
        response.extensions_mut().insert(shows);
        response
    }

    async fn body_of(served: Served) -> Vec<u8> {
        match served {
            Served::Kept(page) => page.body.to_vec(),
            Served::Passed(response) => axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec(),
        }
    }

    fn etag_of(served: &Served) -> String {
        match served {
            Served::Kept(page) => page.etag.to_str().unwrap().to_owned(),
            Served::Passed(_) => panic!("not kept"),
        }
    }

    /// The store's change log as the cache reads it: papers with their latest change.
    #[derive(Default)]
    struct Log(Mutex<Vec<ChangedPaper>>);

    impl Log {
        /// `paper`, featured on `days`, changed at `seq`.
        fn change(&self, seq: i64, paper: &str, days: &[NaiveDate]) {
            let id = ArxivId::parse(paper).unwrap();
            let p = paperfeed_core::Paper {
                id,
                title: "t".into(),
                abstract_text: "a".into(),
                authors: Vec::new(),
                categories: Vec::new(),
                published_at: None,
                versions: Vec::new(),
                featured: Vec::new(),
                upvotes: 0,
                num_comments: 0,
                github_repo: None,
                github_stars: None,
                project_page: None,
                ai_summary: None,
                ai_keywords: Vec::new(),
                organization: None,
            };
            let featured = days
                .iter()
                .map(|d| paperfeed_core::Featuring {
                    date: *d,
                    submitter: None,
                })
                .collect();
            let p = paperfeed_core::Paper { featured, ..p };
            let mut log = self.0.lock().unwrap();
            log.retain(|c| c.paper.id.as_str() != paper);
            log.push(ChangedPaper {
                change_seq: seq,
                paper: p,
            });
        }
    }

    impl Changes for Log {
        fn changed_since(&self, since: i64, _limit: usize) -> BoxFuture<'_, ChangedSince> {
            let changed = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.change_seq > since)
                .cloned()
                .collect();
            Box::pin(std::future::ready(Ok(changed)))
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 8, d).unwrap()
    }

    #[tokio::test]
    async fn a_page_too_big_to_keep_is_served_whole_and_not_kept() {
        let log = Log::default();
        let cache = PageCache::with_budget(8 * 1024 * 1024);
        let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let answer = cache
            .serve(&log, 1, "/big".into(), async { html(big.clone()) })
            .await
            .unwrap();
        assert!(matches!(&answer, Served::Passed(r) if r.status() == StatusCode::OK));
        assert_eq!(body_of(answer).await, big);
        assert_eq!(cache.usage().0, 0, "not kept");
        // The default budget keeps what the old 2 MiB limit turned into an error.
        let cache = PageCache::default();
        let answer = cache
            .serve(&log, 1, "/big".into(), async { html(big.clone()) })
            .await
            .unwrap();
        assert_eq!(body_of(answer).await, big);
        assert_eq!(cache.usage().0, 1);
    }

    #[tokio::test]
    async fn a_full_cache_evicts_the_least_recently_used_and_stays_in_its_budget() {
        let log = Log::default();
        let budget = 1024 * 1024;
        let cache = PageCache::with_budget(budget);
        let page = |n: usize| html(format!("{n:>10000}").into_bytes());
        for n in 0..5000 {
            cache
                .serve(&log, 7, format!("/p/{n}"), async move { page(n) })
                .await
                .unwrap();
            if n % 97 == 0 {
                // Keep the first page in use: it must survive.
                assert!(cache.get("/p/0").is_some(), "page 0 evicted at {n}");
            }
        }
        let (pages, bytes) = cache.usage();
        assert!(bytes <= budget, "{bytes} > {budget}");
        assert!(pages >= 90, "the budget is used: {pages} pages");
        assert!(cache.get("/p/4999").is_some(), "a fresh page is kept");
        assert!(cache.get("/p/1").is_none(), "an old unused page made room");
        // A step of the counter that no changed paper accounts for starts from nothing.
        cache.catch_up(&log, 8).await;
        assert_eq!(cache.usage(), (0, 0));
    }

    #[tokio::test]
    async fn only_successful_html_and_json_are_kept() {
        let log = Log::default();
        let cache = PageCache::default();
        let missing = (StatusCode::NOT_FOUND, "no").into_response();
        cache
            .serve(&log, 1, "/a".into(), async { missing })
            .await
            .unwrap();
        let text = ([(header::CONTENT_TYPE, "text/markdown")], "# x").into_response();
        cache
            .serve(&log, 1, "/b".into(), async { text })
            .await
            .unwrap();
        assert_eq!(cache.usage().0, 0);
        let hit = cache
            .serve(&log, 1, "/c".into(), async { html(b"<p>c</p>".to_vec()) })
            .await
            .unwrap();
        assert_eq!(body_of(hit).await, b"<p>c</p>");
        let again = cache
            .serve(&log, 1, "/c".into(), async { html(b"changed".to_vec()) })
            .await
            .unwrap();
        assert_eq!(body_of(again).await, b"<p>c</p>", "served from the cache");
    }

    /// Renders `key` at `seq` (body `body`, showing `shows`); what the cache answered.
    async fn visit(
        cache: &PageCache,
        log: &Log,
        seq: i64,
        key: &str,
        body: &str,
        shows: &Shows,
    ) -> Served {
        let response = html_showing(body, shows.clone());
        cache
            .serve(log, seq, key.into(), async { response })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_change_to_one_paper_drops_only_the_pages_that_show_it() {
        let log = Log::default();
        let cache = PageCache::default();
        let known = [day(20), day(21), day(24)];
        let d21 = Shows::days(day(21), Some(day(21))).with_neighbours(known);
        let d24 = Shows::days(day(24), Some(day(24))).with_neighbours(known);
        let latest = Shows::days(day(24), None).with_neighbours(known);
        let x = Shows::papers([ArxivId::parse("2608.00001").unwrap()]);
        let y = Shows::papers(["2608.00002", "2608.00003"].map(|i| ArxivId::parse(i).unwrap()));
        let pages = [
            ("/papers/date/2026-08-21", &d21),
            ("/papers/date/2026-08-24", &d24),
            ("/", &latest),
            ("/papers/2608.00001", &x),
            ("/papers/2608.00002", &y),
        ];
        let mut etags = Vec::new();
        for (key, shows) in pages {
            etags.push(etag_of(&visit(&cache, &log, 5, key, "v1", shows).await));
        }
        // A vote on 2608.00001, featured on the 21st: counter 5 -> 6.
        log.change(6, "2608.00001", &[day(21)]);
        let mut after = Vec::new();
        for (key, shows) in pages {
            let served = visit(&cache, &log, 6, key, &format!("v2 {key}"), shows).await;
            after.push((etag_of(&served), body_of(served).await));
        }
        assert_eq!(
            after[0].1, b"v2 /papers/date/2026-08-21",
            "its day is rendered again"
        );
        assert_ne!(after[0].0, etags[0], "with a new tag");
        assert_eq!(
            after[3].1, b"v2 /papers/2608.00001",
            "its page is rendered again"
        );
        assert_eq!(
            after[1],
            (etags[1].clone(), b"v1".to_vec()),
            "another day is kept"
        );
        assert_eq!(
            after[2],
            (etags[2].clone(), b"v1".to_vec()),
            "a later latest day is kept"
        );
        assert_eq!(
            after[4],
            (etags[4].clone(), b"v1".to_vec()),
            "another paper is kept"
        );

        // A paper featured on the 26th, a day never seen: a new latest day, and new
        // neighbours for the pages that link them.
        log.change(7, "2608.00009", &[day(26)]);
        let latest_again = visit(&cache, &log, 7, "/", "v3", &latest).await;
        assert_eq!(body_of(latest_again).await, b"v3");
        let d21_again = visit(&cache, &log, 7, "/papers/date/2026-08-21", "v3", &d21).await;
        assert_eq!(
            body_of(d21_again).await,
            b"v3",
            "its next link may have changed"
        );
        let y_again = visit(&cache, &log, 7, "/papers/2608.00002", "v3", &y).await;
        assert_eq!(body_of(y_again).await, b"v1", "a paper page links no days");

        // A step no paper accounts for (a library write): everything goes.
        let y_again = visit(&cache, &log, 8, "/papers/2608.00002", "v4", &y).await;
        assert_eq!(body_of(y_again).await, b"v4");
        assert_eq!(cache.usage().0, 1);
    }

    #[tokio::test]
    async fn a_page_rendered_while_a_change_landed_is_kept_only_if_the_change_misses_it() {
        let log = Log::default();
        let cache = PageCache::default();
        let known = [day(21), day(24)];
        let d21 = Shows::days(day(21), Some(day(21))).with_neighbours(known);
        let d24 = Shows::days(day(24), Some(day(24))).with_neighbours(known);
        // Something is kept at 5 (and the days are known), so 5 -> 6 is looked into.
        visit(
            &cache,
            &log,
            5,
            "/papers/2608.00005",
            "p",
            &Shows::papers([]).with_neighbours(known),
        )
        .await;
        log.change(6, "2608.00001", &[day(21)]);
        // Both read the counter at 5; another request catches up with 6 before they finish.
        cache.catch_up(&log, 6).await;
        visit(&cache, &log, 5, "/d21", "old 21", &d21).await;
        visit(&cache, &log, 5, "/d24", "old 24", &d24).await;
        assert!(
            cache.get("/d21").is_none(),
            "the change touches it: not kept"
        );
        assert!(cache.get("/d24").is_some(), "the change misses it: kept");
    }
}
