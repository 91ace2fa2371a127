//! Sweeps: pinned summary, identical bytes at any thread count, merge(shards) == whole, and
//! paired comparisons equal to a hand computation from rows.csv.

mod common;

use std::path::Path;

use sim::compare::Compare;
use sim::sweep::{merge, run, Note, Options, Plan, Shard, Vary};

fn plan() -> Plan {
    Plan {
        scenario: common::scenarios_dir().join("g1t2.toml"),
        replicates: 3,
        varies: vec![
            Vary::parse("seeders=1,2").unwrap(),
            Vary::parse("variant=thesis-code,work-conserving").unwrap(),
        ],
        set: vec!["torrent.size=2MiB".into()],
        compare: vec![Compare {
            a: [("seeders".to_string(), "1".to_string())].into(),
            b: [("seeders".to_string(), "2".to_string())].into(),
        }],
        progress: true,
    }
}

/// Every file a sweep of [`plan`] writes.
const FILES: [&str; 5] = [
    "rows.csv",
    "summary.csv",
    "sweep.json",
    "comparisons.csv",
    "progress.csv",
];

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

fn run_in(threads: usize, shard: Option<Shard>, out: &Path) {
    common::run_sweep(&plan(), threads, shard, out);
}

#[test]
fn sweep_output_is_pinned_and_thread_count_independent() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_in(1, None, a.path());
    run_in(4, None, b.path());
    for f in FILES {
        assert_eq!(
            read(a.path(), f),
            read(b.path(), f),
            "{f} differs between -j 1 and -j 4"
        );
    }
    let summary = read(a.path(), "summary.csv");
    assert_eq!(summary.lines().count(), 5, "header + 4 points");
    assert_eq!(read(a.path(), "rows.csv").lines().count(), 1 + 4 * 3 * 20);
    insta::assert_snapshot!("sweep_summary", summary);
}

#[test]
fn merged_shards_equal_the_whole_sweep() {
    let whole = tempfile::tempdir().unwrap();
    run_in(2, None, whole.path());
    let shards: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Shards run in any order; merge takes them in any order.
    for (i, d) in shards.iter().enumerate().rev() {
        run_in(
            1,
            Some(Shard {
                index: i as u32,
                count: 3,
            }),
            d.path(),
        );
    }
    let merged = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = shards
        .iter()
        .rev()
        .map(|d| d.path().to_path_buf())
        .collect();
    merge(merged.path(), &dirs).unwrap();
    for f in FILES {
        assert_eq!(read(whole.path(), f), read(merged.path(), f), "{f}");
    }
    // An incomplete set of shards is refused, naming what it got.
    let e = merge(merged.path(), &dirs[..2]).unwrap_err().to_string();
    assert!(e.contains("expected the 2 shards i/2 of one sweep"), "{e}");
}

/// A sweep killed mid-way — here its progress hook panics at run 7 of 12, when points 0 and 1
/// (3 replicates each) are checkpointed and point 2 is started — then restarted with `resume`
/// after point 0's rows slice was corrupted: it keeps point 1, redoes 0, 2 and 3, and writes
/// exactly the bytes of an uninterrupted run.
#[test]
fn a_resumed_sweep_redoes_only_unfinished_or_corrupt_points() {
    let whole = tempfile::tempdir().unwrap();
    run_in(2, None, whole.path());
    let dir = tempfile::tempdir().unwrap();
    let killed = std::panic::catch_unwind(|| {
        let opts = Options {
            resume: false,
            runs: &|done, _| assert!(done < 7, "killed at run {done}"),
            note: &mut |_| {},
        };
        run(&plan(), None, dir.path(), opts)
    });
    assert!(killed.is_err());
    let points = dir.path().join("points");
    assert!(points.join("1/SHA256SUMS").exists());
    assert!(points.join("2/rows.csv").exists() && !points.join("2/SHA256SUMS").exists());
    let slice = points.join("0/rows.csv");
    let mut bytes = std::fs::read(&slice).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&slice, bytes).unwrap();

    let first_done = std::sync::Mutex::new(None);
    let mut notes = Vec::new();
    let opts = Options {
        resume: true,
        runs: &|done, _| {
            first_done.lock().unwrap().get_or_insert(done);
        },
        note: &mut |n| notes.push(n),
    };
    run(&plan(), None, dir.path(), opts).unwrap();
    assert_eq!(
        *first_done.lock().unwrap(),
        Some(3),
        "point 1's runs count as done"
    );
    assert_eq!(
        notes[..2],
        [
            Note::Redo {
                point: 0,
                why: "rows.csv does not match its checksum".into()
            },
            Note::Resumed { resumed: 1, of: 4 }
        ]
    );
    let redone: Vec<(usize, usize)> = notes[2..]
        .iter()
        .map(|n| match n {
            Note::PointDone { point, done, .. } => (*point, *done),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(redone, [(0, 2), (2, 3), (3, 4)]);
    for f in FILES {
        assert_eq!(read(whole.path(), f), read(dir.path(), f), "{f}");
    }
    assert!(!points.exists(), "checkpoints are removed once assembled");
}

/// The paired comparison seeders=1 vs 2 (thesis-code variant: points 0 and 2) equals a hand
/// computation from rows.csv: per replicate the mean completion of its leechers, the
/// differences, their mean ± t(0.975, 2)·sd/√3, and the two-sided p-value from the closed-form
/// t CDF with 2 degrees of freedom, F(t) = 1/2 + t / (2·sqrt(2 + t²)).
#[test]
fn paired_comparison_matches_a_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    run_in(2, None, dir.path());
    let mut per_rep = [[0.0f64; 3]; 2];
    let mut rows = csv::Reader::from_path(dir.path().join("rows.csv")).unwrap();
    let h = rows.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (mut sums, mut counts) = ([[0.0f64; 3]; 2], [[0u32; 3]; 2]);
    for rec in rows.records() {
        let rec = rec.unwrap();
        let side = match &rec[col("point")] {
            "0" => 0,
            "2" => 1,
            _ => continue,
        };
        if &rec[col("role")] == "leecher" {
            let r: usize = rec[col("replicate")].parse().unwrap();
            sums[side][r] += rec[col("completion_s")].parse::<f64>().unwrap();
            counts[side][r] += 1;
        }
    }
    for s in 0..2 {
        for r in 0..3 {
            per_rep[s][r] = sums[s][r] / f64::from(counts[s][r]);
        }
    }
    let d: Vec<f64> = (0..3).map(|r| per_rep[1][r] - per_rep[0][r]).collect();
    let mean = d.iter().sum::<f64>() / 3.0;
    let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    let se = sd / 3f64.sqrt();
    let half = 4.302_652_730 * se;
    let t = mean / se;
    let p = 1.0 - t.abs() / (2.0 + t * t).sqrt();

    let text = read(dir.path(), "comparisons.csv");
    let line = text
        .lines()
        .find(|l| l.starts_with("0,2,") && l.contains(",mean_completion_s,"))
        .unwrap_or_else(|| panic!("no 0 vs 2 mean completion line in\n{text}"));
    let cells: Vec<&str> = line.split(',').collect();
    assert_eq!(
        &cells[..6],
        [
            "0",
            "2",
            "seeders=1 variant=thesis-code",
            "seeders=2 variant=thesis-code",
            "mean_completion_s",
            "3"
        ]
    );
    let num = |i: usize| cells[i].parse::<f64>().unwrap();
    let want = [
        per_rep[0].iter().sum::<f64>() / 3.0,
        per_rep[1].iter().sum::<f64>() / 3.0,
        mean,
        mean - half,
        mean + half,
        t,
    ];
    for (i, w) in want.iter().enumerate() {
        // Three decimals in the file; rows.csv's own rounding moves means by < 0.0005.
        assert!(
            (num(6 + i) - w).abs() <= 0.0015,
            "column {}: {} vs {w}",
            6 + i,
            cells[6 + i]
        );
    }
    assert!((num(12) - p).abs() <= 2e-6, "p {} vs {p}", cells[12]);
    // Four statistics per pair of points, two pairs (one per variant).
    assert_eq!(text.lines().count(), 1 + 2 * 4);
}
