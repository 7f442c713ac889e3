//! Rate limits: a token bucket per action and key (a client address, a user name, a user id),
//! answered with 429 and `Retry-After`. Hand-written because the keys that matter (the account
//! being guessed at, the user voting) are known only inside the handlers.

use std::collections::HashMap;
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
    LogIn,
    Comment,
    Vote,
    Submit,
    Subscribe,
}

/// The limit of each action.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RateLimits {
    pub signup: Limit,
    pub login: Limit,
    pub comment: Limit,
    pub vote: Limit,
    pub submit: Limit,
    /// Digest subscriptions, keyed by client address.
    #[serde(default = "default_subscribe")]
    pub subscribe: Limit,
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
        }
    }
}

impl RateLimits {
    fn of(&self, action: Action) -> Limit {
        match action {
            Action::SignUp => self.signup,
            Action::LogIn => self.login,
            Action::Comment => self.comment,
            Action::Vote => self.vote,
            Action::Submit => self.submit,
            Action::Subscribe => self.subscribe,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(Action, String), Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `action` by `key` at `now`, or says how long until one is free.
    pub fn check_at(&self, action: Action, key: &str, now: Instant) -> Result<(), Duration> {
        let limit = self.limits.of(action);
        let rate = f64::from(limit.per_minute.max(1)) / 60.0;
        let burst = f64::from(limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            // Full buckets carry no information: forget them.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry((action, key.to_owned())).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    pub fn check(&self, action: Action, key: &str) -> Result<(), Duration> {
        self.check_at(action, key, Instant::now())
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
}
