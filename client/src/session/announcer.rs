//! When to announce to the torrent's HTTP trackers: `started` first, `completed` once the last
//! piece verifies, periodic updates at the tracker's interval, retries after failures.

use std::time::{Duration, Instant};

use crate::announce::Event;

/// Retry delay after a failed announce, and the floor on a tracker's interval.
const RETRY: Duration = Duration::from_secs(30);
const MIN_INTERVAL: Duration = Duration::from_secs(10);

pub struct Announcer {
    /// `http://` trackers in preference order; a failing one moves to the back.
    urls: Vec<String>,
    /// The listen port we announce.
    pub port: u16,
    /// Peers we ask each announce for.
    pub numwant: u32,
    next: Option<Instant>,
    in_flight: bool,
    started: bool,
    completed_pending: bool,
}

impl Announcer {
    pub fn new(urls: Vec<String>, port: u16, numwant: u32) -> Self {
        Announcer {
            numwant,
            next: (!urls.is_empty()).then(Instant::now),
            urls,
            port,
            in_flight: false,
            started: false,
            completed_pending: false,
        }
    }

    pub fn url(&self) -> Option<String> {
        self.urls.first().cloned()
    }

    /// When the next announce is due (none while one is in flight).
    pub fn next(&self) -> Option<Instant> {
        self.next.filter(|_| !self.in_flight)
    }

    /// The event to announce now, if one is due; the caller sends it and calls `answered`.
    pub fn due(&mut self, now: Instant) -> Option<Event> {
        if self.next()? > now {
            return None;
        }
        self.in_flight = true;
        Some(if !self.started {
            Event::Started
        } else if self.completed_pending {
            Event::Completed
        } else {
            Event::Update
        })
    }

    /// Records the outcome: `Some(interval)` on success.
    pub fn answered(&mut self, event: Event, interval: Option<Duration>) {
        self.in_flight = false;
        let now = Instant::now();
        match interval {
            Some(i) => {
                self.started |= event == Event::Started;
                self.completed_pending &= event != Event::Completed;
                let soon = self.completed_pending;
                self.next = Some(if soon { now } else { now + i.max(MIN_INTERVAL) });
            }
            None => {
                let n = 1.min(self.urls.len());
                self.urls.rotate_left(n);
                self.next = Some(now + RETRY);
            }
        }
    }

    /// The download finished: tell the tracker soon.
    pub fn completed(&mut self) {
        if self.urls.is_empty() {
            return;
        }
        self.completed_pending = true;
        if self.started {
            self.next = Some(Instant::now());
        }
    }

    /// Events still owed to the tracker when the session ends, in order.
    pub fn final_events(&self) -> Vec<Event> {
        if !self.started || self.urls.is_empty() {
            return Vec::new();
        }
        let mut v = Vec::new();
        if self.completed_pending {
            v.push(Event::Completed);
        }
        v.push(Event::Stopped);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_then_completed_then_updates() {
        let mut a = Announcer::new(vec!["http://t/a".into()], 1, 50);
        let now = Instant::now();
        assert_eq!(a.due(now), Some(Event::Started));
        assert_eq!(a.due(now), None, "one in flight");
        a.answered(Event::Started, Some(Duration::from_secs(1800)));
        assert!(a.due(Instant::now()).is_none());
        a.completed();
        assert_eq!(a.due(Instant::now()), Some(Event::Completed));
        a.answered(Event::Completed, None);
        assert_eq!(a.final_events(), [Event::Completed, Event::Stopped]);
        assert!(Announcer::new(vec![], 1, 50).next().is_none());
    }
}
