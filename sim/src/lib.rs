//! Deterministic discrete-event BitTorrent swarm simulator.
//!
//! A [`scenario::Scenario`] (TOML) expands into nodes that each run an engine-core
//! [`engine_core::torrent::Torrent`]; [`world::World`] moves their messages and block flows
//! through a modelled network and reports [`metrics::RunResult`]s. Same scenario and seed give
//! byte-identical results on any machine and thread count.

pub mod checkpoint;
pub mod compare;
pub mod fluid;
pub mod fluid_grid;
pub mod html;
pub mod network;
pub mod overrides;
pub mod plot_cmd;
pub mod point_stats;
pub mod queue;
pub mod regular;
pub mod replicate;
pub mod reproduce;
pub mod scale;
pub mod shard;
pub mod sweep;
pub mod tournament;
pub mod verdict;
pub mod world;
pub mod zoo;

/// The scenario schema, units and result model live in the `scenario` crate so `bt swarm`
/// reads scenarios without the simulator; these keep the `sim::scenario::…`, `sim::units`
/// and `sim::metrics` paths.
pub use ::scenario::{self, result as metrics, units, RunResult, Scenario};

/// Runs one scenario once.
pub fn run(sc: &Scenario) -> RunResult {
    world::World::new(sc).run()
}

/// Like [`run`], reporting downloaded bytes as they accrue (see [`world::World::run_observed`]).
pub fn run_observed(sc: &Scenario, on_bytes: &(dyn Fn(u64) + Sync)) -> RunResult {
    world::World::new(sc).run_observed(on_bytes)
}

/// Like [`run`], but checks every rate allocation against node capacities and per-peer caps,
/// counting violations in `stats.cap_violations` (slower; used by the invariant tests).
pub fn run_checked(sc: &Scenario) -> RunResult {
    world::World::new(sc).with_invariant_checks().run()
}
