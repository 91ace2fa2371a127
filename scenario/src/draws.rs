//! The scenario's random draws, made once here for both drivers: every node's bandwidth
//! spread and join time, and the order in which same-instant joins are processed. `sim` and
//! `bt swarm` call these functions, so the real swarm runs exactly the nodes, in exactly the
//! order, that the simulator does.

use engine_core::time::Instant;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::open::{exponential, Abort};
use crate::spec::{JoinTime, Leave, NodeSpec, Scenario};

/// Derives an independent 32-byte seed for stream `stream` of the scenario seed.
pub fn stream_seed(seed: u64, stream: u64) -> [u8; 32] {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut out = [0u8; 32];
    rng.fill_bytes(&mut out);
    out
}

/// Seed of replicate `r` (0-based): replicate 0 keeps the scenario's own seed, so a single run
/// and the first replicate agree; later ones are drawn from a ChaCha stream of that seed.
/// `sim` (replicates, sweeps, tournaments) and `bt swarm --replicates` share it, so replicate
/// `r` is the same swarm in both.
pub fn replicate_seed(seed: u64, r: u32) -> u64 {
    if r == 0 {
        return seed;
    }
    let bytes = stream_seed(seed, REPLICATE_STREAM_BASE + r as u64);
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// Stream bases of the per-node draws (stream = base + node id). Streams below
/// [`JOIN_STREAM_BASE`] belong to the simulator (tracker, per-node engine seeds).
pub const JOIN_STREAM_BASE: u64 = 1 << 40;
pub const LATENCY_STREAM_BASE: u64 = 1 << 41;
pub const BANDWIDTH_STREAM_BASE: u64 = 1 << 42;
/// Replicate seeds ([`replicate_seed`]).
pub const REPLICATE_STREAM_BASE: u64 = 1 << 48;
/// Class allotment keys ([`crate::bandwidth`]): a stream of their own, so a scenario that
/// adds classes draws the same spreads and join times as before.
pub const CLASS_STREAM_BASE: u64 = 1 << 43;
/// Open swarms ([`crate::open`]): a group's Poisson arrivals (base + group index), and each
/// node's exponential seeding and abort times; new bases, so closed scenarios draw as before.
pub const ARRIVAL_STREAM_BASE: u64 = 1 << 44;
pub const SEEDING_STREAM_BASE: u64 = 1 << 45;
pub const ABORT_STREAM_BASE: u64 = 1 << 46;
const JOIN_ORDER_STREAM: u64 = (1 << 40) - 1;

/// Every node with its random draws made: bandwidths scaled by its `bandwidth_spread`,
/// join times and exponential seeding and abort times drawn, each from the node's own stream. Pool seeders of `[ondemand]` have
/// no join time.
pub fn resolve_nodes(sc: &Scenario) -> Vec<(NodeSpec, Option<Instant>)> {
    sc.nodes()
        .into_iter()
        .map(|mut spec| {
            let spread = spec.bandwidth_spread;
            if spread > 0.0 {
                let mut rng = ChaCha8Rng::from_seed(stream_seed(
                    sc.seed,
                    BANDWIDTH_STREAM_BASE + spec.id as u64,
                ));
                spec.upload *= rng.gen_range(1.0 - spread..=1.0 + spread);
                spec.download *= rng.gen_range(1.0 - spread..=1.0 + spread);
            }
            let join_at = match spec.join {
                JoinTime::At(d) => Some(Instant::ZERO + d.0),
                JoinTime::Uniform(a, b) => {
                    let mut rng = ChaCha8Rng::from_seed(stream_seed(
                        sc.seed,
                        JOIN_STREAM_BASE + spec.id as u64,
                    ));
                    Some(Instant(rng.gen_range(a.0 .0..=b.0 .0)))
                }
                JoinTime::OnDemand => None,
            };
            let node_rng =
                |base: u64| ChaCha8Rng::from_seed(stream_seed(sc.seed, base + spec.id as u64));
            if let Leave::Exponential(mean) = spec.leave {
                spec.leave = Leave::After(exponential(mean, &mut node_rng(SEEDING_STREAM_BASE)));
            }
            if let Some(Abort::Exponential(mean)) = spec.abort {
                spec.abort = Some(Abort::After(exponential(
                    mean,
                    &mut node_rng(ABORT_STREAM_BASE),
                )));
            }
            (spec, join_at)
        })
        .collect()
}

/// The order in which the drivers start nodes (0-based indices into [`resolve_nodes`]):
/// a seeded shuffle, so among nodes joining at the same instant node index (which follows
/// online days in the thesis scenarios) gives no head start.
pub fn join_order(sc: &Scenario) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sc.nodes().len()).collect();
    order.shuffle(&mut ChaCha8Rng::from_seed(stream_seed(
        sc.seed,
        JOIN_ORDER_STREAM,
    )));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const SC: &str = "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 2\n[[group]]\nrole = \"leecher\"\ncount = 30\njoin = { from = \"0s\", to = \"60s\" }\n";

    #[test]
    fn join_order_is_a_seeded_permutation_of_every_node() {
        let sc = Scenario::parse("t", SC, &[]).unwrap();
        let order = join_order(&sc);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..32).collect::<Vec<_>>());
        assert_eq!(join_order(&sc), order, "same seed, same order");
        let other = Scenario::parse("t", SC, &["seed=2".into()]).unwrap();
        assert_ne!(join_order(&other), order);
        assert_ne!(order, sorted, "node index must not decide ties");
    }

    #[test]
    fn uniform_joins_fall_in_their_window_and_follow_the_seed() {
        let sc = Scenario::parse("t", SC, &[]).unwrap();
        let nodes = resolve_nodes(&sc);
        let joins: Vec<u64> = nodes.iter().map(|(_, at)| at.unwrap().0).collect();
        assert!(joins[..2].iter().all(|&t| t == 0));
        assert!(joins[2..].iter().all(|&t| t <= 60_000_000));
        assert!(joins[2..].windows(2).any(|w| w[0] != w[1]));
        assert_eq!(resolve_nodes(&sc), nodes);
    }
}
