//! Choking, upload caps, interest and request pipelining: what the handlers call after
//! changing state.

use super::{DisconnectReason, Output, Peer, Torrent};
use crate::policy::{Context, PeerView, UploadDemand};
use crate::protocol::bitfield::Bitfield;
use crate::protocol::wire::Message;
use crate::time::Instant;
use crate::PeerKey;

impl Torrent {
    /// What the policy knows of its own node right now.
    pub(super) fn policy_context(&self, now: Instant) -> Context {
        Context {
            now,
            am_seed: self.picker.is_complete(),
            upload_capacity: self.cfg.upload_limit,
            round: self.cfg.choker.rechoke_interval,
            piece_length: self.cfg.geometry.piece_len,
        }
    }

    /// Every connected peer as the policy sees it, in peer order.
    pub(super) fn peer_views(&self) -> Vec<PeerView> {
        let window = self.cfg.choker.rechoke_interval;
        self.peers
            .iter()
            .map(|(&key, p)| PeerView {
                key,
                interested: p.peer_interested,
                am_interested: p.am_interested,
                choking_us: p.peer_choking,
                unchoked: !p.am_choking,
                snubbed: p.snubbed,
                connected_at: p.connected_at,
                down_rate: p.down.rate(window),
                up_rate: p.up.rate(window),
                round_down: p.down.current,
                round_up: p.up.current,
                total_down: p.total_down,
                total_up: p.total_up,
                round_haves: p.round_haves,
                pieces: p.has.count(),
                seniority: p.seniority,
            })
            .collect()
    }

    pub(super) fn rechoke(&mut self, now: Instant) {
        let snub = self.cfg.choker.snub_timeout;
        let mut stuck = Vec::new();
        for (&k, p) in self.peers.iter_mut() {
            if !p.peer_choking && p.am_interested && now.saturating_since(p.last_block_at) > snub {
                p.snubbed = true;
                if !p.requests_out.is_empty() {
                    stuck.push((k, std::mem::take(&mut p.requests_out)));
                }
            }
        }
        // A snubbing peer's requests time out: others may serve those blocks.
        if !stuck.is_empty() {
            for (k, requests) in &stuck {
                self.withdraw(*k, requests);
            }
            let others: Vec<PeerKey> = self
                .peers
                .keys()
                .filter(|k| !stuck.iter().any(|(s, _)| s == *k))
                .copied()
                .collect();
            for k in others {
                self.request_more(k);
            }
        }
        let views = self.peer_views();
        for p in self.peers.iter_mut().map(|(_, p)| p) {
            p.down.roll();
            p.up.roll();
            p.round_haves = 0;
        }
        let ctx = self.policy_context(now);
        let unchoke = self.policy.rechoke(&ctx, &views, &mut self.rng);
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.peer(k).optimistic = unchoke.optimistic.contains(&k);
            self.set_choke(k, !unchoke.contains(&k));
        }
        self.update_caps();
        self.advertise(&ctx);
    }

    /// Announces the pieces the policy claims falsely ([`crate::policy::Policy::advertise`])
    /// to every peer that lacks them; only pieces neither held nor already claimed count.
    fn advertise(&mut self, ctx: &Context) {
        let have = self.picker.have();
        let claims = self
            .policy
            .advertise(ctx, have, &self.claimed, &mut self.rng);
        for piece in claims {
            let have = self.picker.have();
            if piece >= have.len() || have.get(piece) || !self.claimed.set(piece) {
                continue;
            }
            let keys: Vec<PeerKey> = self
                .peers
                .iter()
                .filter(|(_, p)| !p.has.get(piece))
                .map(|(k, _)| *k)
                .collect();
            for k in keys {
                self.send(k, Message::Have { index: piece });
            }
        }
    }

    /// The pieces peers are told we have: held ones and false claims.
    pub(super) fn shown_pieces(&self) -> Bitfield {
        let mut shown = self.picker.have().clone();
        for piece in self.claimed.iter_set() {
            shown.set(piece);
        }
        shown
    }

    /// Every peer waiting for upload (unchoked, requests queued), in peer order.
    pub(super) fn upload_demand(&self) -> Vec<UploadDemand> {
        self.peers
            .iter()
            .filter(|(_, p)| !p.am_choking && !p.requests_in.is_empty())
            .map(|(&key, p)| UploadDemand {
                key,
                total_up: p.total_up,
                total_down: p.total_down,
            })
            .collect()
    }

    /// Wakes the parked peers the policy now admits; drops those no longer waiting (choked,
    /// gone, or their requests cancelled: a new request wakes them as for any peer).
    pub(super) fn wake_parked(&mut self) {
        if self.parked.is_empty() {
            return;
        }
        let waiting = self.upload_demand();
        let parked = std::mem::take(&mut self.parked);
        for key in parked {
            if !waiting.iter().any(|d| d.key == key) {
                continue;
            }
            if self.policy.admit_upload(key, &waiting) {
                self.out.push_back(Output::UploadReady { peer: key });
            } else {
                self.parked.insert(key);
            }
        }
    }

    pub(super) fn set_choke(&mut self, key: PeerKey, choke: bool) {
        let p = self.peer(key);
        if p.am_choking == choke {
            return;
        }
        p.am_choking = choke;
        if choke {
            let dropped = std::mem::take(&mut p.requests_in);
            let fast = p.fast;
            self.send(key, Message::Choke);
            if fast {
                for r in dropped {
                    self.send(key, Message::RejectRequest(r));
                }
            }
        } else {
            self.send(key, Message::Unchoke);
        }
    }

    /// Asks the policy for per-peer upload caps and emits the changed ones.
    pub(super) fn update_caps(&mut self) {
        if !self.policy.sets_caps() || self.peers.is_empty() {
            return;
        }
        let ctx = self.policy_context(self.now);
        let views = self.peer_views();
        for (key, cap) in self.policy.caps(&ctx, &views) {
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            if p.cap != cap {
                p.cap = cap;
                self.out.push_back(Output::SetUploadCap { peer: key, cap });
            }
        }
    }

    pub(super) fn set_peer_has(&mut self, key: PeerKey, bf: Bitfield) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let have = self.picker.have();
        p.wanted = bf.iter_set_without([have]).count() as u32;
        let old = std::mem::replace(&mut p.has, bf);
        self.picker.add_peer_bitfield(&old, -1);
        self.picker.add_peer_bitfield(&p.has, 1);
        self.update_interest(key);
    }

    /// Sends Interested / NotInterested when that changes, and requests blocks if allowed.
    pub(super) fn update_interest(&mut self, key: PeerKey) {
        let p = self.peer(key);
        let want = p.wanted > 0;
        if want != p.am_interested {
            p.am_interested = want;
            let msg = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.send(key, msg);
        }
        if want {
            self.request_more(key);
        }
    }

    /// Tops up the request pipeline to `pipeline_depth` if the peer lets us download.
    pub(super) fn request_more(&mut self, key: PeerKey) {
        let depth = self.cfg.pipeline_depth;
        let Some(p) = self.peers.get(&key) else {
            return;
        };
        if p.peer_choking || !p.am_interested || p.requests_out.len() >= depth {
            return;
        }
        let n = depth - p.requests_out.len();
        let picked = self.picker.pick(&p.has, n, &p.requests_out, &mut self.rng);
        for r in picked {
            self.peer(key).requests_out.push(r);
            self.send(key, Message::Request(r));
        }
    }

    pub(super) fn protocol_error(&mut self, key: PeerKey, what: String) {
        self.out.push_back(Output::Disconnect {
            peer: key,
            reason: DisconnectReason::Protocol(what),
        });
    }

    pub(super) fn send(&mut self, peer: PeerKey, msg: Message) {
        self.out.push_back(Output::Send { peer, msg });
    }

    /// Callers check membership first; every handler returns early for unknown peers.
    pub(super) fn peer(&mut self, key: PeerKey) -> &mut Peer {
        self.peers.get_mut(&key).expect("peer checked by caller")
    }
}
