//! One grammar for sizes, rates and durations: the same inputs give the same answers (or the
//! same error) through the parsers, a scenario file and a `--set` override. The `bt` flags use
//! these parsers directly (see client/src/session/cli.rs's tests).

use scenario::units::{parse_duration, parse_rate, parse_size, ByteSize, Dur, Rate};
use scenario::Scenario;

const BASE: &str = "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 1\n";

/// Every way a value reaches a scenario: in the file, and as `--set table.field=value`.
fn via_scenario<T>(key: &str, input: &str, get: impl Fn(&Scenario) -> T) -> [Result<T, String>; 2] {
    let (table, field) = key.split_once('.').unwrap();
    let file = if table == "torrent" {
        BASE.replace("size = \"1MiB\"", &format!("{field} = \"{input}\""))
    } else {
        format!("{BASE}[{table}]\n{field} = \"{input}\"\n")
    };
    let set = Scenario::parse("t", BASE, &[format!("{key}={input}")]);
    [Scenario::parse("t", &file, &[]), set].map(|r| r.map(|sc| get(&sc)).map_err(|e| e.to_string()))
}

/// `Ok(value)` or `Err(part of the message)`: what every entry point must answer.
fn check<T: PartialEq + std::fmt::Debug>(
    input: &str,
    want: &Result<T, &str>,
    got: Vec<Result<T, String>>,
) {
    for g in got {
        match (&g, want) {
            (Ok(v), Ok(w)) => assert_eq!(v, w, "`{input}`"),
            (Err(e), Err(w)) => assert!(e.contains(w), "`{input}`: {e}"),
            _ => panic!("`{input}`: got {g:?}, want {want:?}"),
        }
    }
}

#[test]
fn sizes_agree_everywhere() {
    let cases: &[(&str, Result<u64, &str>)] = &[
        ("64MiB", Ok(64 << 20)),
        ("100KB", Ok(100_000)),
        ("100kB", Ok(100_000)),
        ("1.5MiB", Ok(3 << 19)),
        ("4 MiB", Ok(4 << 20)),
        ("1000000", Ok(1_000_000)),
        (
            "256k",
            Err("write `256KiB` (powers of 1024) or `256KB` (powers of 1000)"),
        ),
        ("256kb", Err("write `256KiB`")),
        ("1G", Err("write `1GiB`")),
        ("12XB", Err("unknown size unit `XB`")),
    ];
    for (input, want) in cases {
        let mut got = vec![input.parse::<ByteSize>().map(|b| b.0), parse_size(input)];
        got.extend(via_scenario("torrent.size", input, |sc| sc.torrent.size.0));
        check(input, want, got);
    }
}

#[test]
fn rates_agree_everywhere() {
    let cases: &[(&str, Result<f64, &str>)] = &[
        ("100KB/s", Ok(100_000.0)),
        ("2MiB/s", Ok(2.0 * 1024.0 * 1024.0)),
        ("1.5MB/s", Ok(1_500_000.0)),
        ("800KBps", Ok(800_000.0)),
        ("500KB", Err("is a size, not a rate: write `500KB/s`")),
        ("100000", Err("write `100000B/s`")),
        (
            "500k/s",
            Err("write `500KiB/s` (powers of 1024) or `500KB/s`"),
        ),
        ("5XB/s", Err("unknown size unit `XB`")),
        // Bit rates, SI: 1 kbps = 125 B/s.
        ("1kbps", Ok(125.0)),
        ("512kbit/s", Ok(64_000.0)),
        ("10Mbps", Ok(1_250_000.0)),
        ("1Gbit/s", Ok(125_000_000.0)),
        ("500kb/s", Err("or `500Kbit/s` for bits")),
    ];
    for (input, want) in cases {
        let mut got = vec![input.parse::<Rate>().map(|r| r.0), parse_rate(input)];
        got.extend(via_scenario("defaults.upload", input, |sc| {
            sc.defaults.upload.fixed().expect("a fixed rate")
        }));
        check(input, want, got);
    }
}

#[test]
fn durations_agree_everywhere() {
    let cases: &[(&str, Result<u64, &str>)] = &[
        ("90s", Ok(90_000_000)),
        ("250ms", Ok(250_000)),
        ("5min", Ok(300_000_000)),
        ("2h", Ok(7_200_000_000)),
        ("1d", Ok(86_400_000_000)),
        ("3days", Ok(3 * 86_400_000_000)),
        (
            "5m",
            Err("write `5min` for minutes or `5ms` for milliseconds"),
        ),
        ("90", Err("write `90s`")),
        ("5y", Err("unknown duration unit `y`")),
    ];
    for (input, want) in cases {
        let mut got = vec![
            input.parse::<Dur>().map(|d| d.0 .0),
            parse_duration(input).map(|d| d.as_micros() as u64),
        ];
        got.extend(via_scenario("engine.rechoke_interval", input, |sc| {
            sc.engine.rechoke_interval.0 .0
        }));
        check(input, want, got);
    }
}
