//! Human-readable sizes and hex, shared by the subcommands' arguments and output.

/// Parses `16384`, `256KiB`, `256k`, `4MiB`, `1G` (binary multiples; `B` and `iB` optional).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 262144, 256KiB or 4MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "{s:?} has an unknown unit (use B, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

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
    fn sizes() {
        assert_eq!(parse_size("16384"), Ok(16384));
        assert_eq!(parse_size("256KiB"), Ok(256 << 10));
        assert_eq!(parse_size("256k"), Ok(256 << 10));
        assert_eq!(parse_size("4 MiB"), Ok(4 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("99999999999999T").is_err());
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
