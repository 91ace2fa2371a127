//! Torrent geometry: how a byte range splits into pieces and 16 KiB blocks.

/// One block request `(piece, offset, length)`, as carried by BEP 3 `request`,
/// `cancel` and BEP 6 `reject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRequest {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

/// The standard block size every client requests (BEP 3 practice; larger requests get rejected).
pub const BLOCK_LEN: u32 = 16 * 1024;

/// Sizes of a torrent's pieces and blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub total_len: u64,
    pub piece_len: u32,
    pub block_len: u32,
}

impl Geometry {
    /// `piece_len` must be a positive multiple of `block_len`; callers validate input first.
    pub fn new(total_len: u64, piece_len: u32) -> Self {
        assert!(piece_len > 0 && total_len > 0, "geometry must be non-empty");
        Geometry {
            total_len,
            piece_len,
            block_len: BLOCK_LEN.min(piece_len),
        }
    }

    pub fn num_pieces(&self) -> u32 {
        self.total_len.div_ceil(self.piece_len as u64) as u32
    }

    pub fn piece_size(&self, index: u32) -> u32 {
        let start = index as u64 * self.piece_len as u64;
        (self.total_len - start).min(self.piece_len as u64) as u32
    }

    pub fn blocks_in_piece(&self, index: u32) -> u32 {
        self.piece_size(index).div_ceil(self.block_len)
    }

    /// The request for block `block` (0-based) of piece `index`.
    pub fn block(&self, index: u32, block: u32) -> BlockRequest {
        let begin = block * self.block_len;
        let length = (self.piece_size(index) - begin).min(self.block_len);
        BlockRequest {
            index,
            begin,
            length,
        }
    }

    /// Whether `r` names exactly one of this torrent's blocks.
    pub fn is_valid_block(&self, r: &BlockRequest) -> bool {
        r.index < self.num_pieces()
            && r.begin % self.block_len == 0
            && r.begin < self.piece_size(r.index)
            && *r == self.block(r.index, r.begin / self.block_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_piece_and_block_are_short() {
        let g = Geometry::new(3 * 32768 + 100, 32768);
        assert_eq!(g.num_pieces(), 4);
        assert_eq!(g.piece_size(3), 100);
        assert_eq!(g.blocks_in_piece(0), 2);
        assert_eq!(g.blocks_in_piece(3), 1);
        assert_eq!(g.block(3, 0).length, 100);
        assert!(g.is_valid_block(&g.block(3, 0)));
        assert!(!g.is_valid_block(&BlockRequest {
            index: 3,
            begin: 0,
            length: 16384
        }));
        assert!(!g.is_valid_block(&BlockRequest {
            index: 4,
            begin: 0,
            length: 100
        }));
    }
}
