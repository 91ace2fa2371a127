//! Statistics, CSV tables and plots for simulation results: the one place that
//! turns raw run outputs into numbers and figures, so every report is computed
//! and drawn the same way.

pub mod plot;
pub mod stats;
pub mod table;
