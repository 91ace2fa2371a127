//! Scenario files and what a run of one produces, shared by the simulator (`sim`) and the real
//! client's `bt swarm`, so neither depends on the other and both read a scenario, draw its
//! random node parameters and write their results the same way.
//!
//! - [`spec`]: the schema ([`Scenario`] and its parts), [`load`]: reading files, `--set`
//!   overrides, validation and node expansion;
//! - [`bandwidth`]: capacities as a rate or a distribution, and how classes are allotted;
//! - [`draws`]: the seeded per-node draws and the join order both drivers use;
//! - [`open`]: open swarms (arrivals, seeding and abort times);
//! - [`units`]: sizes, rates and durations, one grammar for scenario files and every CLI flag;
//! - [`fairness`]: utilisation, service error, clustering, and the per-policy summary;
//! - [`result`]: [`RunResult`] and its CSV/JSON/table writers.

pub mod bandwidth;
pub mod draws;
pub mod fairness;
pub mod load;
pub mod open;
pub mod result;
pub mod spec;
pub use engine_core::units;

pub use bandwidth::{BandwidthSpec, RateClass};
pub use load::{apply_overrides, ScenarioError};
pub use open::{Abort, Arrivals};
pub use result::RunResult;
pub use spec::*;
