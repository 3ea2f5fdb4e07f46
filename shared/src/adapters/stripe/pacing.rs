//! One connected account's read budget. Stripe limits each account to 100 read
//! requests a second in live mode and 25 in test mode (docs.stripe.com/rate-limits),
//! and most endpoints to 25 a second on their own. A sync reads one account, one request
//! at a time, and its lease keeps it the only sync of its integration; this bucket
//! keeps it under `TALLY_STRIPE_READS_PER_SECOND` (default 20) as well, retries
//! included, so a fast network cannot reach the limit. A quarter of a second's
//! requests may go at once; beyond that, one request per 1/rate seconds: at most
//! 1.25 × rate in any second (25 at the default).

use tokio::sync::Mutex;
use tokio::time::{Duration, Instant};

/// The default budget: under test mode's 25 a second, whatever the mode.
pub const DEFAULT_READS_PER_SECOND: u32 = 20;

/// A token bucket of `per_second / 4` tokens (at least one), refilled at `per_second`
/// a second.
#[derive(Debug)]
pub struct ReadPacer {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ReadPacer {
    pub fn new(per_second: u32) -> Self {
        let burst = f64::from((per_second / 4).max(1));
        let per_second = f64::from(per_second.max(1));
        Self {
            per_second,
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
            }),
        }
    }

    /// Waits until one more request fits the budget, and takes it. Waiters queue in
    /// order (the lock is fair).
    pub async fn wait(&self) {
        let mut bucket = self.bucket.lock().await;
        let now = Instant::now();
        let earned = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + earned).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return;
        }
        let short = (1.0 - bucket.tokens) / self.per_second;
        tokio::time::sleep(Duration::from_secs_f64(short)).await;
        bucket.tokens = 0.0;
        bucket.at = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_second_holds_more_than_a_quarter_second_burst_and_the_rate() {
        let pacer = ReadPacer::new(DEFAULT_READS_PER_SECOND);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..200 {
            pacer.wait().await;
            sent.push(start.elapsed());
        }
        // The first five go at once; then one every 50 ms.
        assert_eq!(sent[4], Duration::ZERO);
        let total = sent[199].as_secs_f64();
        assert!((9.7..=9.8).contains(&total), "{total}");
        // Stripe's test-mode limit: 25 in any second.
        for window in sent.windows(26) {
            assert!(
                window[25] - window[0] >= Duration::from_millis(999),
                "{window:?}"
            );
        }
    }
}
