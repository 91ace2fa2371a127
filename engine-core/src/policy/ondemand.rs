//! On-demand seeding policy (seed 001): from a swarm's scrape counts, whether a controller should
//! add seeders from its pool, hold, or stop. Shared by the simulator's controller and
//! `bt ondemand`, so both follow the same rules.

/// Why the controller stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Nobody left to help (or nobody there at the first check).
    NoLeechers,
    /// The ratio already held at the first check: nothing was added.
    AlreadySufficient,
    /// The swarm meets the ratio without the seeders the controller added.
    ReachedWithoutExtras,
}

/// What to do after one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Exit(Exit),
    /// The ratio holds only thanks to our seeders, or the pool is used up: keep watching.
    Hold,
    /// Start this many more seeders from the pool.
    Add(u64),
}

/// One check's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    /// Seeders and leechers the tracker reports (our added seeders included).
    pub seeders: u64,
    pub leechers: u64,
    /// Seeders this controller added that are still seeding.
    pub added: u64,
    /// Pool seeders not yet started.
    pub pool_free: u64,
    pub first: bool,
}

/// Seed 001's rules for a target seeders/leechers `ratio` in [0, 1].
pub fn decide(ratio: f64, r: &Round) -> Decision {
    if r.leechers == 0 {
        return Decision::Exit(Exit::NoLeechers);
    }
    let leechers = r.leechers as f64;
    if r.seeders as f64 >= ratio * leechers {
        if r.first {
            return Decision::Exit(Exit::AlreadySufficient);
        }
        let own = r.seeders.saturating_sub(r.added) as f64;
        if r.added > 0 && own >= ratio * leechers {
            return Decision::Exit(Exit::ReachedWithoutExtras);
        }
        return Decision::Hold;
    }
    let needed = ((ratio * leechers).ceil() as u64).saturating_sub(r.seeders);
    match needed.min(r.pool_free) {
        0 => Decision::Hold,
        n => Decision::Add(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(seeders: u64, leechers: u64, added: u64, pool_free: u64, first: bool) -> Round {
        Round {
            seeders,
            leechers,
            added,
            pool_free,
            first,
        }
    }

    #[test]
    fn follows_seed_001() {
        use Decision::{Add, Hold};
        let stop = Decision::Exit;
        assert_eq!(
            decide(0.5, &round(1, 0, 0, 3, true)),
            stop(Exit::NoLeechers)
        );
        assert_eq!(
            decide(0.5, &round(3, 1, 0, 3, true)),
            stop(Exit::AlreadySufficient)
        );
        assert_eq!(
            decide(0.0, &round(1, 30, 0, 5, true)),
            stop(Exit::AlreadySufficient)
        );
        assert_eq!(decide(0.2, &round(1, 30, 0, 5, true)), Add(5));
        assert_eq!(decide(0.2, &round(1, 30, 0, 2, true)), Add(2));
        assert_eq!(decide(0.2, &round(3, 30, 2, 0, false)), Hold);
        assert_eq!(decide(0.2, &round(6, 20, 5, 0, false)), Hold);
        assert_eq!(
            decide(0.2, &round(9, 20, 5, 0, false)),
            stop(Exit::ReachedWithoutExtras)
        );
        assert_eq!(decide(0.5, &round(2, 4, 0, 3, false)), Hold);
        assert_eq!(decide(1.0, &round(0, 4, 0, 3, false)), Add(3));
    }
}
