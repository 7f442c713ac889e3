//! Who is asking: passwords (argon2id), random secrets known to the store only by their
//! SHA-256 (session ids, API tokens), cookies, the [`Viewer`] extractor and CSRF checks.
//!
//! Sessions are server-side: the cookie holds a random 256-bit id, the store its hash, so a
//! leaked database lets nobody in. Every state-changing form carries a CSRF token: the
//! session's synchronizer token when logged in; for the anonymous forms (sign up, log in) a
//! double-submit token, the same random value in a cookie and in the form.

use std::sync::{Condvar, Mutex, PoisonError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use paperfeed_core::Password;
use paperfeed_store::{Session, User};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::AppError;

/// The session cookie.
pub const SESSION_COOKIE: &str = "pf_session";
/// The double-submit CSRF cookie of anonymous forms.
pub const CSRF_COOKIE: &str = "pf_csrf";
/// Prefix of API tokens, so a leaked one is recognisable (and greppable by secret scanners).
pub const TOKEN_PREFIX: &str = "pf_";

/// A new random 256-bit secret, URL-safe base64.
pub fn new_secret() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Internal(format!("the OS random source failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new API token: the prefix and a random secret.
pub fn new_api_token() -> Result<String, AppError> {
    Ok(format!("{TOKEN_PREFIX}{}", new_secret()?))
}

/// What the store keeps of a secret: its SHA-256, hex.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Argon2's working memory (19 MiB a time at the default parameters), kept and reused. Made
/// afresh for every hash, it is freed into whichever malloc arena the blocking thread uses,
/// and each arena keeps up to twice that untrimmed: a stream of log-ins grew the server by
/// hundreds of MB. At most [`memory_buffers`] exist; more hashes at once wait for one.
struct MemoryPool {
    /// Free buffers, and how many were made.
    free: Mutex<(Vec<Vec<Block>>, usize)>,
    returned: Condvar,
}

/// One buffer per core, at most four: hashing is CPU-bound, more at once only queue.
fn memory_buffers() -> usize {
    static BUFFERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BUFFERS.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4)))
}

static MEMORY: MemoryPool = MemoryPool {
    free: Mutex::new((Vec::new(), 0)),
    returned: Condvar::new(),
};

/// Runs `work` with `blocks` blocks of argon2 memory from the pool (on a blocking thread).
fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut buffer = {
        let mut pool = MEMORY.free.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(buffer) = pool.0.pop() {
                break buffer;
            }
            if pool.1 < memory_buffers() {
                pool.1 += 1;
                break Vec::new();
            }
            pool = MEMORY
                .returned
                .wait(pool)
                .unwrap_or_else(PoisonError::into_inner);
        }
    };
    if buffer.len() < blocks {
        buffer.resize(blocks, Block::default());
    }
    let out = work(&mut buffer[..blocks]);
    MEMORY
        .free
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .0
        .push(buffer);
    MEMORY.returned.notify_one();
    out
}

/// An argon2id PHC string for `password` with a fresh random salt, at the crate's default
/// parameters. Slow by design: call it on a blocking thread.
pub fn hash_password(password: &Password) -> Result<String, AppError> {
    let failed = |e: &dyn std::fmt::Display| AppError::Internal(format!("hashing a password: {e}"));
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| AppError::Internal(format!("the OS random source failed: {e}")))?;
    let salt_string = SaltString::encode_b64(&salt)
        .map_err(|e| AppError::Internal(format!("encoding a salt: {e}")))?;
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.expose().as_bytes(), &salt, &mut out, blocks)
    })
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt_string.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// A hash of nothing anyone can type, verified when the user does not exist so that an unknown
/// name costs as long as a wrong password.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZSQOSsgSVxYL3Fa1tT8Y7Cf2p4tOgcNPn9QEDtUxAWE";

/// Whether `password` matches `hash` (the decoy when `hash` is `None`: always false, same cost).
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash.unwrap_or(DECOY_HASH)) else {
        return false;
    };
    matches_phc(password.as_bytes(), &parsed) && hash.is_some()
}

/// Whether `password` hashes to `phc`'s output with its algorithm, version, parameters and
/// salt; the comparison takes the same time wherever the outputs differ.
fn matches_phc(password: &[u8], phc: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else {
        return false;
    };
    let Ok(version) = phc
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(phc) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let hashed = with_memory(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, salt, &mut out, blocks)
    });
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

/// Runs slow password work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| AppError::Internal(format!("password task failed: {e}")))
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path /, Secure when the hub is served over
/// https. `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static("pf_invalid=; Max-Age=0"))
}

/// Whether two secrets are equal, in time that depends only on their length.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The logged-in session of the request, if any.
#[derive(Clone, Debug)]
pub struct Viewer(pub Option<Session>);

impl Viewer {
    pub fn user(&self) -> Option<&User> {
        self.0.as_ref().map(|s| &s.user)
    }

    /// The session, or the answer that sends a logged-out visitor to log in.
    pub fn require(&self, back_to: &str) -> Result<&Session, AppError> {
        self.0.as_ref().ok_or_else(|| AppError::LogInFirst {
            next: back_to.to_owned(),
        })
    }

    /// The session whose synchronizer token `sent` matches; 403 otherwise. Logged out: 303 to
    /// the log-in page.
    pub fn require_csrf(&self, sent: &str, back_to: &str) -> Result<&Session, AppError> {
        let session = self.require(back_to)?;
        if same_secret(&session.csrf_token, sent) {
            Ok(session)
        } else {
            Err(csrf_refused())
        }
    }
}

pub fn csrf_refused() -> AppError {
    AppError::Forbidden(
        "This form's security token is missing or out of date (CSRF check). Go back, reload \
         the page and send the form again."
            .to_owned(),
    )
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
            return Ok(Viewer(None));
        };
        let session = state.store.session(&hash_secret(id), Utc::now()).await?;
        Ok(Viewer(session))
    }
}

/// The user an `Authorization: Bearer` API token belongs to.
pub async fn bearer_user(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, AppError> {
    let Some(token) = bearer_token(headers) else {
        return Ok(None);
    };
    Ok(state.store.user_by_api_token(&hash_secret(token)).await?)
}

/// The token of an `Authorization: Bearer TOKEN` header, trimmed; `None` when absent or empty.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let p = Password::parse("correct horse battery").unwrap();
        let hash = hash_password(&p).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("correct horse battery!", Some(&hash)));
        assert!(
            !verify_password("anything", None),
            "the decoy never matches"
        );
        assert!(
            PasswordHash::new(DECOY_HASH).is_ok(),
            "the decoy costs a real verification"
        );
    }

    #[test]
    fn hashes_are_the_argon2_crates_own_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let p = Password::parse("correct horse battery").unwrap();
        // Ours verify with the crate's verifier (hashes stored before stay valid, and after).
        let ours = hash_password(&p).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // The crate's verify with ours.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse battery", Some(&theirs)));
        assert!(!verify_password("correct horse batterY", Some(&theirs)));
    }

    #[test]
    fn many_hashes_at_once_share_a_few_buffers() {
        let threads: Vec<_> = (0..12)
            .map(|i| {
                std::thread::spawn(move || {
                    verify_password(&format!("guess {i}"), None)
                        || verify_password("x", Some("not a hash"))
                })
            })
            .collect();
        for t in threads {
            assert!(!t.join().unwrap());
        }
        let pool = MEMORY.free.lock().unwrap();
        assert!(pool.1 <= memory_buffers(), "{} buffers made", pool.1);
    }

    #[test]
    fn secrets_are_random_and_stored_only_as_hashes() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in unpadded base64");
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), a);
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x_pf_session=1; pf_session=abc"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None);
        let set = set_cookie(SESSION_COOKIE, "v", 60, true);
        let set = set.to_str().unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"));
    }
}
