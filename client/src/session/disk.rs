//! The session's disk side: async block I/O and piece hashing on the blocking pool, with a
//! guard that keeps late block writes out of pieces being hashed or already verified.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use engine_core::bitfield::Bitfield;
use engine_core::block::BlockRequest;
use engine_core::metainfo::Info;

use crate::storage::Storage;

/// Shared by the torrent actor (hashing) and the peer tasks (block reads and writes).
pub struct Disk {
    storage: Arc<Storage>,
    hashes: Arc<Vec<[u8; 20]>>,
    guard: Mutex<Guard>,
}

/// Per-piece write/hash exclusion. A duplicate block (end game, or a hostile peer) may arrive
/// while its piece is hashed or after it verified; writing it then could corrupt good data.
#[derive(Default)]
struct Guard {
    verified: Vec<bool>,
    hashing: Vec<bool>,
    writing: BTreeMap<u32, u32>,
}

/// What happened to a received block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Written,
    /// Its piece is verified or being hashed: the data was dropped, as a duplicate.
    Dropped,
}

impl Disk {
    pub fn new(storage: Arc<Storage>, info: &Info, have: &Bitfield) -> Self {
        let n = info.pieces.len();
        Disk {
            storage,
            hashes: Arc::new(info.pieces.clone()),
            guard: Mutex::new(Guard {
                verified: (0..n as u32).map(|i| have.get(i)).collect(),
                hashing: vec![false; n],
                writing: BTreeMap::new(),
            }),
        }
    }

    /// Hashes every piece present on disk (resume by recheck) and returns those that match.
    pub async fn recheck(
        storage: Arc<Storage>,
        info: &Info,
        on_piece: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<Bitfield> {
        let hashes = info.pieces.clone();
        tokio::task::spawn_blocking(move || {
            let results = storage.hash_all(0, on_piece);
            let mut have = Bitfield::new(hashes.len() as u32);
            for (i, (got, want)) in results.iter().zip(&hashes).enumerate() {
                if got.as_ref().is_ok_and(|h| h == want) {
                    have.set(i as u32);
                }
            }
            have
        })
        .await
        .context("recheck task panicked")
    }

    /// Stores a received block unless its piece is verified or being hashed. The guard is
    /// taken and released on the blocking thread, so a cancelled caller cannot leak it.
    pub async fn write(self: Arc<Self>, block: BlockRequest, data: Bytes) -> Result<Stored> {
        tokio::task::spawn_blocking(move || {
            if !self.lock().begin_write(block.index) {
                return Ok(Stored::Dropped);
            }
            let res = self.storage.write_block(block.index, block.begin, &data);
            self.lock().end_write(block.index);
            res.with_context(|| format!("writing piece {} offset {}", block.index, block.begin))?;
            Ok(Stored::Written)
        })
        .await
        .context("write task panicked")?
    }

    pub async fn read(&self, block: BlockRequest) -> Result<Bytes> {
        let storage = self.storage.clone();
        let data = tokio::task::spawn_blocking(move || {
            storage.read_block(block.index, block.begin, block.length)
        })
        .await
        .context("read task panicked")?
        .with_context(|| format!("reading piece {} offset {}", block.index, block.begin))?;
        Ok(Bytes::from(data))
    }

    /// Starts hashing `piece` if no write to it is in flight; `false` means retry after the
    /// writes end (the actor retries whenever a block is stored).
    pub fn try_begin_hash(&self, piece: u32) -> bool {
        let mut g = self.lock();
        if g.writing.contains_key(&piece) {
            return false;
        }
        g.hashing[piece as usize] = true;
        true
    }

    /// Hashes `piece` (after [`Disk::try_begin_hash`]) and records the verdict. An unreadable
    /// piece counts as bad data; the error is returned for logging.
    pub async fn hash(self: Arc<Self>, piece: u32) -> (bool, Option<String>) {
        let disk = self.clone();
        let res = tokio::task::spawn_blocking(move || {
            let res = disk.storage.hash_piece(piece);
            let ok = res
                .as_ref()
                .is_ok_and(|h| *h == disk.hashes[piece as usize]);
            let mut g = disk.lock();
            g.hashing[piece as usize] = false;
            g.verified[piece as usize] = ok;
            (ok, res.err().map(|e| e.to_string()))
        })
        .await;
        res.unwrap_or_else(|e| (false, Some(format!("hash task panicked: {e}"))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guard> {
        // A few flags, consistent after every statement: safe to use after a panic elsewhere.
        self.guard.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Guard {
    fn begin_write(&mut self, piece: u32) -> bool {
        let i = piece as usize;
        if i >= self.verified.len() || self.verified[i] || self.hashing[i] {
            return false;
        }
        *self.writing.entry(piece).or_default() += 1;
        true
    }

    fn end_write(&mut self, piece: u32) {
        if let Some(n) = self.writing.get_mut(&piece) {
            *n -= 1;
            if *n == 0 {
                self.writing.remove(&piece);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_hashes_exclude_each_other() {
        let mut g = Guard {
            verified: vec![false, true],
            hashing: vec![false, false],
            writing: BTreeMap::new(),
        };
        assert!(!g.begin_write(1), "verified piece");
        assert!(!g.begin_write(7), "out of range");
        assert!(g.begin_write(0));
        assert_eq!(g.writing.get(&0), Some(&1));
        g.end_write(0);
        assert!(g.writing.is_empty());
        g.hashing[0] = true;
        assert!(!g.begin_write(0), "piece being hashed");
    }
}
