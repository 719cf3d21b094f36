//! How often and how soon failed work is tried again: a subscription's
//! `retry:` and `deadLetter:`, a saga step's `retry:`.
//!
//! Why it exists: generated code builds these policies on both hosts;
//! the native host's dispatcher and saga coordinator apply them.

pub use crate::spec::Backoff;

/// A subscription's retry policy (`retry:` and `deadLetter:` of
/// `events.subscribes` in the manifest).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// How the delay grows.
    pub backoff: Backoff,
    /// The delay before the first retry, in milliseconds.
    pub delay_ms: u64,
    /// The longest delay, in milliseconds.
    pub max_delay_ms: Option<u64>,
    /// Random share taken off each delay, 0.0 to 1.0 (0.2: a delay is
    /// between 80% and 100% of its nominal value), so that handlers that
    /// failed together do not retry together.
    pub jitter: f64,
    /// Whether an event that exhausts its attempts goes to the dead-letter
    /// table (`deadLetter: false` drops it, with an error log).
    pub dead_letter: bool,
}

impl Default for RetryPolicy {
    /// 3 attempts, exponential from 1 s up to 1 min, 20% jitter, dead
    /// letters on.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Backoff::Exponential,
            delay_ms: 1_000,
            max_delay_ms: Some(60_000),
            jitter: 0.2,
            dead_letter: true,
        }
    }
}

impl RetryPolicy {
    /// The policy of a subscription as the manifest wrote it, with 20%
    /// jitter.
    pub fn from_spec(retry: crate::spec::RetrySpec, dead_letter: bool) -> Self {
        RetryPolicy {
            attempts: retry.attempts.max(1),
            backoff: retry.backoff,
            delay_ms: retry.delay_ms,
            max_delay_ms: retry.max_delay_ms,
            jitter: 0.2,
            dead_letter,
        }
    }

    /// The delay after the `failed`-th failed attempt (1-based), jitter
    /// included.
    pub fn delay_after(&self, failed: u32) -> u64 {
        let nominal = match self.backoff {
            Backoff::Fixed => self.delay_ms,
            Backoff::Linear => self.delay_ms.saturating_mul(u64::from(failed.max(1))),
            Backoff::Exponential => {
                let shift = failed.saturating_sub(1).min(32);
                self.delay_ms.saturating_mul(1u64 << shift)
            }
        };
        let capped = self.max_delay_ms.map_or(nominal, |m| nominal.min(m));
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 || capped == 0 {
            return capped;
        }
        let off = (capped as f64 * jitter * random_unit()) as u64;
        capped - off.min(capped)
    }
}

/// A number in [0, 1) from the operating system's randomness (through
/// UUID v4, already a dependency).
fn random_unit() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[..8]);
    (u64::from_le_bytes(n) >> 11) as f64 / (1u64 << 53) as f64
}
