//! The protocol half: encodings and message formats, with no decisions in them.

pub mod bencode;
pub mod bitfield;
pub mod block;
pub mod extension;
pub mod magnet;
pub mod metadata;
pub mod metainfo;
pub mod tracker_proto;
pub mod udp_tracker;
pub mod wire;
