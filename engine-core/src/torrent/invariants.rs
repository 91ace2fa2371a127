//! The controller's internal invariants, checked by the tests after every input.

use super::Torrent;

impl Torrent {
    /// Checks the counts and sets the controller keeps incrementally against their
    /// recomputed values; `Err` says which one disagrees.
    pub(super) fn check_invariants(&self) -> Result<(), String> {
        let have = self.picker.have();
        let check = |ok: bool, what: &dyn Fn() -> String| if ok { Ok(()) } else { Err(what()) };
        for (k, p) in self.peers.iter() {
            let wanted = p.has.iter_set_without([have]).count() as u32;
            check(p.wanted == wanted, &|| {
                format!("peer {k}: wanted {} != {wanted}", p.wanted)
            })?;
            check(p.am_interested == (wanted > 0), &|| {
                format!(
                    "peer {k}: interested {} with {wanted} wanted",
                    p.am_interested
                )
            })?;
            check(p.requests_out.len() <= self.cfg.pipeline_depth, &|| {
                format!("peer {k}: {} requests out", p.requests_out.len())
            })?;
            let mut out = p.requests_out.clone();
            out.sort();
            out.dedup();
            check(out.len() == p.requests_out.len(), &|| {
                format!("peer {k}: a request outstanding twice")
            })?;
            check(!p.am_choking || p.requests_in.is_empty(), &|| {
                format!("peer {k}: choked with requests queued")
            })?;
            check(p.requests_in.len() <= self.cfg.max_queued_requests, &|| {
                format!("peer {k}: request queue over its bound")
            })?;
            let servable = |r: &_| self.cfg.geometry.is_valid_block(r) && have.get(r.index);
            check(p.requests_in.iter().all(servable), &|| {
                format!("peer {k}: queued a request we cannot serve")
            })?;
        }
        for piece in 0..self.cfg.geometry.num_pieces() {
            let count = self.peers.values().filter(|p| p.has.get(piece)).count() as u32;
            let avail = self.picker.availability(piece);
            check(avail == count, &|| {
                format!("piece {piece}: availability {avail}, {count} peers have it")
            })?;
        }
        let unchoked = self.peers.values().filter(|p| !p.am_choking).count();
        check(unchoked <= self.policy.max_unchoked(), &|| {
            format!(
                "{unchoked} peers unchoked, {} slots",
                self.policy.max_unchoked()
            )
        })?;
        self.picker.check_block_states(|r| {
            self.peers
                .values()
                .filter(|p| p.requests_out.contains(r))
                .count()
        })?;
        check(self.completed == self.picker.is_complete(), &|| {
            "completion flag disagrees with the picker".into()
        })?;
        for (piece, who) in &self.contributors {
            check(!have.get(*piece), &|| {
                format!("contributors kept for had piece {piece}")
            })?;
            check(who.iter().all(|k| self.peers.contains_key(k)), &|| {
                format!("piece {piece}: a contributor left but is still blamed")
            })?;
        }
        self.check_uploads()
    }

    /// Parking and false claims: every parked peer is waiting and refused (else it should
    /// have been woken), some waiting peer is always admitted (liveness: requests queued
    /// mean the uplink serves someone), and no claimed piece is one we hold.
    fn check_uploads(&self) -> Result<(), String> {
        let waiting = self.upload_demand();
        for k in &self.parked {
            if !waiting.iter().any(|d| d.key == *k) {
                return Err(format!("peer {k} parked but not waiting"));
            }
            if self.policy.admit_upload(*k, &waiting) {
                return Err(format!("peer {k} parked though admitted"));
            }
        }
        if !waiting.is_empty() && waiting.iter().all(|d| self.parked.contains(&d.key)) {
            return Err(format!("every waiting peer is parked: {waiting:?}"));
        }
        if let Some(p) = self.claimed.iter_set().find(|&p| self.picker.have().get(p)) {
            return Err(format!("piece {p} claimed falsely but held"));
        }
        Ok(())
    }
}
