//! Which peer addresses to dial and when: retry with backoff, never dial a banned address
//! (one that sent bad data, or ourselves) or one already connected.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Addrs {
    known: BTreeMap<SocketAddr, Entry>,
    banned: BTreeSet<SocketAddr>,
}

struct Entry {
    next_try: Instant,
    failures: u32,
    /// Dialing or connected: not eligible.
    busy: bool,
}

impl Addrs {
    /// Learns an address (from the tracker or `--peer`); known ones keep their backoff.
    pub fn add(&mut self, addr: SocketAddr, now: Instant) {
        self.known.entry(addr).or_insert(Entry {
            next_try: now,
            failures: 0,
            busy: false,
        });
    }

    pub fn ban(&mut self, addr: SocketAddr) {
        self.banned.insert(addr);
        self.known.remove(&addr);
    }

    /// Addresses due for a dial now, marked busy; at most `n`.
    pub fn take_due(&mut self, now: Instant, n: usize) -> Vec<SocketAddr> {
        let due: Vec<SocketAddr> = self
            .known
            .iter()
            .filter(|(a, e)| !e.busy && e.next_try <= now && !self.banned.contains(a))
            .map(|(a, _)| *a)
            .take(n)
            .collect();
        for a in &due {
            if let Some(e) = self.known.get_mut(a) {
                e.busy = true;
            }
        }
        due
    }

    /// Marks an incoming connection's address busy so we do not dial it twice.
    pub fn mark_busy(&mut self, addr: SocketAddr) {
        if let Some(e) = self.known.get_mut(&addr) {
            e.busy = true;
        }
    }

    pub fn connected(&mut self, addr: SocketAddr) {
        if let Some(e) = self.known.get_mut(&addr) {
            e.failures = 0;
        }
    }

    /// A dial failed or a connection ended: retry later, backing off on repeated failures.
    pub fn closed(&mut self, addr: SocketAddr, now: Instant, failed: bool) {
        if let Some(e) = self.known.get_mut(&addr) {
            e.busy = false;
            if failed {
                e.failures = e.failures.saturating_add(1);
            }
            let backoff = FIRST_RETRY.saturating_mul(1 << e.failures.min(6));
            e.next_try = now + backoff.min(MAX_RETRY);
        }
    }

    /// When the next idle address becomes due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.known
            .values()
            .filter(|e| !e.busy)
            .map(|e| e.next_try)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_and_bans() {
        let t0 = Instant::now();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut s = Addrs::default();
        s.add(a, t0);
        s.add(b, t0);
        assert_eq!(s.take_due(t0, 1), [a]);
        assert_eq!(s.take_due(t0, 5), [b]);
        assert!(s.take_due(t0, 5).is_empty());
        s.closed(a, t0, true);
        assert_eq!(s.next_due(), Some(t0 + Duration::from_secs(2)));
        assert!(s.take_due(t0 + Duration::from_secs(1), 5).is_empty());
        assert_eq!(s.take_due(t0 + Duration::from_secs(2), 5), [a]);
        s.ban(b);
        s.add(b, t0);
        s.closed(b, t0, false);
        assert!(!s.take_due(t0 + MAX_RETRY, 5).contains(&b));
    }
}
