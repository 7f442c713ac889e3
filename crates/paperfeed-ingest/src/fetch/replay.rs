//! A tiny HTTP/1.1 server on loopback that answers each request as a test script says:
//! recorded bodies, error statuses, broken connections and stalls. For tests of the fetchers
//! and of the binary (feature `testing`); nothing here is used in production.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How to answer one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete answer.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request, then close the connection without a word.
    Reset,
    /// Announce the whole body, send only its first `sent` bytes, then close.
    CutOff { body: Vec<u8>, sent: usize },
    /// A 200 answer with no length that repeats `chunk` until the client hangs up: an endless
    /// (or huge) body.
    Endless { chunk: Vec<u8> },
    /// Wait this long (real time), then answer.
    Slow(Duration, Box<Reply>),
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::status(200, body)
    }

    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header to a [`Reply::Full`]; other replies are returned as they are.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}

type Script = dyn Fn(&str) -> Reply + Send + Sync;

/// A running replay server; stops when dropped.
pub struct ReplayServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    user_agents: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ReplayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ReplayServer {
    /// Listens on `127.0.0.1:0`; `script` gets each request's path and query
    /// (`/api/query?id_list=…`) and says how to answer.
    pub async fn start(
        script: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let user_agents = Arc::new(Mutex::new(Vec::new()));
        let seen = (Arc::clone(&requests), Arc::clone(&user_agents));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let script = Arc::clone(&script);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = answer(stream, &*script, &seen.0, &seen.1).await;
                });
            }
        });
        Ok(Self {
            addr,
            requests,
            user_agents,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The path and query of every request so far, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The User-Agent of every request so far, in arrival order.
    pub fn user_agents(&self) -> Vec<String> {
        self.user_agents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    mut stream: TcpStream,
    script: &Script,
    seen: &Mutex<Vec<String>>,
    agents: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let user_agent = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("user-agent:")
                .then(|| l["user-agent:".len()..].trim().to_owned())
        })
        .unwrap_or_default();
    agents
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(user_agent);
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(target.clone());
    let mut reply = script(&target);
    loop {
        match reply {
            Reply::Slow(delay, inner) => {
                tokio::time::sleep(delay).await;
                reply = *inner;
            }
            Reply::Reset => return Ok(()),
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut out = response_head(status, &headers, body.len());
                out.extend_from_slice(&body);
                stream.write_all(&out).await?;
                return stream.shutdown().await;
            }
            Reply::Endless { chunk } => {
                let head = "HTTP/1.1 200 Replay\r\nconnection: close\r\n\r\n";
                stream.write_all(head.as_bytes()).await?;
                // Ends when the client closes the connection and a write fails.
                loop {
                    stream.write_all(&chunk).await?;
                }
            }
            Reply::CutOff { body, sent } => {
                let mut out = response_head(200, &[], body.len());
                out.extend_from_slice(&body[..sent.min(body.len())]);
                stream.write_all(&out).await?;
                return stream.shutdown().await;
            }
        }
    }
}

fn response_head(status: u16, headers: &[(String, String)], len: usize) -> Vec<u8> {
    let mut head =
        format!("HTTP/1.1 {status} Replay\r\ncontent-length: {len}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}
