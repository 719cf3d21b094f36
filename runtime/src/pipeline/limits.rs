//! Rate limits (`rateLimit: 10/min per user`) and pricing-plan quotas
//! (`limits: { requests: 1000/day }`), with GCRA from `governor`.
//!
//! A limit of N per period allows a burst of N and refills one request
//! every period/N, so it never lets more than N through in any window of
//! one period after a full one. Each answer carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the whole
//! allowance is back); a refusal is a 429 problem with `Retry-After`
//! (seconds until the next request is allowed). Callers whose allowance is
//! full again are forgotten now and then, so memory stays bounded by the
//! callers of the last period.

use crate::Problem;
use crate::auth::Caller;
use crate::spec::{RateSpec, Scope};
use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Checks between two sweeps of callers whose allowance is full again.
const SWEEP_EVERY: u32 = 4096;

/// Time since the limiter was made, from `web_time` (std's monotonic
/// clock on the native host, `performance.now()` on Workers, where std's
/// panics): governor's own clocks read std's or the CPU's counter.
#[derive(Clone, Debug)]
struct Elapsed(web_time::Instant);

impl Clock for Elapsed {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// One limit, keyed by caller.
pub struct Limiter {
    limiter:
        RateLimiter<String, DefaultKeyedStateStore<String>, Elapsed, StateInformationMiddleware>,
    clock: Elapsed,
    count: u32,
    per: Duration,
    scope: Scope,
    what: String,
    checks: AtomicU32,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Limiter({} per {:?} {:?})",
            self.count, self.per, self.scope
        )
    }
}

/// Headers to add to the answer.
pub type LimitHeaders = Vec<(&'static str, String)>;

impl Limiter {
    /// A limit of `count` per `per_seconds`, or `None` for a zero count.
    /// The compiler refuses a count that does not fit (E0108).
    pub fn new(count: u32, per_seconds: u64, scope: Scope, what: String) -> Option<Self> {
        let n = NonZeroU32::new(count)?;
        let per = Duration::from_secs(per_seconds.max(1));
        let replenish = per / n.get();
        let quota = Quota::with_period(replenish.max(Duration::from_nanos(1)))?.allow_burst(n);
        let clock = Elapsed(web_time::Instant::now());
        Some(Limiter {
            limiter: RateLimiter::<_, _, _, governor::middleware::NoOpMiddleware<Duration>>::new(
                quota,
                DefaultKeyedStateStore::default(),
                clock.clone(),
            )
            .with_middleware::<StateInformationMiddleware>(),
            clock,
            count: n.get(),
            per,
            scope,
            what,
            checks: AtomicU32::new(0),
        })
    }

    /// From a route's `rateLimit`.
    pub fn for_route(spec: &RateSpec, operation: &str) -> Option<Self> {
        Limiter::new(
            spec.count,
            spec.per_seconds,
            spec.scope,
            format!(
                "the rate limit of {operation} ({} per {}s)",
                spec.count, spec.per_seconds
            ),
        )
    }

    /// The key a caller is counted under.
    pub fn key(&self, caller: Option<&Caller>, ip: &str) -> String {
        match (self.scope, caller) {
            (Scope::Global, _) => String::new(),
            (Scope::Ip, _) | (_, None) => format!("ip:{ip}"),
            (Scope::User, Some(c)) => format!("user:{}", c.subject),
            (Scope::Key, Some(c)) => format!("key:{}", c.credential()),
        }
    }

    /// Takes one request from the caller's allowance.
    pub fn check(&self, key: String) -> Result<LimitHeaders, Problem> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.shrink();
        }
        match self.limiter.check_key(&key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(self.count);
                // Each used request comes back after per/count.
                let used = u128::from(self.count - remaining);
                let reset_ms = used * self.per.as_millis() / u128::from(self.count);
                let reset = reset_ms.div_ceil(1000);
                Ok(vec![
                    ("ratelimit-limit", self.count.to_string()),
                    ("ratelimit-remaining", remaining.to_string()),
                    ("ratelimit-reset", reset.to_string()),
                ])
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(
                    Problem::too_many_requests(format!("{} is used up", self.what), secs)
                        .with_header("ratelimit-limit", self.count.to_string())
                        .with_header("ratelimit-remaining", "0")
                        .with_header("ratelimit-reset", secs.max(1).to_string()),
                )
            }
        }
    }

    /// Drops state of keys that are full again (bounded memory).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_retry_after() {
        let Some(l) = Limiter::new(3, 60, Scope::User, "test".into()) else {
            panic!("limiter")
        };
        for (remaining, reset) in [(2, "20"), (1, "40"), (0, "60")] {
            let h = l.check("a".into()).unwrap_or_default();
            assert_eq!(h[1].1, remaining.to_string());
            assert_eq!(h[2].1, reset);
        }
        let Err(p) = l.check("a".into()) else {
            panic!("fourth request passed")
        };
        assert_eq!(p.status, 429);
        let retry: u64 = p.headers[0].1.parse().unwrap_or(0);
        assert!((1..=20).contains(&retry), "{retry}");
        // another caller is not affected
        assert!(l.check("b".into()).is_ok());
    }

    #[test]
    fn full_callers_are_swept() {
        let Some(l) = Limiter::new(1000, 1, Scope::Ip, "test".into()) else {
            panic!("limiter")
        };
        for i in 1..SWEEP_EVERY {
            let _ = l.check(format!("ip:{i}"));
        }
        assert_eq!(l.limiter.len(), SWEEP_EVERY as usize - 1);
        // A thousand a second: every caller is full again 1 ms later, and
        // the next check sweeps them.
        std::thread::sleep(Duration::from_millis(20));
        let _ = l.check("ip:last".into());
        assert_eq!(l.limiter.len(), 1);
    }
}
