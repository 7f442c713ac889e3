//! Why the model could not be fetched.

use std::path::{Path, PathBuf};

/// Why the model could not be fetched. Every message names the file or URL; none leaves
/// anything of the failed file in the cache.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HF_ENDPOINT {endpoint:?} is not an http or https URL")]
    Endpoint { endpoint: String },
    #[error("the HTTP client could not be set up: {0}")]
    Client(#[source] reqwest::Error),
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    Refused { url: String, status: u16 },
    /// No answer: connection refused or broken, timeout, a redirect refused.
    #[error("{url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The answer stopped before the whole file.
    #[error("{path}: the download from {url} stopped after {got} of {size} bytes ({reason})")]
    Truncated {
        path: &'static str,
        url: String,
        got: u64,
        size: u64,
        reason: String,
    },
    /// The server announces another length than the pinned file's.
    #[error("{path}: {url} announces {announced} bytes, the pinned file has {size}; refused")]
    WrongSize {
        path: &'static str,
        url: String,
        announced: u64,
        size: u64,
    },
    /// Other bytes than the pinned file's.
    #[error("{path}: what {url} sent is not the pinned file ({found}); refused")]
    Mismatch {
        path: &'static str,
        url: String,
        found: String,
    },
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    pub(super) fn io(context: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            context,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether another attempt may succeed: the connection, not the file, failed.
    pub(super) fn worth_retrying(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Truncated { .. } => true,
            Self::Refused { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
