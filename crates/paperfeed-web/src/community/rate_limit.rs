//! Rate limits: a token bucket per action and key (a client address, a user name, a user id),
//! answered with 429 and `Retry-After`, or, for limits that must not lock anyone out, with a
//! bounded delay ([`RateLimiter::delay_at`]). Hand-written because the keys that matter (the
//! account being guessed at, the user voting) are known only inside the handlers.
//!
//! Memory is bounded whatever clients send: a key is kept as a 64-bit keyed hash (SipHash with
//! a per-process random key, so nobody can aim collisions at an account), never as the text a
//! client chose, and the table holds at most [`MAX_BUCKETS`] buckets, dropping full ones and
//! then the longest idle.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One action's allowance: up to `burst` at once, refilled at `per_minute`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limit {
    pub burst: u32,
    pub per_minute: u32,
}

/// What is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    SignUp,
    /// Log-in attempts by one address, and by one address at one account.
    LogIn,
    /// Log-in attempts at one account from anywhere: only ever delays.
    LogInAccount,
    /// Password changes by one logged-in user.
    ChangePassword,
    Comment,
    Vote,
    Submit,
    Subscribe,
    /// Mutes added or removed and papers dismissed or taken back, by one user.
    Mute,
    /// Follows, unfollows and private feed addresses made or revoked, by one user.
    Follow,
    /// Saves, notes, reading states and collection changes by one logged-in user.
    Library,
    /// Imports of a reference list by one logged-in user (each may ask arXiv).
    Import,
    /// Saved searches, their webhooks and feed addresses changed by one user.
    SavedSearch,
    /// Recommender controls, seeds, resets and its feed addresses changed by one user.
    Recommender,
    /// Suggestions while typing asked for by one client address (a request a keystroke).
    Suggest,
    /// Sign-ins started at a provider (and links, unlinks), by one client address.
    SignInStart,
    /// Providers' callbacks, by one client address.
    SignInCallback,
}

/// The limit of each action.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RateLimits {
    pub signup: Limit,
    /// Log-in attempts per client address, and per address at one account.
    pub login: Limit,
    /// Log-in attempts at one account from all addresses together; past it attempts are
    /// delayed (at most [`MAX_LOGIN_DELAY`]), never refused, so nobody can lock an owner out.
    #[serde(default = "default_login_account")]
    pub login_account: Limit,
    pub comment: Limit,
    pub vote: Limit,
    pub submit: Limit,
    /// Digest subscriptions, keyed by client address.
    #[serde(default = "default_subscribe")]
    pub subscribe: Limit,
    /// Mutes and "not interested" (each add, removal, dismissal or undo), per user.
    #[serde(default = "default_mute")]
    pub mute: Limit,
    /// Follows, unfollows and private feed addresses, keyed by user.
    #[serde(default = "default_follow")]
    pub follow: Limit,
    /// Library writes (save, note, reading state, collections), per user.
    #[serde(default = "default_library")]
    pub library: Limit,
    /// Imports into a collection, per user.
    #[serde(default = "default_import")]
    pub import: Limit,
    /// Saving, renaming and deleting searches, setting webhooks, per user.
    #[serde(default = "default_saved_search")]
    pub saved_search: Limit,
    /// Recommender controls, seeds ("recommend from this") and resets, per user.
    #[serde(default = "default_recommender")]
    pub recommender: Limit,
    /// Suggestions while typing (`/api/suggest`), keyed by client address: generous, since
    /// the search box asks once a keystroke (after a short pause).
    #[serde(default = "default_suggest")]
    pub suggest: Limit,
    /// Sign-ins started at an identity provider, links and unlinks, per client address.
    #[serde(default = "default_sign_in")]
    pub sign_in_start: Limit,
    /// Identity providers' callbacks, per client address.
    #[serde(default = "default_sign_in")]
    pub sign_in_callback: Limit,
}

fn default_suggest() -> Limit {
    Limit {
        burst: 60,
        per_minute: 600,
    }
}

fn default_sign_in() -> Limit {
    Limit {
        burst: 10,
        per_minute: 10,
    }
}

fn default_recommender() -> Limit {
    Limit {
        burst: 30,
        per_minute: 30,
    }
}

fn default_saved_search() -> Limit {
    Limit {
        burst: 20,
        per_minute: 10,
    }
}

fn default_mute() -> Limit {
    Limit {
        burst: 60,
        per_minute: 60,
    }
}

fn default_follow() -> Limit {
    Limit {
        burst: 30,
        per_minute: 30,
    }
}

fn default_library() -> Limit {
    Limit {
        burst: 60,
        per_minute: 120,
    }
}

fn default_import() -> Limit {
    Limit {
        burst: 5,
        per_minute: 2,
    }
}

fn default_login_account() -> Limit {
    Limit {
        burst: 10,
        per_minute: 10,
    }
}

fn default_subscribe() -> Limit {
    Limit {
        burst: 5,
        per_minute: 2,
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            signup: Limit {
                burst: 5,
                per_minute: 2,
            },
            login: Limit {
                burst: 10,
                per_minute: 5,
            },
            login_account: default_login_account(),
            comment: Limit {
                burst: 10,
                per_minute: 6,
            },
            vote: Limit {
                burst: 60,
                per_minute: 120,
            },
            submit: Limit {
                burst: 5,
                per_minute: 2,
            },
            subscribe: default_subscribe(),
            mute: default_mute(),
            follow: default_follow(),
            library: default_library(),
            import: default_import(),
            saved_search: default_saved_search(),
            recommender: default_recommender(),
            suggest: default_suggest(),
            sign_in_start: default_sign_in(),
            sign_in_callback: default_sign_in(),
        }
    }
}

impl RateLimits {
    fn of(&self, action: Action) -> Limit {
        match action {
            Action::SignUp => self.signup,
            Action::LogIn | Action::ChangePassword => self.login,
            Action::LogInAccount => self.login_account,
            Action::Comment => self.comment,
            Action::Vote => self.vote,
            Action::Submit => self.submit,
            Action::Subscribe => self.subscribe,
            Action::Mute => self.mute,
            Action::Follow => self.follow,
            Action::Library => self.library,
            Action::Import => self.import,
            Action::SavedSearch => self.saved_search,
            Action::Recommender => self.recommender,
            Action::Suggest => self.suggest,
            Action::SignInStart => self.sign_in_start,
            Action::SignInCallback => self.sign_in_callback,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets kept at most (about 40 bytes each, plus the map's own).
pub const MAX_BUCKETS: usize = 100_000;
/// The longest a log-in waits for its account's limit.
pub const MAX_LOGIN_DELAY: Duration = Duration::from_secs(3);

/// A bucket's key: the action and a keyed hash of the text key.
type BucketKey = (Action, u64);

pub struct RateLimiter {
    limits: RateLimits,
    hasher: RandomState,
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            hasher: RandomState::new(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The bucket of `action` by `key` at `now`, refilled, with what to refill it by.
    fn with_bucket<T>(
        &self,
        action: Action,
        key: &str,
        now: Instant,
        take: impl FnOnce(&mut Bucket, f64) -> T,
    ) -> T {
        let limit = self.limits.of(action);
        let rate = f64::from(limit.per_minute.max(1)) / 60.0;
        let burst = f64::from(limit.burst.max(1));
        let hashed = (action, self.hasher.hash_one(key));
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&hashed) {
            make_room(&mut buckets, &self.limits, now);
        }
        let bucket = buckets.entry(hashed).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        take(bucket, rate)
    }

    /// Takes one token for `action` by `key` at `now`, or says how long until one is free.
    pub fn check_at(&self, action: Action, key: &str, now: Instant) -> Result<(), Duration> {
        self.with_bucket(action, key, now, |bucket, rate| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
            }
        })
    }

    pub fn check(&self, action: Action, key: &str) -> Result<(), Duration> {
        self.check_at(action, key, Instant::now())
    }

    /// Takes one token for `action` by `key` at `now` and says how long to wait first: zero
    /// within the limit, else until a token is due, at most `max`. The attempt always goes
    /// through after that; what it owes beyond `max` is forgiven, so attempts by others
    /// can make a key wait, never shut it out.
    pub fn delay_at(&self, action: Action, key: &str, now: Instant, max: Duration) -> Duration {
        self.with_bucket(action, key, now, |bucket, rate| {
            let wait = if bucket.tokens >= 1.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64((1.0 - bucket.tokens) / rate).min(max)
            };
            // The debt is capped at `max` worth of tokens.
            bucket.tokens = (bucket.tokens - 1.0).max(1.0 - max.as_secs_f64() * rate);
            wait
        })
    }

    pub fn delay(&self, action: Action, key: &str, max: Duration) -> Duration {
        self.delay_at(action, key, Instant::now(), max)
    }

    #[cfg(test)]
    fn buckets(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Frees room in a full table: buckets refilled to their burst carry no information and go
/// first; if that is not a tenth of the table, the longest idle go too (a client that has
/// waited that long has mostly been forgiven anyway).
fn make_room(buckets: &mut HashMap<BucketKey, Bucket>, limits: &RateLimits, now: Instant) {
    buckets.retain(|(action, _), b| {
        let limit = limits.of(*action);
        let rate = f64::from(limit.per_minute.max(1)) / 60.0;
        b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate
            < f64::from(limit.burst.max(1))
    });
    let target = MAX_BUCKETS - MAX_BUCKETS / 10;
    if buckets.len() > target {
        let mut ages: Vec<Instant> = buckets.values().map(|b| b.at).collect();
        let excess = buckets.len() - target;
        ages.select_nth_unstable(excess - 1);
        let cutoff = ages[excess - 1];
        buckets.retain(|_, b| b.at > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_the_bucket_refills() {
        let limits = RateLimits {
            login: Limit {
                burst: 3,
                per_minute: 6,
            },
            ..RateLimits::default()
        };
        let limiter = RateLimiter::new(limits);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(Action::LogIn, "ada", t0).is_ok());
        }
        let wait = limiter.check_at(Action::LogIn, "ada", t0).unwrap_err();
        assert!((9..=10).contains(&wait.as_secs()), "{wait:?}");
        assert!(
            limiter.check_at(Action::LogIn, "bob", t0).is_ok(),
            "keys are separate"
        );
        assert!(
            limiter.check_at(Action::Vote, "ada", t0).is_ok(),
            "actions are separate"
        );
        assert!(
            limiter
                .check_at(Action::LogIn, "ada", t0 + Duration::from_secs(10))
                .is_ok()
        );
    }

    #[test]
    fn long_and_many_keys_keep_the_table_bounded() {
        let limiter = RateLimiter::new(RateLimits::default());
        let t0 = Instant::now();
        let long = "x".repeat(1 << 20);
        let total = MAX_BUCKETS + MAX_BUCKETS / 2;
        for n in 0..total {
            // Each key used once: none of these buckets is full again within the test.
            let key = if n % 1000 == 0 {
                format!("{long}{n}")
            } else {
                format!("user:{n}")
            };
            let at = t0 + Duration::from_millis(n as u64);
            let _ = limiter.check_at(Action::LogIn, &key, at);
        }
        assert!(limiter.buckets() <= MAX_BUCKETS, "{}", limiter.buckets());
        // The most recent keys are still limited.
        let last = format!("user:{}", total - 1);
        let now = t0 + Duration::from_millis(total as u64);
        for _ in 0..9 {
            let _ = limiter.check_at(Action::LogIn, &last, now);
        }
        assert!(limiter.check_at(Action::LogIn, &last, now).is_err());
    }

    #[test]
    fn a_delay_limit_delays_at_most_its_cap_and_never_refuses() {
        let limits = RateLimits {
            login_account: Limit {
                burst: 2,
                per_minute: 6,
            },
            ..RateLimits::default()
        };
        let limiter = RateLimiter::new(limits);
        let t0 = Instant::now();
        let max = Duration::from_secs(3);
        let delay = |t| limiter.delay_at(Action::LogInAccount, "ada", t, max);
        assert_eq!(delay(t0), Duration::ZERO);
        assert_eq!(delay(t0), Duration::ZERO);
        // A thousand attempts by a stranger: each waits, none is refused, and the owner
        // right after waits no longer than the cap.
        for _ in 0..1000 {
            let wait = delay(t0);
            assert!(wait > Duration::ZERO && wait <= max, "{wait:?}");
        }
        let owner = delay(t0 + Duration::from_millis(1));
        assert!(owner > Duration::ZERO && owner <= max, "{owner:?}");
        // Quiet for a while, the account is back to no delay.
        assert_eq!(delay(t0 + Duration::from_secs(60)), Duration::ZERO);
    }
}
