//! `seniority`: the thesis's incentive, choking as [`tft`](super::tft) does and capping each
//! peer's upload by its reported online time; and `seniority-liar`, which reports the largest
//! weight the mechanism allows.
//!
//! The thesis's incentive (seed 004, §4.4–4.6): a node's contribution is its online time, turned into a
//! weight `Y = (1 + 1/T)^T` between 1 and e, and an uploader caps each associated peer `n` at
//! `D_n = Y_n / ΣY · L`. Peers that do not run the mechanism answer no query and count as 1.0.
//!
//! Three named variants, because the thesis's code differs from its formulas:
//! - [`SeniorityVariant::Formula`]: `T = ((F−1)·0.1 + 1)·S` with `S` in seconds, caps
//!   `Y_n/ΣY·L` over all associated peers. With `T ≈ 10^5`, `Y ≈ e` for everyone: no effect.
//! - [`SeniorityVariant::ThesisCode`]: the appendix's server scales `t = T/86400·0.24` before
//!   computing `Y`, and its client divides by `Σ int(Y)` (while using the float `Y` on top), so
//!   caps can sum to more than `L`. Caps apply over all associated peers, choked or not.
//! - [`SeniorityVariant::WorkConserving`]: thesis-code weights, but shares are divided (by the
//!   float sum) only among peers that can use them: unchoked and interested.

use rand_chacha::ChaCha8Rng;

use super::choker::ChokerConfig;
use super::tft::Tft;
use super::{Context, PeerView, Policy, Unchoke};
use crate::PeerKey;

/// Which seniority variant a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeniorityVariant {
    Formula,
    ThesisCode,
    WorkConserving,
}

/// What a node has contributed, the counter's input (thesis §4.4).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contribution {
    /// `S`: seconds the node has stayed online seeding.
    pub online_secs: f64,
    /// `F`: files the node is seeding.
    pub files_seeding: u32,
}

/// The largest weight any node can have: `Y = (1 + 1/T)^T` tends to e as `T` grows.
pub const MAX_WEIGHT: f64 = std::f64::consts::E;

/// Weight a peer counts with when it does not answer the seniority query (thesis code).
pub const MISSING_WEIGHT: f64 = 1.0;

/// The counter: `T_n = ((F−1)·0.1 + 1)·S`.
pub fn contribution_value(c: &Contribution) -> f64 {
    let f = c.files_seeding.max(1) as f64;
    ((f - 1.0) * 0.1 + 1.0) * c.online_secs.max(0.0)
}

/// `Y = (1 + 1/T)^T`, continuous at 0 (→ 1) and rising to e.
pub fn weight_of(t: f64) -> f64 {
    if t <= 0.0 || !t.is_finite() {
        return 1.0;
    }
    (1.0 + 1.0 / t).powf(t)
}

/// The weight a node serves for itself under `variant`.
pub fn own_weight(variant: SeniorityVariant, c: &Contribution) -> f64 {
    let t = contribution_value(c);
    match variant {
        SeniorityVariant::Formula => weight_of(t),
        SeniorityVariant::ThesisCode | SeniorityVariant::WorkConserving => {
            weight_of(t / 86_400.0 * 0.24)
        }
    }
}

/// One associated peer as the allocator sees it.
#[derive(Clone, Copy, Debug)]
pub struct Share {
    pub key: PeerKey,
    /// The weight it reported, `None` if it runs no mechanism.
    pub weight: Option<f64>,
    /// Unchoked by us and interested: it can use upload right now.
    pub can_use: bool,
}

/// Per-peer upload caps in bytes/s for `variant` with upload limit `limit` (the thesis's `L`).
/// Peers without a cap (work-conserving: those that cannot use one) get `None`.
pub fn caps(variant: SeniorityVariant, limit: f64, peers: &[Share]) -> Vec<(PeerKey, Option<f64>)> {
    let w = |s: &Share| s.weight.unwrap_or(MISSING_WEIGHT);
    match variant {
        SeniorityVariant::Formula => {
            let sum: f64 = peers.iter().map(w).sum();
            peers
                .iter()
                .map(|s| (s.key, Some(w(s) / sum * limit)))
                .collect()
        }
        SeniorityVariant::ThesisCode => {
            // `sum = sum + int(peer_info[i]['time'])`: integer parts in the denominator.
            let sum: f64 = peers.iter().map(|s| w(s).trunc()).sum();
            peers
                .iter()
                .map(|s| (s.key, Some(w(s) * limit / sum.max(1.0))))
                .collect()
        }
        SeniorityVariant::WorkConserving => {
            let sum: f64 = peers.iter().filter(|s| s.can_use).map(w).sum();
            peers
                .iter()
                .map(|s| (s.key, s.can_use.then(|| w(s) / sum * limit)))
                .collect()
        }
    }
}

/// The `seniority` and `seniority-liar` policies: tit-for-tat choking, seniority caps.
#[derive(Clone, Debug)]
pub struct Seniority {
    tft: Tft,
    variant: SeniorityVariant,
    own_weight: f64,
}

impl Seniority {
    /// A node whose counter reads `contribution`; a `liar` serves [`MAX_WEIGHT`] instead.
    pub fn new(
        choker: ChokerConfig,
        variant: SeniorityVariant,
        contribution: &Contribution,
        liar: bool,
    ) -> Self {
        Seniority {
            tft: Tft::new(choker),
            variant,
            own_weight: if liar {
                MAX_WEIGHT
            } else {
                own_weight(variant, contribution)
            },
        }
    }
}

impl Policy for Seniority {
    fn rechoke(&mut self, ctx: &Context, peers: &[PeerView], rng: &mut ChaCha8Rng) -> Unchoke {
        self.tft.rechoke(ctx, peers, rng)
    }

    fn unchoke_on_interest(&mut self, unchoked: usize) -> bool {
        self.tft.unchoke_on_interest(unchoked)
    }

    fn max_unchoked(&self) -> usize {
        self.tft.max_unchoked()
    }

    fn sets_caps(&self) -> bool {
        true
    }

    /// The thesis's `L` is our upload capacity; without one there is nothing to divide.
    fn caps(&mut self, ctx: &Context, peers: &[PeerView]) -> Vec<(PeerKey, Option<f64>)> {
        let Some(limit) = ctx.upload_capacity else {
            return Vec::new();
        };
        let shares: Vec<Share> = peers
            .iter()
            .map(|p| Share {
                key: p.key,
                weight: p.seniority,
                can_use: p.unchoked && p.interested,
            })
            .collect();
        caps(self.variant, limit, &shares)
    }

    fn advertised_weight(&self) -> Option<f64> {
        Some(self.own_weight)
    }

    fn forget(&mut self, key: PeerKey) {
        self.tft.forget(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(d: f64) -> Contribution {
        Contribution {
            online_secs: d * 86_400.0,
            files_seeding: 1,
        }
    }

    #[test]
    fn thesis_code_worked_numbers() {
        // DESIGN.md §5: Y ≈ 1.48 at 1 day, 2.0 near 4.2 days, ≈ 2.47 at 19 days.
        let y1 = own_weight(SeniorityVariant::ThesisCode, &days(1.0));
        let y19 = own_weight(SeniorityVariant::ThesisCode, &days(19.0));
        assert!((y1 - 1.4831).abs() < 1e-3, "{y1}");
        assert!((y19 - 2.4698).abs() < 2e-3, "{y19}");
        assert!(own_weight(SeniorityVariant::ThesisCode, &days(4.1)) < 2.0);
        assert!(own_weight(SeniorityVariant::ThesisCode, &days(4.3)) > 2.0);
    }

    #[test]
    fn formula_cannot_tell_nodes_apart() {
        let a = own_weight(SeniorityVariant::Formula, &days(1.0));
        let b = own_weight(SeniorityVariant::Formula, &days(19.0));
        assert!((a - std::f64::consts::E).abs() < 1e-4 && (b - a).abs() < 1e-4);
    }

    #[test]
    fn files_seeding_scale_contribution() {
        let c = Contribution {
            online_secs: 100.0,
            files_seeding: 3,
        };
        assert!((contribution_value(&c) - 120.0).abs() < 1e-9);
        assert_eq!(weight_of(0.0), 1.0);
    }

    #[test]
    fn caps_follow_each_variant() {
        let peers = [
            Share {
                key: 1,
                weight: Some(2.5),
                can_use: true,
            },
            Share {
                key: 2,
                weight: None,
                can_use: false,
            },
            Share {
                key: 3,
                weight: Some(1.5),
                can_use: true,
            },
        ];
        let f = caps(SeniorityVariant::Formula, 100.0, &peers);
        assert!((f[0].1.unwrap() - 50.0).abs() < 1e-9);
        assert!((f[1].1.unwrap() - 20.0).abs() < 1e-9);
        // Σ int(Y) = 2 + 1 + 1 = 4; caps sum to 125 > L, as in the appendix code.
        let t = caps(SeniorityVariant::ThesisCode, 100.0, &peers);
        assert!((t[0].1.unwrap() - 62.5).abs() < 1e-9);
        assert!((t.iter().map(|c| c.1.unwrap()).sum::<f64>() - 125.0).abs() < 1e-9);
        let w = caps(SeniorityVariant::WorkConserving, 100.0, &peers);
        assert!((w[0].1.unwrap() - 62.5).abs() < 1e-9);
        assert_eq!(w[1].1, None);
        assert!((w[2].1.unwrap() - 37.5).abs() < 1e-9);
    }
}
