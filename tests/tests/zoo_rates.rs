//! The BitTyrant and PropShare papers' findings as statistical tests: each calls the shared
//! direction in `sim::zoo` (30 seeded replicates of the CI-sized zoo file, one statistic per
//! replicate, its mean and 95% t-interval) and asserts its verdict — the same rule `sim zoo`
//! reports. Comparisons are paired: both sides come from the same replicate's seed.
//!
//! The lone BitTyrant's gain does not reproduce in our model; its test is `#[ignore]`d with the
//! measured numbers (README §Incentive zoo says why); run it with `--run-ignored all`.

mod common;

/// Piatek et al. §5.1: one BitTyrant client among tft peers finishes before the tft peers
/// of its own upload class (paper: a median 1.72× speed-up in live swarms).
#[test]
#[ignore = "does not reproduce: BitTyrant − its tft class = +1.4 s, CI [−8.4, 11.2] here, \
            +3.8 s, CI [−14.5, 22.0] in the 300-peer file; see README §Incentive zoo"]
fn a_lone_bittyrant_beats_tft_peers_of_its_class() {
    common::assert_reproduced(&["bittyrant-lone"]);
}

/// Piatek et al. §5.3: when every peer runs BitTyrant and withholds what reciprocation does
/// not need, low-capacity peers finish later than in the same swarm on mainline (paper: 314 s
/// → 733 s on PlanetLab).
#[test]
fn all_selfish_bittyrant_slows_low_capacity_peers() {
    common::assert_reproduced(&["bittyrant-selfish"]);
}

/// Levin et al. §6: head to head, PropShare's peers finish no later than BitTyrant's. Holds
/// in this flash crowd (+1.8 s, CI [−1.2, 4.8]); in the full 300-peer steady swarm PropShare
/// is 25 s slower (CI [16, 34], 10 replicates; README §Incentive zoo).
#[test]
fn propshare_is_not_slower_than_bittyrant_head_to_head() {
    common::assert_reproduced(&["propshare-vs-bittyrant"]);
}
