//! Piece picker: which blocks to request next from a given peer.
//!
//! Policy (BitTorrent's classic one, as in the thesis §2.2–2.6):
//! - **strict priority**: blocks of already-started pieces come before new pieces;
//! - **random first**: until `random_first` pieces are complete, new pieces are picked at random;
//! - **rarest first**: afterwards, the new piece with the fewest copies among connected peers,
//!   ties broken by the driver's seeded RNG;
//! - **end game**: once every missing block is requested, a block may also be requested from a
//!   second peer; the first arrival wins and the others are cancelled.

use std::collections::BTreeMap;

use rand::Rng;

use crate::protocol::bitfield::Bitfield;
use crate::protocol::block::{BlockRequest, Geometry};

/// How a piece picker behaves; defaults follow the thesis and mainline BitTorrent.
#[derive(Clone, Debug, PartialEq)]
pub struct PickerConfig {
    /// Complete pieces below which new pieces are chosen at random.
    pub random_first: u32,
    /// Whether to enter end-game mode (duplicate requests for the last blocks).
    pub end_game: bool,
}

impl Default for PickerConfig {
    fn default() -> Self {
        PickerConfig {
            random_first: 4,
            end_game: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockState {
    Free,
    /// Requested from this many peers (more than one only in end game).
    Requested(u8),
    Received,
}

/// Blocks of a started, not yet verified piece.
#[derive(Clone, Debug)]
struct Partial {
    blocks: Vec<BlockState>,
    received: u32,
}

/// What happened to a received block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// New data; `piece_done` when it completes the piece (now awaiting verification);
    /// `also_requested` when end game had asked other peers for it too (cancel those).
    New {
        piece_done: bool,
        also_requested: bool,
    },
    /// Already had it (end-game race or unsolicited): data is discarded.
    Duplicate,
}

/// Piece availability and per-block request state for one torrent.
#[derive(Clone, Debug)]
pub struct Picker {
    geo: Geometry,
    cfg: PickerConfig,
    availability: Vec<u32>,
    /// Pieces we have verified.
    have: Bitfield,
    /// Pieces fully received and awaiting hash verification.
    pending_verify: Bitfield,
    partial: BTreeMap<u32, Partial>,
    /// Pieces with an entry in `partial`, for a cheap membership test in the hot scan.
    started: Bitfield,
    /// Scratch list of equally rare candidates.
    ties: Vec<u32>,
    /// Blocks not yet requested from anyone in pieces we lack; zero ⇒ end game may start.
    unrequested: u64,
}

impl Picker {
    pub fn new(geo: Geometry, cfg: PickerConfig, have: Bitfield) -> Self {
        let unrequested = (0..geo.num_pieces())
            .filter(|&p| !have.get(p))
            .map(|p| geo.blocks_in_piece(p) as u64)
            .sum();
        Picker {
            availability: vec![0; geo.num_pieces() as usize],
            pending_verify: Bitfield::new(geo.num_pieces()),
            started: Bitfield::new(geo.num_pieces()),
            ties: Vec::new(),
            geo,
            cfg,
            have,
            partial: BTreeMap::new(),
            unrequested,
        }
    }

    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    pub fn is_complete(&self) -> bool {
        self.have.is_full()
    }

    pub fn availability(&self, piece: u32) -> u32 {
        self.availability.get(piece as usize).copied().unwrap_or(0)
    }

    /// A peer's bitfield arrived (or the peer left, with `delta = -1`).
    pub fn add_peer_bitfield(&mut self, bf: &Bitfield, delta: i32) {
        for p in bf.iter_set() {
            self.add_have(p, delta);
        }
    }

    pub fn add_have(&mut self, piece: u32, delta: i32) {
        if let Some(a) = self.availability.get_mut(piece as usize) {
            *a = a.saturating_add_signed(delta);
        }
    }

    /// Whether `peer` has any piece we still lack.
    pub fn is_interesting(&self, peer: &Bitfield) -> bool {
        if peer.is_full() {
            return !self.have.is_full();
        }
        peer.iter_set().any(|p| !self.have.get(p))
    }

    /// Picks up to `n` blocks to request from a peer that has `peer_has`, skipping blocks in
    /// `already` (this peer's outstanding requests). Marks them requested.
    pub fn pick(
        &mut self,
        peer_has: &Bitfield,
        n: usize,
        already: &[BlockRequest],
        rng: &mut impl Rng,
    ) -> Vec<BlockRequest> {
        let mut out = Vec::new();
        // Strict priority: finish started pieces first (lowest index first for determinism).
        self.take_free_from_partials(peer_has, n, &mut out);
        while out.len() < n {
            let Some(piece) = self.pick_new_piece(peer_has, rng) else {
                break;
            };
            let blocks = self.geo.blocks_in_piece(piece);
            self.started.set(piece);
            self.partial.insert(
                piece,
                Partial {
                    blocks: vec![BlockState::Free; blocks as usize],
                    received: 0,
                },
            );
            self.take_free_from_partials_one(piece, n, &mut out);
        }
        if out.len() < n && self.cfg.end_game && self.unrequested == 0 {
            self.pick_end_game(peer_has, n, already, &mut out);
        }
        out
    }

    fn take_free_from_partials(
        &mut self,
        peer_has: &Bitfield,
        n: usize,
        out: &mut Vec<BlockRequest>,
    ) {
        let Picker {
            partial,
            geo,
            unrequested,
            ..
        } = self;
        for (&piece, part) in partial.iter_mut() {
            if out.len() >= n {
                break;
            }
            if peer_has.get(piece) {
                take_free(geo, piece, part, unrequested, n, out);
            }
        }
    }

    fn take_free_from_partials_one(&mut self, piece: u32, n: usize, out: &mut Vec<BlockRequest>) {
        if let Some(part) = self.partial.get_mut(&piece) {
            take_free(&self.geo, piece, part, &mut self.unrequested, n, out);
        }
    }

    /// A piece nobody has started, that the peer has and we lack: random while we have fewer
    /// than `random_first` pieces, else rarest; ties broken uniformly with one RNG draw.
    fn pick_new_piece(&mut self, peer_has: &Bitfield, rng: &mut impl Rng) -> Option<u32> {
        let random = self.have.count() < self.cfg.random_first;
        let mut best_avail = u32::MAX;
        let ties = &mut self.ties;
        ties.clear();
        for p in peer_has.iter_set_without([&self.have, &self.pending_verify, &self.started]) {
            let a = if random {
                0
            } else {
                self.availability[p as usize]
            };
            if a < best_avail {
                best_avail = a;
                ties.clear();
            }
            if a == best_avail {
                ties.push(p);
            }
        }
        if ties.is_empty() {
            return None;
        }
        Some(ties[rng.gen_range(0..ties.len() as u32) as usize])
    }

    fn pick_end_game(
        &mut self,
        peer_has: &Bitfield,
        n: usize,
        already: &[BlockRequest],
        out: &mut Vec<BlockRequest>,
    ) {
        for (&piece, part) in self.partial.iter_mut() {
            if !peer_has.get(piece) {
                continue;
            }
            for (b, st) in part.blocks.iter_mut().enumerate() {
                if out.len() >= n {
                    return;
                }
                if let BlockState::Requested(k) = *st {
                    let r = self.geo.block(piece, b as u32);
                    if !already.contains(&r) && !out.contains(&r) {
                        *st = BlockState::Requested(k.saturating_add(1));
                        out.push(r);
                    }
                }
            }
        }
    }

    /// A request will not be answered (choke, reject, disconnect, cancel): free the block.
    pub fn release(&mut self, r: &BlockRequest) {
        let Some(part) = self.partial.get_mut(&r.index) else {
            return;
        };
        let b = (r.begin / self.geo.block_len) as usize;
        if let Some(st) = part.blocks.get_mut(b) {
            match *st {
                BlockState::Requested(1) => {
                    *st = BlockState::Free;
                    self.unrequested += 1;
                }
                BlockState::Requested(k) => *st = BlockState::Requested(k - 1),
                _ => {}
            }
        }
    }

    /// Records a received block. The caller has checked `geo.is_valid_block(r)`.
    pub fn on_block(&mut self, r: &BlockRequest) -> Received {
        if self.have.get(r.index) || self.pending_verify.get(r.index) {
            return Received::Duplicate;
        }
        let b = (r.begin / self.geo.block_len) as usize;
        self.started.set(r.index);
        let part = self.partial.entry(r.index).or_insert_with(|| Partial {
            blocks: vec![BlockState::Free; self.geo.blocks_in_piece(r.index) as usize],
            received: 0,
        });
        let also_requested = match part.blocks[b] {
            BlockState::Received => return Received::Duplicate,
            BlockState::Free => {
                self.unrequested -= 1;
                false
            }
            BlockState::Requested(k) => k > 1,
        };
        part.blocks[b] = BlockState::Received;
        part.received += 1;
        let piece_done = part.received as usize == part.blocks.len();
        if piece_done {
            self.partial.remove(&r.index);
            self.started.unset(r.index);
            self.pending_verify.set(r.index);
        }
        Received::New {
            piece_done,
            also_requested,
        }
    }

    /// Whether `piece` is fully received and awaiting [`Picker::on_verified`].
    pub fn is_pending_verify(&self, piece: u32) -> bool {
        self.pending_verify.get(piece)
    }

    /// Result of hashing a fully received piece. A failed piece is re-downloaded from scratch.
    pub fn on_verified(&mut self, piece: u32, ok: bool) {
        if !self.pending_verify.unset(piece) {
            return;
        }
        if ok {
            self.have.set(piece);
        } else {
            self.unrequested += self.geo.blocks_in_piece(piece) as u64;
        }
    }

    /// Test check: every block's state agrees with `requesters(block)`, the number of peers
    /// it is outstanding at, and `unrequested` counts exactly the free blocks.
    #[cfg(test)]
    pub(crate) fn check_block_states(
        &self,
        requesters: impl Fn(&BlockRequest) -> usize,
    ) -> Result<(), String> {
        let mut free = 0;
        for piece in 0..self.geo.num_pieces() {
            let done = self.have.get(piece) || self.pending_verify.get(piece);
            let part = self.partial.get(&piece);
            if self.started.get(piece) != part.is_some() || (done && part.is_some()) {
                return Err(format!("piece {piece}: started/partial/done disagree"));
            }
            for b in 0..self.geo.blocks_in_piece(piece) {
                let r = self.geo.block(piece, b);
                let n = requesters(&r);
                let state = match part {
                    _ if done => BlockState::Received,
                    Some(p) => p.blocks[b as usize],
                    None => BlockState::Free,
                };
                free += u64::from(state == BlockState::Free);
                let want = match state {
                    BlockState::Requested(k) => usize::from(k),
                    _ => 0,
                };
                if n != want {
                    return Err(format!("{r:?} is {state:?} but outstanding at {n} peers"));
                }
            }
        }
        if free != self.unrequested {
            return Err(format!("{free} free blocks, counted {}", self.unrequested));
        }
        Ok(())
    }

    /// Requests still counted for `r` by other peers (end-game duplicates to cancel).
    pub fn is_received(&self, r: &BlockRequest) -> bool {
        if self.have.get(r.index) || self.pending_verify.get(r.index) {
            return true;
        }
        self.partial
            .get(&r.index)
            .and_then(|p| p.blocks.get((r.begin / self.geo.block_len) as usize))
            .is_some_and(|s| *s == BlockState::Received)
    }
}

/// Requests up to `n` (in total in `out`) free blocks of one partial piece.
fn take_free(
    geo: &Geometry,
    piece: u32,
    part: &mut Partial,
    unrequested: &mut u64,
    n: usize,
    out: &mut Vec<BlockRequest>,
) {
    for (b, st) in part.blocks.iter_mut().enumerate() {
        if out.len() >= n {
            break;
        }
        if *st == BlockState::Free {
            *st = BlockState::Requested(1);
            *unrequested -= 1;
            out.push(geo.block(piece, b as u32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn geo() -> Geometry {
        Geometry::new(8 * 32 * 1024, 32 * 1024) // 8 pieces × 2 blocks
    }

    #[test]
    fn strict_priority_finishes_started_piece_first() {
        let g = geo();
        let mut p = Picker::new(g, PickerConfig::default(), Bitfield::new(8));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let full = Bitfield::full(8);
        let first = p.pick(&full, 1, &[], &mut rng);
        let second = p.pick(&full, 1, &[], &mut rng);
        assert_eq!(first[0].index, second[0].index);
        assert_eq!(second[0].begin, 16 * 1024);
    }

    #[test]
    fn rarest_first_after_random_phase() {
        let g = geo();
        let cfg = PickerConfig {
            random_first: 0,
            end_game: false,
        };
        let mut p = Picker::new(g, cfg, Bitfield::new(8));
        let full = Bitfield::full(8);
        for piece in 0..8 {
            p.add_have(piece, 3);
        }
        p.add_have(5, -2);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        assert_eq!(p.pick(&full, 1, &[], &mut rng)[0].index, 5);
    }

    #[test]
    fn end_game_duplicates_only_to_other_peers() {
        let g = Geometry::new(32 * 1024, 32 * 1024);
        let mut p = Picker::new(g, PickerConfig::default(), Bitfield::new(1));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let full = Bitfield::full(1);
        let a = p.pick(&full, 5, &[], &mut rng);
        assert_eq!(a.len(), 2);
        // Same peer again: nothing new (it already has both outstanding).
        assert!(p.pick(&full, 5, &a, &mut rng).is_empty());
        // Another peer: end game hands out duplicates.
        let b = p.pick(&full, 5, &[], &mut rng);
        assert_eq!(b, a);
        assert_eq!(
            p.on_block(&a[0]),
            Received::New {
                piece_done: false,
                also_requested: true
            }
        );
        assert_eq!(p.on_block(&b[0]), Received::Duplicate);
        assert_eq!(
            p.on_block(&a[1]),
            Received::New {
                piece_done: true,
                also_requested: true
            }
        );
        p.on_verified(0, true);
        assert!(p.is_complete());
    }

    #[test]
    fn failed_hash_redownloads_piece() {
        let g = Geometry::new(32 * 1024, 32 * 1024);
        let mut p = Picker::new(g, PickerConfig::default(), Bitfield::new(1));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let full = Bitfield::full(1);
        for r in p.pick(&full, 5, &[], &mut rng) {
            p.on_block(&r);
        }
        p.on_verified(0, false);
        assert!(!p.is_complete());
        assert_eq!(p.pick(&full, 5, &[], &mut rng).len(), 2);
    }

    #[test]
    fn released_block_is_picked_again() {
        let g = geo();
        let mut p = Picker::new(g, PickerConfig::default(), Bitfield::new(8));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let full = Bitfield::full(8);
        let a = p.pick(&full, 1, &[], &mut rng);
        p.release(&a[0]);
        assert_eq!(p.pick(&full, 1, &[], &mut rng), a);
    }
}
