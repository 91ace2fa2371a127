//! Regular-unchoke time per directed pair: the clustering index's input (how long each node
//! had each peer among the peers it unchokes as *regular*, not optimistic).
//!
//! engine-core's unchoke kinds change only at a rechoke, when a choke or unchoke is sent, or
//! when a peer or the node goes, so the world marks a node at those moments and [`settle`]s
//! it after the node's outputs are drained: the cost is a pass over its peers per rechoke
//! interval, not work per event.
//!
//! [`settle`]: RegularTime::settle

use engine_core::time::Instant;
use engine_core::torrent::Torrent;
use engine_core::PeerKey;
use scenario::NodeSpec;

#[derive(Default)]
pub struct RegularTime {
    /// Per flow: since when its sender has had its receiver as a regular unchoke, if it has.
    since: Vec<Option<Instant>>,
    /// Per flow: regular time of the intervals already closed, µs.
    closed_us: Vec<u64>,
    /// Per node: the flows it regularly unchokes now (sorted), and whether that may have
    /// changed since it was taken.
    open: Vec<Vec<u32>>,
    dirty: Vec<bool>,
}

impl RegularTime {
    pub fn new(nodes: usize) -> Self {
        RegularTime {
            open: vec![Vec::new(); nodes],
            dirty: vec![false; nodes],
            ..RegularTime::default()
        }
    }

    /// Flow ids are consecutive: call once per new flow.
    pub fn add_flow(&mut self) {
        self.since.push(None);
        self.closed_us.push(0);
    }

    /// Node `n`'s kinds may have changed.
    pub fn mark(&mut self, n: u32) {
        self.dirty[n as usize] = true;
    }

    pub fn is_dirty(&self, n: u32) -> bool {
        self.dirty[n as usize]
    }

    /// Brings node `n`'s open intervals up to date with its torrent (none if it has left):
    /// closes those of peers no longer regular, opens the new ones. `flow` maps a peer key to
    /// the flow `n → peer`.
    pub fn settle(
        &mut self,
        n: u32,
        now: Instant,
        torrent: Option<&Torrent>,
        flow: impl Fn(PeerKey) -> u32,
    ) {
        self.dirty[n as usize] = false;
        let mut after: Vec<u32> =
            torrent.map_or_else(Vec::new, |t| t.regular_unchoked().map(&flow).collect());
        after.sort_unstable();
        let before = std::mem::replace(&mut self.open[n as usize], after);
        let after = &self.open[n as usize];
        for id in before {
            if after.binary_search(&id).is_err() {
                if let Some(since) = self.since[id as usize].take() {
                    self.closed_us[id as usize] += now.saturating_since(since).0;
                }
            }
        }
        for &id in after {
            self.since[id as usize].get_or_insert(now);
        }
    }

    /// Per node, µs of regular-unchoke time in all and with peers of its own class, intervals
    /// still open counted to `end`. `ends` lists every flow's `(from, to)` in flow order.
    pub fn per_node(
        &self,
        end: Instant,
        ends: impl Iterator<Item = (u32, u32)>,
        class: &[u32],
    ) -> Vec<(u64, u64)> {
        let mut out = vec![(0, 0); class.len()];
        for (id, (from, to)) in ends.enumerate() {
            let open = self.since[id].map_or(0, |s| end.saturating_since(s).0);
            let us = self.closed_us[id] + open;
            let (total, same) = &mut out[from as usize];
            *total += us;
            if class[from as usize] == class[to as usize] {
                *same += us;
            }
        }
        out
    }
}

/// Each node's [`NodeSpec::class_key`] as a number: equal keys, equal numbers.
pub fn class_numbers<'a>(specs: impl Iterator<Item = &'a NodeSpec> + Clone) -> Vec<u32> {
    let mut keys: Vec<String> = specs.clone().map(NodeSpec::class_key).collect();
    keys.sort();
    keys.dedup();
    specs
        .map(|s| keys.binary_search(&s.class_key()).unwrap_or(0) as u32)
        .collect()
}
