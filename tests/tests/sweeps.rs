//! Sweeps: pinned summary, identical bytes at any thread count, and merge(shards) == whole.

mod common;

use std::path::Path;

use sim::sweep::{merge, run, Plan, Shard, Vary};

fn plan() -> Plan {
    Plan {
        scenario: common::scenarios_dir().join("g1t2.toml"),
        replicates: 3,
        varies: vec![
            Vary::parse("seeders=1,2").unwrap(),
            Vary::parse("variant=thesis-code,work-conserving").unwrap(),
        ],
        set: vec!["torrent.size=2MiB".into()],
    }
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

fn run_in(threads: usize, shard: Option<Shard>, out: &Path) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| run(&plan(), shard, out, &|_, _| {}))
        .unwrap();
}

#[test]
fn sweep_output_is_pinned_and_thread_count_independent() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_in(1, None, a.path());
    run_in(4, None, b.path());
    for f in ["rows.csv", "summary.csv", "sweep.json"] {
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
    for f in ["rows.csv", "summary.csv", "sweep.json"] {
        assert_eq!(read(whole.path(), f), read(merged.path(), f), "{f}");
    }
    // An incomplete set of shards is refused, naming what it got.
    let e = merge(merged.path(), &dirs[..2]).unwrap_err().to_string();
    assert!(e.contains("expected the 2 shards i/2 of one sweep"), "{e}");
}
