//! The load campaign's client (`scripts/load-campaign` runs it): a fixed number of requests
//! over keep-alive HTTP/1.1 connections to a server on loopback, drawn from a weighted plan of
//! routes, and a table of what each route got: requests, requests/s, p50, p99 and max latency,
//! unexpected answers, 5xx; plus connections the server dropped, and the server's memory
//! before and after.
//!
//! usage: paperfeed-loadgen --base http://127.0.0.1:PORT --plan FILE [--requests N]
//!        [--connections C] [--tokens FILE] [--server-pid PID] [--max-seconds S] [--compress]
//!
//! The plan is plain text, one directive a line (`#` comments):
//!
//! ```text
//! route  NAME  WEIGHT  EXPECTED-STATUSES      e.g. route paper 25 200
//! req    NAME  METHOD  PATH  [HEADER: VALUE]… (tab-separated; a route draws its requests evenly)
//! ```
//!
//! In headers, `{token}` is replaced by one of the tokens of `--tokens` (one per line), in
//! turn, and `If-None-Match: {etag}` by the latest ETag seen for the path (fetched once at the
//! start, then taken from every answer), as a browser or feed reader revalidates: answered
//! 304 while nothing changed, 200 with a new ETag after a write (an upvote) changed the store.
//!
//! Every step is bounded: N requests, a 30 s timeout per request, `--max-seconds` in all. Only
//! loopback addresses are accepted as `--base`.
//!
//! `paperfeed-loadgen --serve-bytes FILE` is the other end of a comparison instead: a bare
//! server answering every request with FILE's bytes (see `bare.rs`), the floor
//! `scripts/bench-web` measures the hub against.

mod bare;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::Request;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    base: String,
    plan: String,
    requests: u64,
    connections: usize,
    tokens: Option<String>,
    server_pid: Option<u32>,
    max_seconds: u64,
    compress: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        base: String::new(),
        plan: String::new(),
        requests: 100_000,
        connections: 64,
        tokens: None,
        server_pid: None,
        max_seconds: 3600,
        compress: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => args.base = value()?,
            "--plan" => args.plan = value()?,
            "--requests" => args.requests = value()?.parse().context("--requests")?,
            "--connections" => args.connections = value()?.parse().context("--connections")?,
            "--tokens" => args.tokens = Some(value()?),
            "--server-pid" => args.server_pid = Some(value()?.parse().context("--server-pid")?),
            "--max-seconds" => args.max_seconds = value()?.parse().context("--max-seconds")?,
            "--compress" => args.compress = true,
            other => bail!("unknown argument {other:?} (see the top of src/main.rs)"),
        }
    }
    if args.base.is_empty() || args.plan.is_empty() {
        bail!("--base and --plan are required");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    Ok(args)
}

/// One request as planned; headers may still hold `{token}`.
#[derive(Clone, Debug)]
struct Planned {
    method: hyper::Method,
    path: String,
    headers: Vec<(String, String)>,
}

#[derive(Debug)]
struct Route {
    name: String,
    weight: u32,
    expected: Vec<u16>,
    requests: Vec<Planned>,
}

fn read_plan(text: &str) -> anyhow::Result<Vec<Route>> {
    let mut routes: Vec<Route> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = || format!("plan line {}", n + 1);
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.first().copied() {
            Some("route") if fields.len() == 4 => routes.push(Route {
                name: fields[1].to_owned(),
                weight: fields[2].parse().with_context(at)?,
                expected: fields[3]
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .with_context(at)?,
                requests: Vec::new(),
            }),
            Some("req") if fields.len() >= 4 => {
                let route = routes
                    .iter_mut()
                    .find(|r| r.name == fields[1])
                    .with_context(|| format!("{}: route {:?} is not declared", at(), fields[1]))?;
                let headers = fields[4..]
                    .iter()
                    .map(|h| {
                        h.split_once(':')
                            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                            .with_context(|| format!("{}: header {h:?} has no ':'", at()))
                    })
                    .collect::<anyhow::Result<_>>()?;
                route.requests.push(Planned {
                    method: fields[2].parse().with_context(at)?,
                    path: fields[3].to_owned(),
                    headers,
                });
            }
            _ => bail!(
                "{}: expected `route NAME WEIGHT STATUSES` or `req NAME METHOD PATH [HEADERS]`, tab-separated",
                at()
            ),
        }
    }
    routes.retain(|r| r.weight > 0 && !r.requests.is_empty());
    if routes.is_empty() {
        bail!("the plan has no route with requests");
    }
    Ok(routes)
}

/// splitmix64: a deterministic spread of request numbers over routes and requests.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Default)]
struct Tally {
    /// Latencies in microseconds, per route.
    latencies: Vec<Vec<u32>>,
    unexpected: Vec<u64>,
    server_errors: Vec<u64>,
    dropped: u64,
    statuses: HashMap<(usize, u16), u64>,
}

struct Shared {
    routes: Vec<Route>,
    /// Route index per unit of weight.
    wheel: Vec<usize>,
    tokens: Vec<String>,
    etags: Mutex<HashMap<String, String>>,
    next: AtomicU64,
    total: u64,
    deadline: Instant,
    host: String,
    addr: String,
    compress: bool,
}

async fn connect(addr: &str) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn build(shared: &Shared, planned: &Planned, n: u64) -> anyhow::Result<Request<Empty<Bytes>>> {
    let mut req = Request::builder()
        .method(planned.method.clone())
        .uri(&planned.path)
        .header(hyper::header::HOST, &shared.host);
    if shared.compress {
        req = req.header(hyper::header::ACCEPT_ENCODING, "br, gzip");
    }
    for (k, v) in &planned.headers {
        let value = if v.contains("{token}") {
            let token = shared
                .tokens
                .get((n as usize) % shared.tokens.len().max(1))
                .context("the plan uses {token} but --tokens gave none")?;
            v.replace("{token}", token)
        } else if v == "{etag}" {
            shared
                .etags
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&planned.path)
                .cloned()
                .with_context(|| format!("no ETag for {}", planned.path))?
        } else {
            v.clone()
        };
        req = req.header(k.as_str(), value);
    }
    Ok(req.body(Empty::new())?)
}

/// Sends one request and reads the whole body; the status, or why it failed.
async fn exchange(
    sender: &mut SendRequest<Empty<Bytes>>,
    req: Request<Empty<Bytes>>,
) -> anyhow::Result<(u16, hyper::HeaderMap)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    resp.into_body().collect().await?;
    Ok((status, headers))
}

async fn worker(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally {
        latencies: vec![Vec::new(); shared.routes.len()],
        unexpected: vec![0; shared.routes.len()],
        server_errors: vec![0; shared.routes.len()],
        ..Tally::default()
    };
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    loop {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        if n >= shared.total || Instant::now() >= shared.deadline {
            break;
        }
        let r = mix(n);
        let route_index = shared.wheel[(r % shared.wheel.len() as u64) as usize];
        let route = &shared.routes[route_index];
        let planned = &route.requests[((r >> 32) % route.requests.len() as u64) as usize];
        let req = match build(&shared, planned, n) {
            Ok(req) => req,
            Err(e) => {
                eprintln!("loadgen: {e:#}");
                tally.unexpected[route_index] += 1;
                continue;
            }
        };
        if sender.is_none() {
            match connect(&shared.addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    eprintln!("loadgen: connecting to {}: {e:#}", shared.addr);
                    tally.dropped += 1;
                    tally.unexpected[route_index] += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(conn) = sender.as_mut() else {
            continue;
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, exchange(conn, req)).await;
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        match outcome {
            Ok(Ok((status, headers))) => {
                tally.latencies[route_index].push(micros);
                *tally.statuses.entry((route_index, status)).or_default() += 1;
                if status >= 500 {
                    tally.server_errors[route_index] += 1;
                }
                if !route.expected.contains(&status) {
                    tally.unexpected[route_index] += 1;
                }
                // The server may close a connection it announced as closing; that is not a drop.
                let closing = headers
                    .get(hyper::header::CONNECTION)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                if closing {
                    sender = None;
                }
                if planned.headers.iter().any(|(_, v)| v == "{etag}")
                    && let Some(etag) = headers
                        .get(hyper::header::ETAG)
                        .and_then(|v| v.to_str().ok())
                {
                    shared
                        .etags
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(planned.path.clone(), etag.to_owned());
                }
            }
            Ok(Err(e)) => {
                eprintln!("loadgen: {} {}: {e:#}", planned.method, planned.path);
                tally.dropped += 1;
                tally.unexpected[route_index] += 1;
                sender = None;
            }
            Err(_) => {
                eprintln!("loadgen: {} {}: timed out", planned.method, planned.path);
                tally.unexpected[route_index] += 1;
                sender = None;
            }
        }
    }
    tally
}

fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--serve-bytes") {
        let value = |flag: &str, default: &'static str| {
            argv.iter()
                .position(|a| a == flag)
                .and_then(|i| argv.get(i + 1))
                .map_or(default, String::as_str)
                .to_owned()
        };
        let file = argv.get(1).context("--serve-bytes needs a file")?;
        return bare::serve(
            file,
            &value("--content-type", "text/html; charset=utf-8"),
            &value("--bind", "127.0.0.1:0"),
        )
        .await;
    }
    let args = parse_args()?;
    let authority = args
        .base
        .strip_prefix("http://")
        .context("--base must be an http:// URL")?
        .trim_end_matches('/')
        .to_owned();
    let host = authority
        .rsplit_once(':')
        .map_or(authority.as_str(), |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") && !host.starts_with("127.") {
        bail!("refusing to load {host}: the campaign only targets loopback");
    }
    let routes = read_plan(
        &std::fs::read_to_string(&args.plan).with_context(|| format!("reading {}", args.plan))?,
    )?;
    let tokens: Vec<String> = match &args.tokens {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("reading {file}"))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };

    // The ETags the revalidating requests send.
    let mut etags = HashMap::new();
    let mut probe = connect(&authority)
        .await
        .context("connecting to the server")?;
    for planned in routes.iter().flat_map(|r| &r.requests) {
        if planned.headers.iter().any(|(_, v)| v == "{etag}") && !etags.contains_key(&planned.path)
        {
            let mut req = Request::builder()
                .uri(&planned.path)
                .header(hyper::header::HOST, &authority);
            if args.compress {
                req = req.header(hyper::header::ACCEPT_ENCODING, "br, gzip");
            }
            let (status, headers) = exchange(&mut probe, req.body(Empty::new())?).await?;
            let etag = headers
                .get(hyper::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{} answered {status} without an ETag", planned.path))?;
            etags.insert(planned.path.clone(), etag.to_owned());
        }
    }
    drop(probe);

    let wheel: Vec<usize> = routes
        .iter()
        .enumerate()
        .flat_map(|(i, r)| std::iter::repeat_n(i, r.weight as usize))
        .collect();
    let shared = Arc::new(Shared {
        routes,
        wheel,
        tokens,
        etags: Mutex::new(etags),
        next: AtomicU64::new(0),
        total: args.requests,
        deadline: Instant::now() + Duration::from_secs(args.max_seconds),
        host: authority.clone(),
        addr: authority.clone(),
        compress: args.compress,
    });

    let rss_before = args.server_pid.and_then(rss_kib);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(worker(Arc::clone(&shared))))
        .collect();
    let mut total = Tally {
        latencies: vec![Vec::new(); shared.routes.len()],
        unexpected: vec![0; shared.routes.len()],
        server_errors: vec![0; shared.routes.len()],
        ..Tally::default()
    };
    for w in workers {
        let t = w.await.context("a load worker panicked")?;
        for (i, l) in t.latencies.into_iter().enumerate() {
            total.latencies[i].extend(l);
            total.unexpected[i] += t.unexpected[i];
            total.server_errors[i] += t.server_errors[i];
        }
        total.dropped += t.dropped;
        for (k, v) in t.statuses {
            *total.statuses.entry(k).or_default() += v;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rss_after = args.server_pid.and_then(rss_kib);

    println!(
        "{} requests over {} keep-alive connections in {elapsed:.1} s to {}",
        total.latencies.iter().map(Vec::len).sum::<usize>(),
        args.connections,
        args.base
    );
    println!();
    println!("| route | requests | req/s | p50 ms | p99 ms | max ms | errors | 5xx | statuses |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut all: Vec<u32> = Vec::new();
    for (i, route) in shared.routes.iter().enumerate() {
        let lat = &mut total.latencies[i];
        lat.sort_unstable();
        let mut statuses: Vec<(u16, u64)> = total
            .statuses
            .iter()
            .filter(|((r, _), _)| *r == i)
            .map(|((_, s), n)| (*s, *n))
            .collect();
        statuses.sort_unstable();
        let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | {} |",
            route.name,
            lat.len(),
            lat.len() as f64 / elapsed,
            percentile(lat, 50.0),
            percentile(lat, 99.0),
            lat.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
            total.unexpected[i],
            total.server_errors[i],
            statuses.join(" ")
        );
        all.extend_from_slice(lat);
    }
    all.sort_unstable();
    println!(
        "| **all** | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} | |",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        all.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
        total.unexpected.iter().sum::<u64>(),
        total.server_errors.iter().sum::<u64>()
    );
    println!();
    println!("dropped connections: {}", total.dropped);
    if let (Some((before, _)), Some((after, peak))) = (rss_before, rss_after) {
        println!(
            "server RSS: {:.1} MiB before, {:.1} MiB after (peak {:.1} MiB)",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
    let failed = total.unexpected.iter().sum::<u64>()
        + total.server_errors.iter().sum::<u64>()
        + total.dropped;
    if failed > 0 {
        bail!("{failed} failures (errors, 5xx or dropped connections)");
    }
    Ok(())
}
