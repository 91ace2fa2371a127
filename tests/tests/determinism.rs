//! Same scenario and seed ⇒ byte-identical output, run to run and at any thread count.

mod common;

use std::fs;

fn files_of(r: &sim::RunResult) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    r.write(dir.path()).unwrap();
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let bytes = fs::read(dir.path().join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

#[test]
fn two_runs_write_identical_files() {
    // The zoo's driver-level adversaries add events (identity changes) and streams.
    for name in ["g1t2", "zoo/whitewash-tft", "zoo/large-view-ci"] {
        let sc = common::load(name, &[]);
        let a = files_of(&sim::run(&sc));
        let b = files_of(&sim::run(&sc));
        assert_eq!(
            a.len(),
            6,
            "results, pairs, policies, progress, run.json, resolved scenario"
        );
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn progress_reports_add_up_and_change_nothing() {
    let sc = common::load("g1t2", &[]);
    let seen = std::sync::atomic::AtomicU64::new(0);
    let calls = std::sync::atomic::AtomicU64::new(0);
    let r = sim::run_observed(&sc, &|b| {
        seen.fetch_add(b, std::sync::atomic::Ordering::Relaxed);
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    let down: u64 = r.nodes.iter().map(|n| n.bytes_down).sum();
    assert_eq!(seen.into_inner(), down);
    assert!(calls.into_inner() > 1, "reported only at the end");
    assert_eq!(files_of(&r), files_of(&sim::run(&sc)));
}

#[test]
fn replicates_do_not_depend_on_thread_count() {
    let sc = common::load("g3t2", &[]);
    let run_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| sim::replicate::run_replicates(&sc, 6))
            .iter()
            .map(common::csv_text)
            .collect::<Vec<_>>()
    };
    let one = run_with(1);
    assert_eq!(one, run_with(4));
    // Replicates really differ from one another.
    assert_ne!(one[0], one[1]);
}

#[test]
fn seed_changes_results_and_is_recorded() {
    let a = sim::run(&common::load("g4t2", &[]));
    let b = sim::run(&common::load("g4t2", &["seed=99"]));
    assert_ne!(common::csv_text(&a), common::csv_text(&b));
    assert!(b.scenario.to_toml().contains("seed = 99"));
}
