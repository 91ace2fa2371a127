//! `whitewash`: a peer that drops its identity every `every` and comes back as a new one
//! (whitewashing: Feldman et al., "Free-riding and whitewashing in peer-to-peer systems",
//! 2004/2006). Between identity changes it runs `base`, free-rider by default: the
//! literature's whitewasher is a free-rider escaping the history its peers keep of it.
//!
//! The identity change is the driver's: the simulator (`sim/src/world/whitewash.rs`) and
//! `bt` (`client/src/session/whitewash.rs`) close every connection, announce `stopped`, and
//! rejoin with the torrent [`crate::torrent::Torrent::next_identity`] makes (what is kept
//! and what is forgotten is that one rule: verified pieces kept, so its own history and its
//! seniority counter start over) and a `started` announce — `bt` under a new peer id and
//! listening port. Its peers know it only through per-connection state, which
//! [`super::Policy::forget`] drops when it leaves. While it is complete it stops changing
//! identity (a seed has nothing to escape).

use super::spec::{Params, PolicyError, PolicySpec};
use crate::time::Duration;
use crate::units::Dur;

#[derive(Clone, Debug, PartialEq)]
pub struct Whitewash {
    /// Time between identity changes.
    pub every: Dur,
    /// What it runs in between (any policy but `whitewash`, by name; a seniority base takes
    /// the `variant` parameter).
    pub base: Box<PolicySpec>,
}

/// Ten minutes between identities: a few per download in the CI-sized swarms.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(600);

impl Whitewash {
    pub(super) fn from_params(p: &mut Params) -> Result<Whitewash, PolicyError> {
        let every: Dur = p.get("every", Dur(DEFAULT_EVERY))?;
        // Shorter periods would flood the simulator with identity changes.
        if every.0 < Duration::from_secs(1) {
            return Err(p.invalid("every", every, "must be at least 1s"));
        }
        let name: String = p.get("base", "free-rider".to_string())?;
        let variant: Option<String> = p.opt("variant")?;
        if name.contains(':') || name == "whitewash" {
            return Err(p.invalid(
                "base",
                &name,
                "a policy name other than whitewash, without parameters (a seniority variant goes in `variant`)",
            ));
        }
        let mut base = Params::new(&name);
        if let Some(v) = variant {
            base.insert("variant", v)?;
        }
        let base = PolicySpec::from_parts(&name, base)?;
        Ok(Whitewash {
            every,
            base: Box::new(base),
        })
    }

    /// `every` and the base's durations ÷ `k` ([`PolicySpec::time_compressed`]).
    pub(super) fn time_compressed(&self, k: f64) -> Whitewash {
        Whitewash {
            every: Dur(Duration::from_secs_f64_ceil(self.every.0.as_secs_f64() / k)),
            base: Box::new(self.base.time_compressed(k)),
        }
    }

    /// `every`, the base's name and its own parameters (only a seniority variant can be set).
    pub(super) fn params(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("every", self.every.to_string()),
            ("base", self.base.name().to_string()),
        ];
        v.extend(self.base.params());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::seniority::SeniorityVariant;

    #[test]
    fn base_and_variant_parse_print_and_fill() {
        let w: PolicySpec = "whitewash".parse().unwrap();
        assert_eq!(w.to_string(), "whitewash:every=10min,base=free-rider");
        assert_eq!(w.whitewash_every(), Some(DEFAULT_EVERY));
        assert!(!w.serves_seniority());
        let liar: PolicySpec = "whitewash:every=5min,base=seniority-liar".parse().unwrap();
        assert!(liar.serves_seniority());
        let filled = liar.with_default_variant(SeniorityVariant::Formula);
        let text = filled.to_string();
        assert_eq!(
            text,
            "whitewash:every=5min,base=seniority-liar,variant=formula"
        );
        assert_eq!(text.parse::<PolicySpec>().unwrap(), filled);
    }

    #[test]
    fn time_compression_divides_the_period_and_the_base() {
        let w: PolicySpec = "whitewash:every=30s,base=large-view".parse().unwrap();
        let fast = w.time_compressed(8.0);
        assert_eq!(fast.whitewash_every(), Some(Duration::from_millis(3750)));
        let PolicySpec::Whitewash(fast) = fast else {
            panic!("{fast}")
        };
        let PolicySpec::Whitewash(slow) = w else {
            panic!("{w}")
        };
        assert_eq!(*fast.base, slow.base.time_compressed(8.0));
        assert_ne!(fast.base, slow.base);
    }

    #[test]
    fn refuses_nesting_parameters_in_base_and_a_zero_period() {
        for bad in [
            "whitewash:base=whitewash",
            "whitewash:base=tft:x",
            "whitewash:base=tft,variant=formula",
            "whitewash:every=0s",
            "whitewash:every=500ms",
            "whitewash:base=nobody",
        ] {
            assert!(bad.parse::<PolicySpec>().is_err(), "{bad}");
        }
    }
}
