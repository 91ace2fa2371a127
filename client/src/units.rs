//! Human-readable sizes and hex, shared by the subcommands' arguments and output.

/// The size, rate and duration parsers of every flag: the scenario files' grammar, so
/// `--up 100KB/s` means what `upload = "100KB/s"` does (see `scenario::units`).
pub use scenario::units::{parse_duration, parse_rate, parse_size};

/// `1.50 MiB`-style rendering for messages.
pub fn fmt_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes exactly 40 hex digits (either case) into an info-hash.
pub fn parse_info_hash(s: &str) -> Option<[u8; 20]> {
    let s = s.as_bytes();
    if s.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *o = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(fmt_size(1536), "1.50 KiB");
        assert_eq!(fmt_size(10), "10 B");
    }

    #[test]
    fn info_hash_hex() {
        let h = [0xab; 20];
        assert_eq!(parse_info_hash(&hex(&h)), Some(h));
        assert_eq!(parse_info_hash(&hex(&h).to_uppercase()), Some(h));
        assert_eq!(parse_info_hash("zz"), None);
        assert_eq!(parse_info_hash(&"g".repeat(40)), None);
    }
}
