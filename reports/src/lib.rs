//! Statistics, CSV tables and plots for simulation results.
