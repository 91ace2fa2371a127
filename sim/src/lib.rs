//! Deterministic discrete-event swarm simulator.
