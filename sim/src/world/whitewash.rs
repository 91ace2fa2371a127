//! The `whitewash` policy's identity change, a driver action: every `every` a node that is
//! still downloading closes all its connections, announces `stopped`, and rejoins at once as
//! a new peer — a fresh torrent (engine-core's rule,
//! [`engine_core::torrent::Torrent::next_identity`], which `bt` applies too: its verified
//! pieces kept; blocks of unfinished pieces, its own per-peer history and its seniority
//! counter lost), a fresh peer set and a `started` announce. Its peers remember it only per connection, and engine-core drops that on
//! disconnect ([`engine_core::policy::Policy::forget`]); the simulator's peer sets forget a
//! closed address too (`Retry::Never`), and its new connections get new flows, so new peer
//! keys: it is new to everyone it meets again. The node index stays its tracker key and
//! address, as a real whitewasher's IP may. Messages,
//! blocks and dials of the old identity still in flight are dropped (connection epochs, and
//! [`engine_core::policy::peer_set::PeerSet::is_dialing`] for dials).

use engine_core::policy::peer_set::PeerSet;
use scenario::draws::stream_seed;

use super::{peer_set_config, Event, World};

/// Seeded streams of the later identities' torrents: `BASE + (identity << 24) + node`, clear
/// of `scenario::draws`'s bases (`1 << 40` to `1 << 42`).
const IDENTITY_STREAM_BASE: u64 = 1 << 43;

impl World {
    /// After a join: the first identity change, if the node's policy whitewashes.
    pub(super) fn schedule_whitewash(&mut self, n: u32) {
        if let Some(every) = self.nodes[n as usize].spec.policy.whitewash_every() {
            self.push(self.now + every, Event::Whitewash(n));
        }
    }

    /// Node `n` drops its identity and rejoins as a new peer (nothing once it left or has
    /// every piece).
    pub(super) fn whitewash(&mut self, n: u32) {
        let Some(t) = self.nodes[n as usize].torrent.as_ref() else {
            return;
        };
        let identity = self.nodes[n as usize].identity + 1;
        let stream = IDENTITY_STREAM_BASE + (u64::from(identity) << 24) + u64::from(n);
        let Some(next) = t.next_identity(stream_seed(self.sc.seed, stream), self.now) else {
            return;
        };
        for a in self.nodes[n as usize].peer_set.stop() {
            let _ = self.tell_tracker(n, a, 1);
        }
        let peers: Vec<u32> = self.nodes[n as usize]
            .peer_set
            .connected_peers()
            .copied()
            .collect();
        for p in peers {
            self.disconnect(n, p);
        }
        // The next connection of each pair gets new flows, hence new engine-core peer keys
        // (a key carries its flow): nothing a peer keyed by the old identity can follow it.
        for (p, _) in std::mem::take(&mut self.nodes[n as usize].flows_out) {
            let out = &mut self.nodes[p as usize].flows_out;
            if let Ok(i) = out.binary_search_by_key(&n, |&(peer, _)| peer) {
                out.remove(i);
            }
        }
        self.stats.whitewashes += 1;
        let node = &mut self.nodes[n as usize];
        if let Some(t) = node.torrent.take() {
            node.duplicate_bytes += t.stats().duplicate_bytes;
        }
        // What it received and does not keep: blocks of pieces it had not verified.
        let kept: u64 = next
            .have()
            .iter_set()
            .map(|p| u64::from(self.geo.piece_size(p)))
            .sum();
        let discarded = node.downloaded - node.duplicate_bytes - kept;
        self.stats.whitewash_discarded_bytes += discarded - node.discarded;
        node.discarded = discarded;
        node.identity = identity;
        node.peer_set = PeerSet::new(node.spec.policy.peer_set(peer_set_config(&self.sc)));
        // A timer of the old torrent is stale.
        node.timer_at = None;
        node.timer_version += 1;
        self.start(n, next);
        self.schedule_whitewash(n);
    }
}
