//! Sans-IO BitTorrent core shared by the simulator (`sim`) and the real client (`bt`).
//!
//! Nothing here performs I/O, reads a clock or spawns threads: drivers feed inputs with an
//! explicit [`time::Instant`] and drain outputs and timers. See `ARCHITECTURE.md`.

pub mod bitfield;
pub mod block;
pub mod time;
