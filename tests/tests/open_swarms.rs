//! Open swarms (issue #14): arrivals, seeding times and aborts — snapshots, bookkeeping that
//! must add up, determinism in sweeps, and a small grid against the Qiu–Srikant fluid model.

mod common;

use std::path::Path;

use sim::fluid_grid::{Grid, Regime};
use sim::scenario::Role;
use sim::sweep::{merge, Plan, Shard, Vary};

/// The shipped open scenarios, as `common::load` names them.
const OPEN: &[&str] = &["open/fluid-upload", "open/fluid-download"];

/// A short window of an open scenario: snapshots and bookkeeping checks stay fast.
const SHORT: &[&str] = &["max_time=150s", "group.2.arrivals.rate=0.5"];

fn series_text(r: &sim::RunResult) -> String {
    let dir = tempfile::tempdir().unwrap();
    r.write(dir.path()).unwrap();
    std::fs::read_to_string(dir.path().join("series.csv")).unwrap()
}

#[test]
fn open_scenarios_match_their_snapshots() {
    for name in OPEN {
        let r = sim::run(&common::load(name, SHORT));
        let file = name.replace('/', "_");
        insta::assert_snapshot!(format!("results_{file}_short"), common::csv_text(&r));
        insta::assert_snapshot!(format!("series_{file}_short"), series_text(&r));
    }
}

/// Every leecher that arrived is downloading, finished or gave up, at every point; seeds are
/// finished leechers still online; an aborted leecher left unfinished at its drawn time.
#[test]
fn every_arrival_is_accounted_for() {
    let sc = common::load(
        "open/fluid-upload",
        &["max_time=300s", "group.2.abort={ mean = \"40s\" }"],
    );
    let r = sim::run(&sc);
    assert_eq!(
        r.stats.sim_time_s, 300.0,
        "an open run lasts until max_time"
    );
    for p in &r.series {
        assert_eq!(p.arrived, p.completed + p.aborted + p.leechers, "{p:?}");
        assert!(p.seeds <= p.completed, "{p:?}");
        assert_eq!(p.seeders, 1, "the origin seed stays");
    }
    let last = r.series.last().unwrap();
    assert!(last.aborted > 10, "{last:?}");
    let gave_up = r
        .nodes
        .iter()
        .filter(|n| n.role == Role::Leecher && n.left_s.is_some() && n.completion_s.is_none())
        .count();
    assert_eq!(gave_up as u32, last.aborted);
    let total_up: u64 = r.nodes.iter().map(|n| n.bytes_up).sum();
    let series_up: f64 = r.series.iter().map(|p| p.upload_bps * 10.0).sum();
    assert!(
        (series_up - total_up as f64).abs() <= 1.0,
        "{series_up} vs {total_up}"
    );
}

#[test]
fn a_seeders_leave_is_its_seeding_time() {
    let sc = common::load(
        "open/fluid-download",
        &["max_time=100s", "group.1.leave=60s"],
    );
    let r = sim::run(&sc);
    assert_eq!(r.nodes[0].role, Role::Seeder);
    assert_eq!(r.nodes[0].left_s, Some(60.0));
    assert!(r
        .series
        .iter()
        .all(|p| p.seeders == u32::from(p.time_s < 60.0)));
}

fn plan() -> Plan {
    Plan {
        scenario: common::scenarios_dir().join("open/fluid-upload.toml"),
        replicates: 2,
        varies: vec![Vary::parse("group.2.arrivals.rate=0.25,0.5").unwrap()],
        set: vec!["max_time=120s".into()],
        compare: vec![],
        progress: false,
    }
}

fn sweep_in(threads: usize, shard: Option<Shard>, out: &Path) {
    common::run_sweep(&plan(), threads, shard, out);
}

/// Poisson arrivals and exponential times come from seeded streams: a sweep writes the same
/// bytes at -j1 and -j4, and its shards merge into the whole.
#[test]
fn open_sweeps_are_deterministic_and_shard_cleanly() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    sweep_in(1, None, dirs[0].path());
    sweep_in(4, None, dirs[1].path());
    for (i, d) in dirs[2..].iter().enumerate() {
        sweep_in(2, Some(format!("{i}/2").parse().unwrap()), d.path());
    }
    let merged = tempfile::tempdir().unwrap();
    let shards: Vec<_> = dirs[2..].iter().map(|d| d.path().to_path_buf()).collect();
    merge(merged.path(), &shards).unwrap();
    for f in ["rows.csv", "summary.csv"] {
        let whole = std::fs::read_to_string(dirs[0].path().join(f)).unwrap();
        for other in [dirs[1].path(), merged.path()] {
            assert_eq!(
                whole,
                std::fs::read_to_string(other.join(f)).unwrap(),
                "{f}"
            );
        }
    }
}

/// A small version of `sim fluid`: the download-bound regime, 2 × 2 points, with a 2 MiB file
/// and a shorter run to stay fast. The model's steady state (ȳ = λ/γ, T = 1/c = 64 s, x̄ = λT)
/// holds within 20% (the full grid is in the README).
#[test]
fn a_small_grid_agrees_with_the_fluid_model() {
    let grid = Grid {
        regimes: vec![Regime {
            scenario: common::scenarios_dir().join("open/fluid-download.toml"),
            seeding_s: vec![16.0, 32.0],
        }],
        rates: vec![0.5, 1.0],
        warmup_s: 200.0,
        sets: vec!["max_time=600s".into(), "torrent.size=2MiB".into()],
    };
    let rows = sim::fluid_grid::run(&grid).unwrap();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert_eq!(r.bound, "download");
        assert_eq!(r.t_model, 64.0);
        assert!((r.y_model - r.lambda * r.seeding_s).abs() < 1e-9);
        assert!(r.worst_error() < 0.2, "{r:?}");
        assert_eq!(r.unfinished, 0, "{r:?}");
    }
}

/// `sim plot series` draws the three populations of a run's series.csv, named in its legend.
#[test]
fn series_plot_names_its_populations() {
    let r = sim::run(&common::load("open/fluid-upload", SHORT));
    let dir = tempfile::tempdir().unwrap();
    r.write(dir.path()).unwrap();
    let svg = dir.path().join("series.svg");
    common::sim_plot(&[
        "series",
        dir.path().join("series.csv").to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ])
    .unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    for name in ["leechers", "seeds (finished leechers)", "origin seeders"] {
        assert!(text.contains(name), "{name} missing");
    }
    let e = common::sim_plot(&[
        "series",
        dir.path().join("results.csv").to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ])
    .unwrap_err();
    assert!(e.contains("time_s"), "{e}");
}
