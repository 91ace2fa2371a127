//! Sans-IO BitTorrent core shared by the simulator (`sim`) and the real client (`bt`).
//!
//! Nothing here performs I/O, reads a clock or spawns threads: drivers feed inputs with an
//! explicit [`time::Instant`] and drain outputs and timers. See `ARCHITECTURE.md`.
//!
//! Two halves, and the state machines that join them:
//! - [`protocol`]: what goes over the wire and into files — bencode, metainfo, peer wire
//!   messages, extensions, metadata exchange, magnet links, tracker query syntax.
//! - [`policy`]: the decisions — the incentive policies (one trait, one file per mechanism),
//!   piece picking, whom to dial and when to announce, on-demand seeding.
//! - [`torrent`] (one torrent's controller) and [`tracker`] (one swarm's tracker logic) apply
//!   policy to protocol events.

pub mod peer_map;
pub mod policy;
pub mod protocol;
pub mod time;
pub mod torrent;
pub mod tracker;
pub mod units;

/// A driver-chosen handle for one peer connection (node index in `sim`, connection id in `bt`).
pub type PeerKey = u64;
