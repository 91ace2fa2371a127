//! Sizes, rates and durations: one grammar for scenario files, `--set` and every `bt`/`sim`
//! flag, so `100KB/s` means the same bytes wherever it is typed.
//!
//! SI prefixes are powers of 1000 (`KB`, `kB`, `MB`), binary ones powers of 1024 (`KiB`,
//! `MiB`), as in the thesis's "100KB/s". Forms that people read two ways are errors that say
//! what to type instead: `256k`/`256kb` (KiB or KB?), `5m` (minutes or milliseconds?).
//! Rates may also be given in bits, as link speeds are quoted: `kbps`/`kbit/s`, `Mbps`/`Mbit/s`,
//! `Gbps`/`Gbit/s` (SI powers of 1000, 1 kbps = 125 B/s); `500kb/s` stays an error, since `b`
//! alone is read as bits and as bytes.
//! Each type prints back canonically, so the resolved configuration written beside a result
//! reads like the input and parses to the same value.

use std::fmt;
use std::str::FromStr;

use crate::time::Duration;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

const SIZE_UNITS: &[(&str, u64)] = &[
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("kB", 1_000),
    ("B", 1),
];

/// Bit-rate units and their factor in bits per second. Exact spellings only, so a bit rate is
/// never one case slip away from a byte rate (`MBps` is bytes, `Mbps` bits).
const BIT_RATE_UNITS: &[(&str, f64)] = &[
    ("bit/s", 1.0),
    ("bps", 1.0),
    ("kbit/s", 1e3),
    ("Kbit/s", 1e3),
    ("kbps", 1e3),
    ("Kbps", 1e3),
    ("Mbit/s", 1e6),
    ("Mbps", 1e6),
    ("Gbit/s", 1e9),
    ("Gbps", 1e9),
];

const SIZE_HELP: &str = "use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (of 1024)";

/// Splits `"12.5MiB"` into `("12.5", 12.5, "MiB")`.
fn split_number(s: &str) -> Result<(&str, f64, &str), String> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` does not start with a number"))?;
    if !v.is_finite() {
        return Err(format!("`{s}` is not a finite number"));
    }
    if v < 0.0 {
        return Err(format!("`{s}` is negative"));
    }
    Ok((num, v, unit.trim()))
}

/// The factor of a size unit, or an error naming what to write instead (`per`: `"/s"` for a
/// rate, so the suggestion is one to copy).
fn size_factor(num: &str, unit: &str, s: &str, per: &str) -> Result<u64, String> {
    if let Some((_, f)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) {
        return Ok(*f);
    }
    let lower = unit.to_ascii_lowercase();
    let prefix = lower.trim_end_matches("ib").trim_end_matches('b');
    if let Some(p @ ("k" | "m" | "g" | "t")) = (!prefix.is_empty()).then_some(prefix) {
        let p = p.to_ascii_uppercase();
        // A rate may also have meant bits.
        let bits = if per.is_empty() {
            String::new()
        } else {
            format!(", or `{num}{p}bit/s` for bits")
        };
        return Err(format!(
            "`{s}` is ambiguous: write `{num}{p}iB{per}` (powers of 1024) or `{num}{p}B{per}` (powers of 1000){bits}"
        ));
    }
    Err(format!("unknown size unit `{unit}` in `{s}` ({SIZE_HELP})"))
}

/// A byte count (`"64MiB"`, `"16KiB"`, `"1000000"`: a bare number is bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (num, v, unit) = split_number(s)?;
        let f = if unit.is_empty() {
            1
        } else {
            size_factor(num, unit, s.trim(), "")?
        };
        // Whole numbers go through integers, so every byte count round-trips exactly.
        if let Ok(n) = num.parse::<u64>() {
            return n
                .checked_mul(f)
                .map(ByteSize)
                .ok_or_else(|| format!("`{s}` is too large"));
        }
        let bytes = v * f as f64;
        if bytes.fract() != 0.0 || bytes >= u64::MAX as f64 {
            return Err(format!("`{s}` is not a whole number of bytes"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, factor) in SIZE_UNITS {
            if self.0 >= *factor && self.0 % factor == 0 && *unit != "kB" {
                return write!(f, "{}{unit}", self.0 / factor);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// A rate in bytes per second (`"100KB/s"`, `"1MiB/s"`, `"500B/s"`; `ps` for `/s` too), or
/// given in bits (`"10Mbps"`, `"512kbit/s"`), which it stores as bytes: printing is in bytes.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (num, v, unit) = split_number(s)?;
        if let Some((_, bits)) = BIT_RATE_UNITS.iter().find(|(u, _)| *u == unit) {
            return Ok(Rate(v * bits / 8.0));
        }
        let Some(per) = unit.strip_suffix("/s").or_else(|| unit.strip_suffix("ps")) else {
            if unit.is_empty() {
                return Err(format!(
                    "rate `{s}` needs a unit per second: write `{num}B/s`, or e.g. `{num}KB/s`"
                ));
            }
            size_factor(num, unit, s, "/s")?;
            return Err(format!("`{s}` is a size, not a rate: write `{s}/s`"));
        };
        let f = size_factor(num, per.trim(), s, "/s")?;
        Ok(Rate(v * f as f64))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.fract() == 0.0 && v > 0.0 && v < u64::MAX as f64 {
            return write!(f, "{}/s", ByteSize(v as u64));
        }
        write!(f, "{v}B/s")
    }
}

/// A duration (`"10s"`, `"250ms"`, `"30min"`, `"2h"`, `"3d"`/`"3days"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

const DURATION_UNITS: &[(&str, f64)] = &[
    ("us", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("min", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
    ("day", 86_400.0),
    ("days", 86_400.0),
];

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (num, v, unit) = split_number(s)?;
        let f = match DURATION_UNITS.iter().find(|(u, _)| *u == unit) {
            Some((_, f)) => *f,
            None if unit.is_empty() => {
                return Err(format!(
                    "duration `{s}` needs a unit: write `{num}s` for seconds"
                ))
            }
            None if unit == "m" => {
                return Err(format!(
                    "`{s}` is ambiguous: write `{num}min` for minutes or `{num}ms` for milliseconds"
                ))
            }
            None => {
                return Err(format!(
                    "unknown duration unit `{unit}` in `{s}` (use us, ms, s, min, h or d)"
                ))
            }
        };
        let us = (v * f * 1e6).round();
        if us >= u64::MAX as f64 {
            return Err(format!("`{s}` is too long"));
        }
        Ok(Dur(Duration(us as u64)))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0 .0;
        for (unit, secs) in [("h", 3600u64), ("min", 60), ("s", 1)] {
            let factor = secs * 1_000_000;
            if us >= factor && us % factor == 0 {
                return write!(f, "{}{unit}", us / factor);
            }
        }
        if us % 1000 == 0 {
            write!(f, "{}ms", us / 1000)
        } else {
            write!(f, "{us}us")
        }
    }
}

/// `clap` value parsers for command-line flags, in the same grammar as scenario files.
pub fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<ByteSize>().map(|b| b.0)
}

/// A positive rate in bytes per second (a limit of zero would stall every transfer).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let r = s.parse::<Rate>()?.0;
    if r > 0.0 && r.is_finite() {
        Ok(r)
    } else {
        Err(format!("rate `{}` must be positive", s.trim()))
    }
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = s.parse::<Dur>()?;
    Ok(std::time::Duration::from_micros(d.0 .0))
}

macro_rules! serde_via_string {
    ($t:ty, $what:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$t, E> {
                        self.visit_str(&v.to_string())
                    }
                }
                d.deserialize_any(V)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

serde_via_string!(ByteSize, "a size such as \"64MiB\"");
serde_via_string!(Rate, "a rate such as \"100KB/s\"");
serde_via_string!(Dur, "a duration such as \"10s\"");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_canonically() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap(), ByteSize(64 << 20));
        assert_eq!(ByteSize(64 << 20).to_string(), "64MiB");
        assert_eq!("100KB/s".parse::<Rate>().unwrap(), Rate(100_000.0));
        assert_eq!(Rate(100_000.0).to_string(), "100KB/s");
        assert_eq!("30min".parse::<Dur>().unwrap().to_string(), "30min");
        assert_eq!("25ms".parse::<Dur>().unwrap(), Dur(Duration(25_000)));
        assert_eq!("1.5s".parse::<Dur>().unwrap().to_string(), "1500ms");
        assert_eq!("2days".parse::<Dur>().unwrap().to_string(), "48h");
        assert_eq!("3d".parse::<Dur>().unwrap().to_string(), "72h");
    }

    #[test]
    fn rejects_bad_units_and_negatives() {
        assert!("-100KB/s".parse::<Rate>().unwrap_err().contains("negative"));
        assert!("5 parsecs".parse::<ByteSize>().is_err());
        assert!("0.5B".parse::<ByteSize>().is_err());
        assert!("".parse::<Dur>().is_err());
        assert!("1e30s".parse::<Dur>().unwrap_err().contains("too long"));
        assert!(parse_rate("0KB/s").unwrap_err().contains("positive"));
    }

    /// Ambiguous forms fail with the text to type instead, whichever parser meets them.
    #[test]
    fn ambiguous_forms_say_what_to_write() {
        let cases: &[(&str, Result<(), &str>)] = &[
            ("256k", Err("write `256KiB` (powers of 1024) or `256KB`")),
            ("256kb", Err("write `256KiB` (powers of 1024) or `256KB`")),
            ("4m", Err("write `4MiB` (powers of 1024) or `4MB`")),
            ("1G", Err("write `1GiB` (powers of 1024) or `1GB`")),
            ("256KiB", Ok(())),
            ("256kB", Ok(())),
        ];
        for (input, want) in cases {
            match (input.parse::<ByteSize>(), want) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(w)) => assert!(e.contains(w), "{input}: {e}"),
                (got, _) => panic!("{input}: {got:?}"),
            }
        }
        let e = "500k/s".parse::<Rate>().unwrap_err();
        assert!(
            e.contains("write `500KiB/s` (powers of 1024) or `500KB/s`"),
            "{e}"
        );
        let e = "500KB".parse::<Rate>().unwrap_err();
        assert!(e.contains("is a size, not a rate: write `500KB/s`"), "{e}");
        let e = "500".parse::<Rate>().unwrap_err();
        assert!(e.contains("write `500B/s`"), "{e}");
        let e = "5m".parse::<Dur>().unwrap_err();
        assert!(e.contains("write `5min` for minutes or `5ms`"), "{e}");
        let e = "90".parse::<Dur>().unwrap_err();
        assert!(e.contains("write `90s`"), "{e}");
    }

    #[test]
    fn bit_rates_are_si_bits() {
        for (input, bytes) in [
            ("1kbps", 125.0),
            ("1Kbit/s", 125.0),
            ("8bps", 1.0),
            ("12bit/s", 1.5),
            ("10Mbps", 1_250_000.0),
            ("100Mbit/s", 12_500_000.0),
            ("1Gbit/s", 125_000_000.0),
            ("2.5Gbps", 312_500_000.0),
        ] {
            assert_eq!(input.parse::<Rate>(), Ok(Rate(bytes)), "{input}");
        }
        // Printing stays in bytes and parses back to the same rate.
        assert_eq!(Rate(1_250_000.0).to_string(), "1250KB/s");
        assert_eq!("1kbps".parse::<Rate>().unwrap().to_string(), "125B/s");
        // Byte spellings keep their meaning; `b` alone is still refused for rates, naming bits.
        assert_eq!("1MBps".parse::<Rate>(), Ok(Rate(1e6)));
        let e = "500kb/s".parse::<Rate>().unwrap_err();
        assert!(
            e.contains("write `500KiB/s` (powers of 1024) or `500KB/s` (powers of 1000), or `500Kbit/s` for bits"),
            "{e}"
        );
        let e = "4mbps".parse::<Rate>().unwrap_err();
        assert!(e.contains("or `4Mbit/s` for bits"), "{e}");
        // A bit rate is no size.
        assert!("10Mbit".parse::<ByteSize>().is_err());
    }

    proptest! {
        #[test]
        fn bit_rates_round_trip(bits in 0u64..1_000_000_000_000, unit in 0usize..BIT_RATE_UNITS.len()) {
            let (name, factor) = BIT_RATE_UNITS[unit];
            let r = format!("{bits}{name}").parse::<Rate>().unwrap();
            prop_assert_eq!(r, Rate(bits as f64 * factor / 8.0));
            prop_assert_eq!(r.to_string().parse::<Rate>().unwrap(), r);
        }

        #[test]
        fn parsers_are_total(s in "\\PC{0,20}") {
            let _ = s.parse::<ByteSize>();
            let _ = s.parse::<Rate>();
            let _ = s.parse::<Dur>();
        }

        #[test]
        fn sizes_round_trip(n in 0u64..u64::MAX / 2) {
            let b = ByteSize(n);
            prop_assert_eq!(b.to_string().parse::<ByteSize>().unwrap(), b);
        }

        #[test]
        fn rates_round_trip(v in 0.0f64..1e15) {
            let r = Rate(v);
            prop_assert_eq!(r.to_string().parse::<Rate>().unwrap(), r);
        }

        #[test]
        fn durations_round_trip(n in 0u64..10_000_000_000_000) {
            let d = Dur(Duration(n));
            prop_assert_eq!(d.to_string().parse::<Dur>().unwrap(), d);
        }
    }
}
