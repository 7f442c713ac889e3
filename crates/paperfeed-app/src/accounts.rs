//! Accounts: passwords (argon2id), random secrets known to the store only by their SHA-256
//! (session ids, API tokens), and the two account use cases both the web and the CLI run:
//! [`create_user`] (sign up, `paperfeed user add`) and [`create_api_token`] (account settings,
//! `paperfeed token create`). Sessions, cookies and CSRF stay with the web.

use std::sync::{Condvar, Mutex, PoisonError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use paperfeed_core::{EmailAddress, Password, Username};
use paperfeed_store::{NewUser, Store, StoreError, User, UserId};
use sha2::{Digest, Sha256};

/// Prefix of API tokens, so a leaked one is recognisable (and greppable by secret scanners).
pub const TOKEN_PREFIX: &str = "pf_";

/// Why an account use case did not go through.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Your input: a user name or email address someone already has; `field` names it.
    #[error("{field} is already taken")]
    Taken { field: &'static str },
    /// We failed: the OS random source.
    #[error("the OS random source failed")]
    Random(#[source] RandomFailure),
    /// We failed: argon2 or the encoding of its result.
    #[error("hashing a password")]
    Hashing(#[source] HashFailure),
    /// We failed: the blocking task that hashed.
    #[error("the password task failed")]
    Task(#[source] tokio::task::JoinError),
    /// We failed: the store.
    #[error("the store failed")]
    Store(#[source] StoreError),
}

/// What the OS random source reported (`getrandom`'s error is a `std` error only with its
/// `std` feature, so it is wrapped here).
#[derive(Debug)]
pub struct RandomFailure(pub getrandom::Error);

impl std::fmt::Display for RandomFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for RandomFailure {}

/// What argon2 reported (its error types are `std` errors only with its `std` feature).
#[derive(Debug)]
pub enum HashFailure {
    Argon2(argon2::Error),
    Encoding(argon2::password_hash::Error),
}

impl std::fmt::Display for HashFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HashFailure::Argon2(e) => write!(f, "argon2: {e}"),
            HashFailure::Encoding(e) => write!(f, "encoding the hash: {e}"),
        }
    }
}

impl std::error::Error for HashFailure {}

impl From<argon2::Error> for AccountError {
    fn from(e: argon2::Error) -> Self {
        AccountError::Hashing(HashFailure::Argon2(e))
    }
}

impl From<argon2::password_hash::Error> for AccountError {
    fn from(e: argon2::password_hash::Error) -> Self {
        AccountError::Hashing(HashFailure::Encoding(e))
    }
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { field } => AccountError::Taken { field },
            other => AccountError::Store(other),
        }
    }
}

fn random_bytes(buf: &mut [u8]) -> Result<(), AccountError> {
    getrandom::fill(buf).map_err(|e| AccountError::Random(RandomFailure(e)))
}

/// A new random 256-bit secret, URL-safe base64.
pub fn new_secret() -> Result<String, AccountError> {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new API token: the prefix and a random secret.
pub fn new_api_token() -> Result<String, AccountError> {
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
pub fn hash_password(password: &Password) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let salt_string = SaltString::encode_b64(&salt)?;
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password.expose().as_bytes(), &salt, &mut out, blocks)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt_string.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// A hash of nothing anyone can type, verified when the user does not exist so that an unknown
/// name costs as long as a wrong password.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZSQOSsgSVxYL3Fa1tT8Y7Cf2p4tOgcNPn9QEDtUxAWE";

/// Whether `password` matches `hash` (the decoy when `hash` is `None`: always false, same
/// cost). Slow by design: call it on a blocking thread.
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

/// A user to create, as typed (parsed) by whoever asked.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Username,
    pub email: EmailAddress,
    pub password: Password,
    pub is_admin: bool,
}

/// Creates a user: hashes the password on a blocking thread and stores the user.
/// [`AccountError::Taken`] when the name or address is someone else's.
pub async fn create_user(
    store: &dyn Store,
    account: NewAccount,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    let NewAccount {
        username,
        email,
        password,
        is_admin,
    } = account;
    let span = tracing::Span::current();
    let password_hash =
        tokio::task::spawn_blocking(move || span.in_scope(|| hash_password(&password)))
            .await
            .map_err(AccountError::Task)??;
    let user = store
        .create_user(NewUser {
            username,
            email,
            password_hash,
            is_admin,
            created_at: now,
        })
        .await?;
    tracing::info!(
        user.id = user.id.0,
        user.admin = user.is_admin,
        "user created"
    );
    Ok(user)
}

/// Creates an API token named `name` for `user`: the store keeps its hash, the caller gets the
/// token itself (shown once).
pub async fn create_api_token(
    store: &dyn Store,
    user: UserId,
    name: String,
) -> Result<String, AccountError> {
    let token = new_api_token()?;
    store
        .create_api_token(user, name, hash_secret(&token))
        .await?;
    tracing::info!(user.id = user.0, "API token created");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{PASSWORD, account, sqlite_store, user};

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
        assert!(new_api_token().unwrap().starts_with(TOKEN_PREFIX));
    }

    #[tokio::test]
    async fn a_created_user_logs_in_with_its_password_and_names_are_not_reused() {
        let (_dir, store) = sqlite_store().await;
        let ada = create_user(&store, account("ada", false), Utc::now())
            .await
            .unwrap();
        let stored = store.user_by_name("ada").await.unwrap().unwrap();
        assert_eq!(stored.id, ada.id);
        assert!(verify_password(PASSWORD, Some(&stored.password_hash)));
        let mut taken_name = account("ada", false);
        taken_name.email = EmailAddress::parse("other@example.org").unwrap();
        let again = create_user(&store, taken_name, Utc::now()).await;
        assert!(
            matches!(again, Err(AccountError::Taken { field: "username" })),
            "{again:?}"
        );
        let mut taken_email = account("bob", false);
        taken_email.email = ada.email.clone();
        let again = create_user(&store, taken_email, Utc::now()).await;
        assert!(
            matches!(again, Err(AccountError::Taken { field: "email" })),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn an_api_token_is_stored_as_its_hash_and_finds_its_user() {
        let (_dir, store) = sqlite_store().await;
        let ada = user(&store, "ada", false).await;
        let token = create_api_token(&store, ada.id, "script".into())
            .await
            .unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        let found = store.user_by_api_token(&hash_secret(&token)).await.unwrap();
        assert_eq!(found.map(|u| u.id), Some(ada.id));
        assert!(store.user_by_api_token(&token).await.unwrap().is_none());
        let tokens = store.api_tokens(ada.id).await.unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].name, "script");
    }
}
