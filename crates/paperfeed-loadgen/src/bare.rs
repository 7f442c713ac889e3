//! The floor `scripts/bench-web` compares the hub with: a bare HTTP/1.1 server on loopback that
//! answers every request with the same bytes (a page saved from the hub, with its content
//! type), over hyper's connection builder with keep-alive, on the same runtime the hub uses.
//! No routing, no middleware, no store: what serving those bytes costs on this machine.
//!
//! usage: paperfeed-loadgen --serve-bytes FILE [--content-type TYPE] [--bind ADDR]
//! Prints `listening on http://ADDR` once it accepts connections; runs until killed.

use std::convert::Infallible;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `body` with `content_type` to every request on `bind` (loopback only).
pub async fn serve(file: &str, content_type: &str, bind: &str) -> anyhow::Result<()> {
    let body = Bytes::from(std::fs::read(file).with_context(|| format!("reading {file}"))?);
    let content_type = HeaderValue::from_str(content_type).context("--content-type")?;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        bail!("refusing to serve on {addr}: the bare server is for loopback benchmarks");
    }
    println!("listening on http://{addr}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("bare server: accepting: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        let content_type = content_type.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<Incoming>| {
                let mut response = Response::new(Full::new(body.clone()));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, content_type.clone());
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
