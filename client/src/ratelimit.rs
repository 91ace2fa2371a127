//! Token-bucket rate limits for the session: one global bucket per direction, plus a per-peer
//! upload bucket whose rate engine-core's allocator sets (`Output::SetUploadCap`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket that may go into debt: a caller takes what it needs at once and then waits
/// until the debt is repaid, so blocks larger than the burst still pass at the right rate.
#[derive(Debug)]
pub struct Bucket {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Bytes per second; `None` is unlimited.
    rate: Option<f64>,
    /// Seconds of traffic the bucket may save up.
    window: f64,
    tokens: f64,
    last: Instant,
}

/// The burst allowance of `bt seed`/`bt download`: a tenth of a second of traffic.
pub const DEFAULT_BURST: Duration = Duration::from_millis(100);

impl State {
    /// Burst allowance: `window` of traffic. No floor of one block: a bucket goes into debt,
    /// so blocks pass at the right rate anyway, and a floor would let every pause send a
    /// block ahead of the rate (at the small per-peer caps of the seniority allocator that
    /// made `bt swarm` finish 10% sooner than the simulator's fluid model).
    fn burst(&self, rate: f64) -> f64 {
        rate * self.window
    }
}

impl Bucket {
    /// A bucket limiting to `rate` that saves up at most `burst` worth of traffic.
    pub fn new(rate: Option<f64>, burst: Duration) -> Self {
        let mut state = State {
            rate,
            window: burst.as_secs_f64(),
            tokens: 0.0,
            last: Instant::now(),
        };
        state.tokens = rate.map_or(0.0, |r| state.burst(r));
        Bucket {
            state: Mutex::new(state),
        }
    }

    /// Changes the rate; accumulated debt is kept so a lowered cap takes effect at once.
    pub fn set_rate(&self, rate: Option<f64>) {
        let mut s = self.lock();
        s.refill(Instant::now());
        s.rate = rate.filter(|r| r.is_finite() && *r > 0.0);
        if let Some(r) = s.rate {
            s.tokens = s.tokens.min(s.burst(r));
        }
    }

    /// The current rate, `None` when unlimited.
    pub fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    /// How long the caller must wait after taking `n` bytes now.
    pub fn take(&self, n: usize) -> Duration {
        let now = Instant::now();
        let mut s = self.lock();
        s.refill(now);
        let Some(rate) = s.rate else {
            return Duration::ZERO;
        };
        s.tokens -= n as f64;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / rate)
        }
    }

    /// Takes `n` bytes and sleeps off any debt.
    pub async fn acquire(&self, n: usize) {
        acquire_all(&[self], n).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few numbers, always consistent: a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        if let Some(rate) = self.rate {
            self.tokens = (self.tokens + dt * rate).min(self.burst(rate));
        }
    }
}

/// Takes `n` bytes from every bucket and sleeps off the largest debt: data under several
/// limits (a per-peer cap and the global limit) leaves when each allows it. Waiting for them
/// in turn would add the waits up and undercut both rates.
pub async fn acquire_all(buckets: &[&Bucket], n: usize) {
    let wait = buckets.iter().map(|b| b.take(n)).max().unwrap_or_default();
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debt_turns_into_wait() {
        let b = Bucket::new(Some(100_000.0), DEFAULT_BURST);
        // The burst (10 KB) passes at once; the next 100 KB costs about a second.
        assert_eq!(b.take(10_000), Duration::ZERO);
        let w = b.take(100_000);
        assert!(
            w > Duration::from_millis(900) && w <= Duration::from_millis(1001),
            "{w:?}"
        );
        b.set_rate(None);
        assert_eq!(b.take(1 << 30), Duration::ZERO);
    }

    #[tokio::test]
    async fn several_limits_wait_for_the_slowest_not_the_sum() {
        let (cap, global) = (
            Bucket::new(Some(1_000_000.0), Duration::ZERO),
            Bucket::new(Some(1_000_000.0), Duration::ZERO),
        );
        let start = Instant::now();
        for _ in 0..10 {
            acquire_all(&[&cap, &global], 16_384).await;
        }
        // 164 KB at 1 MB/s under both limits: 0.16 s, not 0.33 s.
        let t = start.elapsed();
        assert!(
            t > Duration::from_millis(150) && t < Duration::from_millis(280),
            "{t:?}"
        );
    }

    #[tokio::test]
    async fn acquire_paces_to_the_rate() {
        let b = Bucket::new(Some(1_000_000.0), DEFAULT_BURST);
        let start = Instant::now();
        for _ in 0..20 {
            b.acquire(16_384).await;
        }
        // 20 blocks = 327 KB at 1 MB/s, less the 100 KB burst: about 0.23 s.
        let t = start.elapsed();
        assert!(
            t > Duration::from_millis(180) && t < Duration::from_millis(600),
            "{t:?}"
        );
    }
}
