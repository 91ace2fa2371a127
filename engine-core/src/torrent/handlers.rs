//! The input handlers: what each input does to the torrent, and which inputs are rejected.

use super::SENIORITY_LOCAL_ID;
use super::{DisconnectReason, Output, Peer, RateMeter, Rejected, Torrent, MAX_HASH_FAILURES};
use crate::policy::picker::Received;
use crate::protocol::bitfield::Bitfield;
use crate::protocol::block::BlockRequest;
use crate::protocol::extension::{self, ExtHandshake, SENIORITY_EXT_NAME};
use crate::protocol::metadata::{self, MetadataError, MetadataMsg};
use crate::protocol::wire::Message;
use crate::time::Instant;
use crate::PeerKey;

impl Torrent {
    pub(super) fn on_connected(
        &mut self,
        now: Instant,
        key: PeerKey,
        fast: bool,
        extensions: bool,
    ) -> Result<(), Rejected> {
        if self.peers.contains_key(&key) {
            // Replacing it would leak its requests and availability counts.
            return Err(Rejected::DuplicateConnect);
        }
        let n = self.cfg.geometry.num_pieces();
        self.peers.insert(
            key,
            Peer {
                am_choking: true,
                optimistic: false,
                am_interested: false,
                peer_choking: true,
                peer_interested: false,
                has: Bitfield::new(n),
                wanted: 0,
                fast,
                requests_out: Vec::new(),
                requests_in: std::collections::VecDeque::new(),
                connected_at: now,
                last_block_at: now,
                snubbed: false,
                down: RateMeter::default(),
                up: RateMeter::default(),
                total_down: 0,
                round_haves: 0,
                total_up: 0,
                seniority: None,
                seniority_ext_id: None,
                metadata_ext_id: None,
                metadata_served: 0,
                cap: None,
                hash_failures: 0,
            },
        );
        if extensions {
            let payload = self.ext_handshake.clone();
            self.send(key, Message::Extended { id: 0, payload });
        }
        let have = self.shown_pieces();
        let msg = if fast && have.is_full() {
            Some(Message::HaveAll)
        } else if fast && have.count() == 0 {
            Some(Message::HaveNone)
        } else if have.count() > 0 {
            Some(Message::Bitfield(have.as_bytes().to_vec().into()))
        } else {
            None
        };
        if let Some(m) = msg {
            self.send(key, m);
        }
        self.update_caps();
        Ok(())
    }

    pub(super) fn on_disconnected(&mut self, key: PeerKey) -> Result<(), Rejected> {
        let p = self.peers.remove(&key).ok_or(Rejected::UnknownPeer)?;
        self.picker.add_peer_bitfield(&p.has, -1);
        for r in &p.requests_out {
            self.picker.release(r);
        }
        self.policy.forget(key);
        for c in self.contributors.values_mut() {
            c.remove(&key);
        }
        self.update_caps();
        Ok(())
    }

    /// Messages. `Cancel`/`RejectRequest` for requests not queued or not outstanding, a
    /// repeated `Have` and unknown extension ids are applied as no-ops: all arise in a
    /// well-behaved swarm from messages crossing on the wire.
    pub(super) fn on_message(
        &mut self,
        now: Instant,
        key: PeerKey,
        msg: Message,
    ) -> Result<(), Rejected> {
        if !self.peers.contains_key(&key) {
            return Err(Rejected::UnknownPeer);
        }
        match msg {
            Message::KeepAlive
            | Message::Port(_)
            | Message::SuggestPiece { .. }
            | Message::AllowedFast { .. } => {}
            Message::Choke => {
                let p = self.peer(key);
                p.peer_choking = true;
                if !p.fast {
                    // Without BEP 6, a choke silently drops every pending request.
                    let dropped = std::mem::take(&mut p.requests_out);
                    for r in &dropped {
                        self.picker.release(r);
                    }
                }
            }
            Message::Unchoke => {
                let p = self.peer(key);
                p.peer_choking = false;
                p.last_block_at = now;
                self.request_more(key);
            }
            Message::Interested => {
                self.peer(key).peer_interested = true;
                // Fill a free upload slot at once rather than idle until the next rechoke.
                let unchoked = self.peers.values().filter(|p| !p.am_choking).count();
                if self.peer(key).am_choking && self.policy.unchoke_on_interest(unchoked) {
                    self.set_choke(key, false);
                    self.update_caps();
                }
            }
            Message::NotInterested => self.peer(key).peer_interested = false,
            Message::Have { index } => {
                if index >= self.cfg.geometry.num_pieces() {
                    self.protocol_error(key, format!("have for piece {index}"));
                    return Err(Rejected::PieceOutOfRange);
                }
                if self.peer(key).has.set(index) {
                    self.peer(key).round_haves += 1;
                    self.picker.add_have(index, 1);
                    if !self.picker.have().get(index) {
                        self.peer(key).wanted += 1;
                    }
                    self.update_interest(key);
                }
            }
            Message::Bitfield(bytes) => {
                let n = self.cfg.geometry.num_pieces();
                match Bitfield::from_bytes(&bytes, n) {
                    Ok(bf) => self.set_peer_has(key, bf),
                    Err(e) => {
                        self.protocol_error(key, e.to_string());
                        return Err(Rejected::BadBitfield);
                    }
                }
            }
            Message::HaveAll => {
                let n = self.cfg.geometry.num_pieces();
                self.set_peer_has(key, Bitfield::full(n));
            }
            Message::HaveNone => {}
            Message::Request(r) => return self.on_request(key, r),
            Message::Cancel(r) => self.peer(key).requests_in.retain(|q| *q != r),
            Message::RejectRequest(r) => {
                let p = self.peer(key);
                let before = p.requests_out.len();
                p.requests_out.retain(|q| *q != r);
                if p.requests_out.len() != before {
                    self.picker.release(&r);
                }
            }
            Message::Piece { index, begin, data } => {
                let block = BlockRequest {
                    index,
                    begin,
                    length: data.len() as u32,
                };
                return self.on_block(now, key, block);
            }
            Message::Extended { id, payload } => return self.on_extended(key, id, &payload),
        }
        Ok(())
    }

    fn on_extended(&mut self, key: PeerKey, id: u8, payload: &[u8]) -> Result<(), Rejected> {
        let bad = if id == 0 {
            match ExtHandshake::from_payload(payload) {
                Ok(hs) => {
                    let p = self.peer(key);
                    p.seniority_ext_id = hs.m.get(SENIORITY_EXT_NAME).copied().filter(|&i| i != 0);
                    p.metadata_ext_id = hs.id_of(metadata::EXT_NAME);
                    p.seniority = hs.seniority.filter(|w| w.is_finite() && *w > 0.0);
                    self.update_caps();
                    return Ok(());
                }
                Err(e) => e.to_string(),
            }
        } else if id == SENIORITY_LOCAL_ID {
            match extension::parse_seniority_payload(payload) {
                Ok(w) => {
                    self.peer(key).seniority = Some(w);
                    self.update_caps();
                    return Ok(());
                }
                Err(e) => e.to_string(),
            }
        } else {
            match metadata::parse_extended(id, payload) {
                Some(Ok(MetadataMsg::Request { piece })) => {
                    self.on_metadata_request(key, piece);
                    return Ok(());
                }
                // We never ask: we have the metadata. Unknown types and ids are for future use.
                None | Some(Ok(_)) | Some(Err(MetadataError::UnknownType(_))) => return Ok(()),
                Some(Err(e)) => e.to_string(),
            }
        };
        self.protocol_error(key, bad);
        Err(Rejected::BadExtension)
    }

    fn on_metadata_request(&mut self, key: PeerKey, piece: u32) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(id) = p.metadata_ext_id else {
            return; // it never told us where to answer
        };
        let reply = metadata::answer(self.cfg.metadata.as_deref(), piece, p.metadata_served);
        if matches!(reply, MetadataMsg::Data { .. }) {
            p.metadata_served += 1;
        }
        let payload = reply.encode().into();
        self.send(key, Message::Extended { id, payload });
    }

    pub(super) fn on_peer_seniority(&mut self, key: PeerKey, weight: f64) -> Result<(), Rejected> {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(Rejected::InvalidSeniority);
        }
        let p = self.peers.get_mut(&key).ok_or(Rejected::UnknownPeer)?;
        p.seniority = Some(weight);
        self.update_caps();
        Ok(())
    }

    /// A request while we choke it or with its queue full is applied: answered with a reject
    /// (BEP 6) and counted, as the peer may not have seen our choke yet. So is one for a piece
    /// we claimed falsely: the peer asks in good faith, and without BEP 6 gets no answer.
    fn on_request(&mut self, key: PeerKey, r: BlockRequest) -> Result<(), Rejected> {
        let geometry_ok = self.cfg.geometry.is_valid_block(&r);
        if geometry_ok && self.claimed.get(r.index) {
            self.stats.requests_rejected += 1;
            if self.peer(key).fast {
                self.send(key, Message::RejectRequest(r));
            }
            return Ok(());
        }
        let valid = geometry_ok && self.picker.have().get(r.index);
        let max = self.cfg.max_queued_requests;
        let p = self.peer(key);
        if !valid || p.am_choking || p.requests_in.len() >= max {
            if !valid && !p.am_choking {
                self.protocol_error(key, format!("invalid request {r:?}"));
                return Err(Rejected::InvalidRequest);
            }
            self.stats.requests_rejected += 1;
            if self.peer(key).fast {
                self.send(key, Message::RejectRequest(r));
            }
            return if valid {
                Ok(())
            } else {
                Err(Rejected::InvalidRequest)
            };
        }
        if p.requests_in.contains(&r) {
            return Ok(());
        }
        p.requests_in.push_back(r);
        if p.requests_in.len() == 1 {
            self.out.push_back(Output::UploadReady { peer: key });
        }
        Ok(())
    }

    /// A block is applied even if not requested from this peer (it may arrive after a choke
    /// or cancel crossed it): new data counts, data we already hold is counted as duplicate.
    /// New data another peer was asked for cancels that request, as in end game, so no
    /// request stays outstanding for a block we hold.
    pub(super) fn on_block(
        &mut self,
        now: Instant,
        key: PeerKey,
        block: BlockRequest,
    ) -> Result<(), Rejected> {
        if !self.peers.contains_key(&key) {
            return Err(Rejected::UnknownPeer);
        }
        if !self.cfg.geometry.is_valid_block(&block) {
            self.protocol_error(key, format!("invalid block {block:?}"));
            return Err(Rejected::InvalidBlock);
        }
        let p = self.peer(key);
        // Peers serve requests in order: those asked before this block and still outstanding
        // were skipped (a peer that will not serve them, e.g. for a piece it only claimed, and
        // without BEP 6 to say so). Withdrawn, so another peer can be asked.
        let (skipped, unsolicited) = match p.requests_out.iter().position(|q| *q == block) {
            Some(i) => {
                let skipped: Vec<BlockRequest> = p.requests_out.drain(..i).collect();
                p.requests_out.remove(0);
                (skipped, false)
            }
            None => (Vec::new(), true),
        };
        self.withdraw(key, &skipped);
        let p = self.peer(key);
        p.down.add(block.length as u64);
        p.total_down += block.length as u64;
        p.last_block_at = now;
        p.snubbed = false;
        self.stats.downloaded += block.length as u64;
        match self.picker.on_block(&block) {
            Received::Duplicate => self.stats.duplicate_bytes += block.length as u64,
            Received::New {
                piece_done,
                also_requested,
            } => {
                self.contributors
                    .entry(block.index)
                    .or_default()
                    .insert(key);
                if also_requested || unsolicited {
                    self.cancel_duplicates(key, &block);
                }
                if piece_done {
                    self.out.push_back(Output::Verify { piece: block.index });
                }
            }
        }
        self.request_more(key);
        Ok(())
    }

    /// Cancels requests outstanding at `key` and frees their blocks for any peer.
    pub(super) fn withdraw(&mut self, key: PeerKey, requests: &[BlockRequest]) {
        for r in requests {
            self.picker.release(r);
            self.send(key, Message::Cancel(*r));
        }
    }

    /// End game: the block arrived, so withdraw the same request from every other peer.
    fn cancel_duplicates(&mut self, from: PeerKey, block: &BlockRequest) {
        let others: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(k, p)| **k != from && p.requests_out.contains(block))
            .map(|(k, _)| *k)
            .collect();
        for k in others {
            self.peer(k).requests_out.retain(|q| q != block);
            self.picker.release(block);
            self.send(k, Message::Cancel(*block));
        }
    }

    /// Only a piece awaiting verification (we sent [`Output::Verify`] and had no answer) is
    /// applied; anything else would count its peers' `wanted` down twice or blame peers for a
    /// piece still being downloaded.
    pub(super) fn on_verified(&mut self, piece: u32, ok: bool) -> Result<(), Rejected> {
        if piece >= self.cfg.geometry.num_pieces() {
            return Err(Rejected::PieceOutOfRange);
        }
        if self.picker.have().get(piece) {
            return Err(Rejected::AlreadyVerified);
        }
        if !self.picker.is_pending_verify(piece) {
            return Err(Rejected::NotAwaitingVerify);
        }
        let contributors = self.contributors.remove(&piece).unwrap_or_default();
        self.picker.on_verified(piece, ok);
        if ok {
            self.claimed.unset(piece);
        }
        if !ok {
            self.stats.hash_failures += 1;
            for k in contributors {
                if let Some(p) = self.peers.get_mut(&k) {
                    p.hash_failures += 1;
                    if p.hash_failures >= MAX_HASH_FAILURES {
                        self.out.push_back(Output::Disconnect {
                            peer: k,
                            reason: DisconnectReason::BadData,
                        });
                    }
                }
            }
            let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
            for k in keys {
                self.request_more(k);
            }
            return Ok(());
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        let redundant = self.cfg.send_redundant_have;
        for k in keys {
            let p = self.peer(k);
            if p.has.get(piece) {
                p.wanted -= 1;
                self.update_interest(k);
                if !redundant {
                    continue;
                }
            }
            self.send(k, Message::Have { index: piece });
        }
        if self.picker.is_complete() && !self.completed {
            self.completed = true;
            self.out.push_back(Output::Completed);
        }
        Ok(())
    }
}
