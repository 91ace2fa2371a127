//! The session's disk side: async block I/O and piece hashing on the blocking pool, with a
//! guard that keeps late block writes out of pieces being hashed or already verified.
//!
//! Received blocks are assembled in memory ([`Cache`], bounded by [`CACHE_BYTES`]) and a
//! complete piece is hashed from memory and written once, only if it verifies: the socket
//! reader then never waits on the blocking pool, and the piece is not read back to be hashed.
//! Beyond the bound, blocks go straight to disk as before and the piece is hashed from disk.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use engine_core::protocol::bitfield::Bitfield;
use engine_core::protocol::block::{BlockRequest, Geometry};
use engine_core::protocol::metainfo::Info;
use sha1::{Digest, Sha1};

use crate::storage::Storage;

/// Memory for pieces being assembled: a few pieces per peer at the default pipeline depth,
/// small next to the page cache the data goes through anyway.
pub const CACHE_BYTES: usize = 64 << 20;

/// A verified piece is written in pieces of this size: on this VM's kernel (6.18, ext4) one
/// 1 MiB `pwrite` copies into the page cache 2-4 times slower than 64 KiB ones (`dd` of 512 MiB:
/// 0.66 s against 0.16 s of system time), which made the page-cache copy half of bt's CPU time.
const WRITE_CHUNK: usize = 64 << 10;

/// Shared by the torrent actor (hashing) and the peer tasks (block reads and writes).
pub struct Disk {
    storage: Arc<Storage>,
    hashes: Arc<Vec<[u8; 20]>>,
    guard: Mutex<Guard>,
}

/// Per-piece write/hash exclusion. A duplicate block (end game, or a hostile peer) may arrive
/// while its piece is hashed or after it verified; writing it then could corrupt good data.
struct Guard {
    verified: Vec<bool>,
    hashing: Vec<bool>,
    writing: BTreeMap<u32, u32>,
    cache: Cache,
}

/// Pieces being assembled in memory, at most `cap` bytes of them. A piece gets a buffer with
/// its first block if the bound allows; its blocks then go there until it is hashed.
struct Cache {
    geometry: Geometry,
    cap: usize,
    /// Bytes of the buffers in `pieces` and of those taken for hashing and not yet released.
    used: usize,
    pieces: BTreeMap<u32, PieceBuf>,
    /// Buffers of hashed pieces, kept for the next pieces so that each one is not zero-filled
    /// and faulted in afresh; together with `used` they stay within `cap`.
    spare: Vec<Vec<u8>>,
    spare_bytes: usize,
}

/// One piece's data as received so far; `have[b]` says whether block `b` arrived.
struct PieceBuf {
    data: Vec<u8>,
    have: Vec<bool>,
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
        Self::with_cache(storage, info, have, CACHE_BYTES)
    }

    /// [`Disk::new`] with `cache` bytes for assembling pieces (0: every block goes to disk).
    pub fn with_cache(storage: Arc<Storage>, info: &Info, have: &Bitfield, cache: usize) -> Self {
        let n = info.pieces.len();
        Disk {
            storage,
            hashes: Arc::new(info.pieces.clone()),
            guard: Mutex::new(Guard {
                verified: (0..n as u32).map(|i| have.get(i)).collect(),
                hashing: vec![false; n],
                writing: BTreeMap::new(),
                cache: Cache::new(info.geometry(), cache),
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

    /// Stores a valid received block unless its piece is verified or being hashed: in its
    /// piece's buffer at once if the cache has room, else on disk. The disk path takes and
    /// releases the guard on the blocking thread, so a cancelled caller cannot leak it.
    pub async fn write(self: Arc<Self>, block: BlockRequest, data: Bytes) -> Result<Stored> {
        {
            let mut g = self.lock();
            if !g.may_write(block.index) {
                return Ok(Stored::Dropped);
            }
            if g.cache.put(block, &data) {
                return Ok(Stored::Written);
            }
        }
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

    /// Hashes `piece` (after [`Disk::try_begin_hash`]) and records the verdict. A piece
    /// assembled in memory is hashed there and written only if it verifies (a bad one is
    /// simply discarded); a partly buffered one is flushed and hashed from disk. An unreadable
    /// piece counts as bad data, its error returned for logging; `Err` is a failed write, which
    /// ends the session like any other.
    pub async fn hash(self: Arc<Self>, piece: u32) -> Result<(bool, Option<String>)> {
        let disk = self.clone();
        let res = tokio::task::spawn_blocking(move || {
            let buf = disk.lock().cache.take(piece);
            let res = disk.hash_and_store(piece, buf.as_ref());
            let mut g = disk.lock();
            if let Some(b) = buf {
                g.cache.release(b);
            }
            g.hashing[piece as usize] = false;
            let (ok, error) = res?;
            g.verified[piece as usize] = ok;
            Ok((ok, error))
        })
        .await;
        res.unwrap_or_else(|e| Ok((false, Some(format!("hash task panicked: {e}")))))
    }

    /// The blocking part of [`Disk::hash`]: the verdict, after the piece is on disk if good.
    fn hash_and_store(&self, piece: u32, buf: Option<&PieceBuf>) -> Result<(bool, Option<String>)> {
        let want = &self.hashes[piece as usize];
        let write = |begin: u32, data: &[u8]| {
            self.storage
                .write_block(piece, begin, data)
                .with_context(|| format!("writing piece {piece} offset {begin}"))
        };
        match buf {
            Some(b) if b.is_complete() => {
                let ok = <[u8; 20]>::from(Sha1::digest(&b.data)) == *want;
                if ok {
                    for (i, chunk) in b.data.chunks(WRITE_CHUNK).enumerate() {
                        write((i * WRITE_CHUNK) as u32, chunk)?;
                    }
                }
                return Ok((ok, None));
            }
            Some(b) => {
                let g = self.lock().cache.geometry;
                for (i, _) in b.have.iter().enumerate().filter(|(_, h)| **h) {
                    let r = g.block(piece, i as u32);
                    let at = r.begin as usize;
                    write(r.begin, &b.data[at..at + r.length as usize])?;
                }
            }
            None => {}
        }
        let res = self.storage.hash_piece(piece);
        let ok = res.as_ref().is_ok_and(|h| h == want);
        Ok((ok, res.err().map(|e| e.to_string())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guard> {
        // A few flags, consistent after every statement: safe to use after a panic elsewhere.
        self.guard.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Guard {
    /// A block of `piece` may be stored: the piece exists and is neither verified nor hashing.
    fn may_write(&self, piece: u32) -> bool {
        let i = piece as usize;
        i < self.verified.len() && !self.verified[i] && !self.hashing[i]
    }

    fn begin_write(&mut self, piece: u32) -> bool {
        if !self.may_write(piece) {
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

impl Cache {
    fn new(geometry: Geometry, cap: usize) -> Self {
        Cache {
            geometry,
            cap,
            used: 0,
            pieces: BTreeMap::new(),
            spare: Vec::new(),
            spare_bytes: 0,
        }
    }

    /// Copies a valid block into its piece's buffer, starting one if the bound allows;
    /// `false` means the caller must write it to disk.
    fn put(&mut self, block: BlockRequest, data: &[u8]) -> bool {
        let g = self.geometry;
        let buf = match self.pieces.entry(block.index) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let size = g.piece_size(block.index) as usize;
                if self.used + size > self.cap {
                    return false;
                }
                self.used += size;
                // A recycled buffer's old bytes are never read: every block of the piece
                // overwrites its range before the piece is hashed or written (`have`).
                let mut data = self.spare.pop().unwrap_or_default();
                self.spare_bytes -= data.capacity();
                data.resize(size, 0);
                e.insert(PieceBuf {
                    data,
                    have: vec![false; g.blocks_in_piece(block.index) as usize],
                })
            }
        };
        let at = block.begin as usize;
        buf.data[at..at + data.len()].copy_from_slice(data);
        buf.have[(block.begin / g.block_len) as usize] = true;
        true
    }

    /// Removes `piece`'s buffer for hashing; its bytes stay counted until [`Cache::release`].
    fn take(&mut self, piece: u32) -> Option<PieceBuf> {
        self.pieces.remove(&piece)
    }

    /// A taken buffer is done with: uncount it, and keep it for reuse if the bound allows.
    fn release(&mut self, buf: PieceBuf) {
        self.used -= buf.data.len();
        let keep = buf.data.capacity();
        if self.used + self.spare_bytes + keep <= self.cap {
            self.spare_bytes += keep;
            self.spare.push(buf.data);
        }
    }
}

impl PieceBuf {
    fn is_complete(&self) -> bool {
        self.have.iter().all(|h| *h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Mode;
    use engine_core::protocol::metainfo::FileEntry;
    use proptest::prelude::*;

    const PIECE: u32 = 32 * 1024;

    #[test]
    fn writes_and_hashes_exclude_each_other() {
        let mut g = Guard {
            verified: vec![false, true],
            hashing: vec![false, false],
            writing: BTreeMap::new(),
            cache: Cache::new(Geometry::new(2 * u64::from(PIECE), PIECE), 0),
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

    /// A disk over `data` (whole pieces of [`PIECE`]) with nothing verified yet.
    fn disk_for(dir: &std::path::Path, data: &[u8], cache: usize) -> Arc<Disk> {
        let info = info_of(data);
        let storage = Storage::open(dir, &info, Mode::ReadWrite).unwrap();
        let have = Bitfield::new(info.pieces.len() as u32);
        Arc::new(Disk::with_cache(Arc::new(storage), &info, &have, cache))
    }

    /// A one-file torrent of `data`.
    fn info_of(data: &[u8]) -> Info {
        Info {
            name: "f".into(),
            piece_length: PIECE,
            pieces: data
                .chunks(PIECE as usize)
                .map(|c| Sha1::digest(c).into())
                .collect(),
            files: vec![FileEntry {
                path: vec!["f".into()],
                length: data.len() as u64,
            }],
            private: false,
        }
    }

    fn block(disk: &Disk, data: &[u8], piece: u32, b: u32) -> (BlockRequest, Bytes) {
        let r = disk.lock().cache.geometry.block(piece, b);
        let at = (piece * PIECE + r.begin) as usize;
        (r, Bytes::copy_from_slice(&data[at..at + r.length as usize]))
    }

    async fn hash(disk: &Arc<Disk>, piece: u32) -> bool {
        assert!(disk.try_begin_hash(piece));
        disk.clone().hash(piece).await.unwrap().0
    }

    #[tokio::test]
    async fn duplicate_during_hash_is_dropped_and_bad_piece_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..2 * PIECE).map(|i| (i % 251) as u8).collect();
        let disk = disk_for(dir.path(), &data, CACHE_BYTES);
        // Piece 0 arrives with a corrupt block: it fails, nothing reaches the disk.
        let (r, good) = block(&disk, &data, 0, 0);
        let bad = Bytes::from(vec![0xAA; r.length as usize]);
        assert_eq!(disk.clone().write(r, bad).await.unwrap(), Stored::Written);
        let (r1, d1) = block(&disk, &data, 0, 1);
        disk.clone().write(r1, d1.clone()).await.unwrap();
        assert!(!hash(&disk, 0).await);
        assert_eq!(disk.lock().cache.used, 0, "the failed buffer is released");
        assert_eq!(disk.storage.read_block(0, 0, 4).unwrap(), [0; 4]);
        // Re-downloaded, it verifies; a late duplicate while hashing is dropped.
        disk.clone().write(r, good).await.unwrap();
        disk.clone().write(r1, d1).await.unwrap();
        assert!(disk.try_begin_hash(0));
        let dup = Bytes::from(vec![0xAA; r.length as usize]);
        assert_eq!(
            disk.clone().write(r, dup.clone()).await.unwrap(),
            Stored::Dropped
        );
        assert!(disk.clone().hash(0).await.unwrap().0);
        assert_eq!(disk.clone().write(r, dup).await.unwrap(), Stored::Dropped);
        assert_eq!(disk.storage.hash_piece(0).unwrap(), disk.hashes[0]);
    }

    #[tokio::test]
    async fn partly_buffered_piece_is_flushed_and_hashed_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..2 * PIECE).map(|i| (i % 253) as u8).collect();
        // Room for one piece: piece 1 takes it, so piece 0's first block goes to disk.
        let disk = disk_for(dir.path(), &data, PIECE as usize);
        let (r, d) = block(&disk, &data, 1, 0);
        disk.clone().write(r, d).await.unwrap();
        let (r, d) = block(&disk, &data, 0, 0);
        disk.clone().write(r, d).await.unwrap();
        assert!(!disk.lock().cache.pieces.contains_key(&0));
        assert!(!hash(&disk, 1).await, "incomplete piece 1 fails");
        let (r, d) = block(&disk, &data, 0, 1);
        disk.clone().write(r, d).await.unwrap();
        assert!(disk.lock().cache.pieces.contains_key(&0));
        assert!(hash(&disk, 0).await);
        assert_eq!(disk.storage.hash_piece(0).unwrap(), disk.hashes[0]);
    }

    /// A kill leaves blocks written straight to disk (cache full) without a verdict: the
    /// restart's recheck counts a piece only if all its bytes are there and right.
    #[tokio::test]
    async fn recheck_after_a_kill_counts_only_whole_good_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..3 * PIECE).map(|i| (i % 241) as u8).collect();
        let disk = disk_for(dir.path(), &data, 0);
        for b in 0..2 {
            let (r, d) = block(&disk, &data, 1, b);
            disk.clone().write(r, d).await.unwrap();
        }
        let (r, d) = block(&disk, &data, 0, 0);
        disk.clone().write(r, d).await.unwrap();
        let (r, _) = block(&disk, &data, 2, 0);
        disk.clone()
            .write(r, Bytes::from(vec![7; r.length as usize]))
            .await
            .unwrap();
        let (r, d) = block(&disk, &data, 2, 1);
        disk.clone().write(r, d).await.unwrap();
        drop(disk); // killed: nothing hashed, nothing reported
        let restarted = disk_for(dir.path(), &data, 0);
        let have = Disk::recheck(restarted.storage.clone(), &info_of(&data), |_| {})
            .await
            .unwrap();
        assert_eq!(have.iter_set().collect::<Vec<_>>(), [1]);
    }

    proptest! {
        /// However blocks arrive and pieces are taken, buffered bytes never exceed the bound,
        /// and the accounting returns to zero once every buffer is released.
        #[test]
        fn cache_respects_its_bound(
            cap_pieces in 0usize..4,
            ops in proptest::collection::vec((0u32..8, 0u32..2, any::<bool>()), 0..200),
        ) {
            let g = Geometry::new(8 * u64::from(PIECE) - 100, PIECE);
            let cap = cap_pieces * PIECE as usize;
            let mut c = Cache::new(g, cap);
            let mut taken = Vec::new();
            for (piece, b, take) in ops {
                if take {
                    taken.extend(c.take(piece));
                } else {
                    let r = g.block(piece, b);
                    let had = c.pieces.contains_key(&piece);
                    let stored = c.put(r, &vec![1; r.length as usize]);
                    prop_assert!(stored || !had);
                }
                prop_assert!(c.used + c.spare_bytes <= cap);
                let held: usize = c.pieces.values().map(|b| b.data.len()).sum();
                let out: usize = taken.iter().map(|b| b.data.len()).sum();
                prop_assert_eq!(c.used, held + out);
                let spare: usize = c.spare.iter().map(|v| v.capacity()).sum();
                prop_assert_eq!(c.spare_bytes, spare);
                // Hashing ends in any order: release one now and then.
                if piece % 3 == 0 {
                    if let Some(b) = taken.pop() {
                        c.release(b);
                    }
                }
            }
            for piece in 0..8 {
                taken.extend(c.take(piece));
            }
            for b in taken {
                c.release(b);
            }
            prop_assert_eq!(c.used, 0);
            prop_assert!(c.spare_bytes <= cap);
        }
    }
}
