//! Which pieces a peer has, in BEP 3 `bitfield` byte order (high bit first).

/// A fixed-length bit set with a cached population count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    count: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BitfieldError {
    #[error("bitfield has {got} bytes, expected {want} for {pieces} pieces")]
    WrongLength {
        got: usize,
        want: usize,
        pieces: u32,
    },
    #[error("bitfield sets spare bits past piece {pieces}")]
    SpareBitsSet { pieces: u32 },
}

impl Bitfield {
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; (len as usize).div_ceil(8)],
            len,
            count: 0,
        }
    }

    pub fn full(len: u32) -> Self {
        let mut bytes = vec![0xff; (len as usize).div_ceil(8)];
        let spare = (bytes.len() * 8) as u32 - len;
        if let Some(last) = bytes.last_mut() {
            *last &= 0xffu8 << spare;
        }
        Bitfield {
            bytes,
            len,
            count: len,
        }
    }

    /// Parses a received bitfield; rejects wrong lengths and set spare bits (BEP 3).
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let want = (len as usize).div_ceil(8);
        if bytes.len() != want {
            return Err(BitfieldError::WrongLength {
                got: bytes.len(),
                want,
                pieces: len,
            });
        }
        let spare = (want * 8) as u32 - len;
        if spare > 0 && bytes[want - 1] & ((1u8 << spare) - 1) != 0 {
            return Err(BitfieldError::SpareBitsSet { pieces: len });
        }
        let count = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            count,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn len(&self) -> u32 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn count(&self) -> u32 {
        self.count
    }
    pub fn is_full(&self) -> bool {
        self.count == self.len
    }

    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Sets bit `i`; returns whether it was newly set. Out-of-range indices are ignored.
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] |= 0x80 >> (i % 8);
        self.count += 1;
        true
    }

    /// Clears bit `i`; returns whether it was set.
    pub fn unset(&mut self, i: u32) -> bool {
        if !self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] &= !(0x80 >> (i % 8));
        self.count -= 1;
        true
    }

    pub fn iter_set(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter_set_without([])
    }

    /// Indices set here and in none of `without` (fields of the same length), in increasing
    /// order. Works a byte at a time: this is the piece picker's scan over every piece.
    pub fn iter_set_without<'a, const N: usize>(
        &'a self,
        without: [&'a Bitfield; N],
    ) -> impl Iterator<Item = u32> + 'a {
        self.bytes.iter().enumerate().flat_map(move |(i, &b)| {
            let mut m = without
                .iter()
                .fold(b, |m, o| m & !o.bytes.get(i).copied().unwrap_or(0));
            std::iter::from_fn(move || {
                if m == 0 {
                    return None;
                }
                let bit = m.leading_zeros();
                m &= !(0x80 >> bit);
                Some(i as u32 * 8 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spare_bits_rejected() {
        assert_eq!(
            Bitfield::from_bytes(&[0xff], 7),
            Err(BitfieldError::SpareBitsSet { pieces: 7 })
        );
        assert!(Bitfield::from_bytes(&[0xfe], 7).unwrap().is_full());
        assert!(matches!(
            Bitfield::from_bytes(&[0, 0], 7),
            Err(BitfieldError::WrongLength { .. })
        ));
    }

    proptest! {
        #[test]
        fn from_bytes_is_total_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..40), len in 0u32..320) {
            if let Ok(b) = Bitfield::from_bytes(&bytes, len) {
                prop_assert_eq!(b.as_bytes(), &bytes[..]);
                prop_assert_eq!(b.count(), b.iter_set().count() as u32);
            }
        }

        #[test]
        fn full_matches_setting_every_bit(len in 0u32..100) {
            let mut b = Bitfield::new(len);
            for i in 0..len { b.set(i); }
            prop_assert_eq!(Bitfield::full(len), b);
        }

        #[test]
        fn iter_set_without_is_set_difference(
            a in proptest::collection::vec(0u32..70, 0..80),
            b in proptest::collection::vec(0u32..70, 0..80),
            c in proptest::collection::vec(0u32..70, 0..80),
        ) {
            let field = |idx: &[u32]| {
                let mut f = Bitfield::new(70);
                for &i in idx { f.set(i); }
                f
            };
            let (fa, fb, fc) = (field(&a), field(&b), field(&c));
            let want: Vec<u32> = (0..70).filter(|&i| fa.get(i) && !fb.get(i) && !fc.get(i)).collect();
            prop_assert_eq!(fa.iter_set_without([&fb, &fc]).collect::<Vec<_>>(), want);
        }

        #[test]
        fn set_counts(idx in proptest::collection::vec(0u32..100, 0..200)) {
            let mut b = Bitfield::new(100);
            for &i in &idx { b.set(i); }
            let uniq: std::collections::BTreeSet<_> = idx.iter().copied().collect();
            prop_assert_eq!(b.count() as usize, uniq.len());
            prop_assert_eq!(b.iter_set().collect::<Vec<_>>(), uniq.into_iter().collect::<Vec<_>>());
        }
    }
}
