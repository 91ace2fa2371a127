//! Sans-IO BitTorrent core shared by the simulator (`sim`) and the real client (`bt`).
//!
//! Nothing here performs I/O, reads a clock or spawns threads: drivers feed inputs with an
//! explicit [`time::Instant`] and drain outputs and timers. See `ARCHITECTURE.md`.

pub mod allocator;
pub mod bencode;
pub mod bitfield;
pub mod block;
pub mod choker;
pub mod extension;
pub mod magnet;
pub mod metadata;
pub mod metainfo;
pub mod ondemand;
pub mod peer_map;
pub mod peer_set;
pub mod picker;
pub mod time;
pub mod torrent;
pub mod tracker;
pub mod tracker_proto;
pub mod wire;

/// A driver-chosen handle for one peer connection (node index in `sim`, connection id in `bt`).
pub type PeerKey = u64;
