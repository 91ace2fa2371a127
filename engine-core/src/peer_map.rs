//! The torrent's peers, keyed by [`PeerKey`] and iterated in key order.
//!
//! Every message a torrent handles looks its peer up several times, while peers join and leave
//! rarely. A `BTreeMap` spends those lookups chasing node pointers; here the keys sit in one
//! sorted array (a 50-peer torrent's keys fill seven cache lines) and the values in a parallel
//! one, so a lookup is a short binary search. Iteration order is the key order a `BTreeMap`
//! gives, which the choker's and the simulator's determinism rely on. Small enough to own
//! rather than pull in a sorted-vector crate; a property test checks it against `BTreeMap`.

use std::cell::Cell;

use crate::PeerKey;

#[derive(Clone, Debug)]
pub struct PeerMap<V> {
    keys: Vec<PeerKey>,
    values: Vec<V>,
    /// Index of the last key found: one message's handling looks the same peer up several
    /// times, so this skips most binary searches. Checked against `keys`, so a stale index
    /// (after an insert or remove) only costs the search.
    last: Cell<usize>,
}

impl<V> Default for PeerMap<V> {
    fn default() -> Self {
        PeerMap {
            keys: Vec::new(),
            values: Vec::new(),
            last: Cell::new(0),
        }
    }
}

impl<V> PeerMap<V> {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn index(&self, key: PeerKey) -> Result<usize, usize> {
        let last = self.last.get();
        if self.keys.get(last) == Some(&key) {
            return Ok(last);
        }
        let found = self.keys.binary_search(&key);
        if let Ok(i) = found {
            self.last.set(i);
        }
        found
    }

    pub fn contains_key(&self, key: &PeerKey) -> bool {
        self.index(*key).is_ok()
    }

    pub fn get(&self, key: &PeerKey) -> Option<&V> {
        self.index(*key).ok().map(|i| &self.values[i])
    }

    pub fn get_mut(&mut self, key: &PeerKey) -> Option<&mut V> {
        self.index(*key).ok().map(|i| &mut self.values[i])
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: PeerKey, value: V) -> Option<V> {
        match self.index(key) {
            Ok(i) => Some(std::mem::replace(&mut self.values[i], value)),
            Err(i) => {
                self.keys.insert(i, key);
                self.values.insert(i, value);
                None
            }
        }
    }

    pub fn remove(&mut self, key: &PeerKey) -> Option<V> {
        let i = self.index(*key).ok()?;
        self.keys.remove(i);
        Some(self.values.remove(i))
    }

    pub fn keys(&self) -> impl Iterator<Item = &PeerKey> {
        self.keys.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.values.iter()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PeerKey, &V)> {
        self.keys.iter().zip(self.values.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&PeerKey, &mut V)> {
        self.keys.iter().zip(self.values.iter_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, u32),
        Remove(u64),
        Get(u64),
        Bump(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let k = 0u64..40;
        prop_oneof![
            (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            k.clone().prop_map(Op::Remove),
            k.clone().prop_map(Op::Get),
            k.prop_map(Op::Bump),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec(op(), 0..300)) {
            let mut ours = PeerMap::default();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(ours.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(ours.remove(&k), model.remove(&k)),
                    Op::Get(k) => {
                        prop_assert_eq!(ours.get(&k), model.get(&k));
                        prop_assert_eq!(ours.contains_key(&k), model.contains_key(&k));
                    }
                    Op::Bump(k) => {
                        if let (Some(a), Some(b)) = (ours.get_mut(&k), model.get_mut(&k)) {
                            *a = a.wrapping_add(1);
                            *b = b.wrapping_add(1);
                        }
                    }
                }
                prop_assert_eq!(ours.len(), model.len());
                let a: Vec<_> = ours.iter().map(|(k, v)| (*k, *v)).collect();
                let b: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(a, b);
            }
        }
    }
}
