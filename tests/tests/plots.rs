//! `sim plot bars` (and `cdf`) on the files the simulator writes: a sweep's mixed points are
//! refused by name, `--where` keeps exactly the rows asked for, `--facet` draws one figure per value, and
//! several replicates give every bar a CI whisker. Checked on the SVG's elements.

mod common;

use std::path::Path;

use common::sim_plot;
use sim::sweep::{Plan, Vary};

/// The whisker colour of `reports::plot::WHISKER` and the first palette colour, as the SVG
/// spells them.
const WHISKER: &str = "#282828";
const BLUE: &str = "#0072B2";

/// (y, height) of every rect filled with `fill`.
fn rects(svg: &str, fill: &str) -> Vec<(i64, i64)> {
    let num = |el: &str, name: &str| -> i64 {
        let at = el.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        el[at..at + el[at..].find('"').unwrap()].parse().unwrap()
    };
    svg.split("<rect")
        .skip(1)
        .map(|el| &el[..el.find('>').unwrap()])
        .filter(|el| el.contains(&format!("fill=\"{fill}\"")))
        .map(|el| (num(el, "y"), num(el, "height")))
        .collect()
}

fn whiskers(svg: &str) -> usize {
    svg.matches(&format!("stroke=\"{WHISKER}\"")).count()
}

fn svg(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Two sweep points (`seeders` 1 and 2) × two replicates of three nodes: a seeder and two
/// leechers whose order flips between the points. At seeders=2 leecher 2 takes 300 s and
/// 330 s, leecher 3 100 s and 110 s: each 50% off its run's mean, in opposite directions.
fn made_up_rows(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from(
        "point,seeders,replicate,seed,node,role,online_days,node_incentive,upload,download,\
         join_s,completion_s,bytes_up,bytes_down\n",
    );
    for (point, (fast, slow)) in [(2, 3), (3, 2)].into_iter().enumerate() {
        for r in 0..2 {
            let scale = 1.0 + 0.1 * f64::from(r);
            let seeders = point + 1;
            csv += &format!("{point},{seeders},{r},{r},1,seeder,0,none,1,1,0,,0,0\n");
            for (node, t) in [(fast, 100.0), (slow, 300.0)] {
                let days = node - 1;
                let t = t * scale;
                csv += &format!(
                    "{point},{seeders},{r},{r},{node},leecher,{days},none,1,1,0,{t},0,0\n"
                );
            }
        }
    }
    let path = dir.join("rows.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn where_keeps_exactly_the_matching_rows() {
    let dir = tempfile::tempdir().unwrap();
    let rows = made_up_rows(dir.path());
    let rows = rows.to_str().unwrap();
    let out = dir.path().join("abs.svg");
    let o = out.to_str().unwrap();
    sim_plot(&["bars", rows, "--where", "seeders=2", "-o", o]).unwrap();
    let s = svg(&out);
    // Leecher 2 (1 day, drawn first) at seeders=2 averages 315 s, leecher 3 105 s: bars from
    // zero three to one. The other point's rows would flip them.
    let bars = rects(&s, BLUE);
    assert_eq!(bars.len(), 2, "{bars:?}");
    let ratio = bars[0].1 as f64 / bars[1].1 as f64;
    assert!((ratio - 3.0).abs() < 0.05, "heights {bars:?}");
    assert!(s.contains("rows.csv [seeders=2]: completion per node, mean of 2 runs, 95% CI"));

    // Relative to each run's mean both are exactly 50% off: equal bars either side of zero,
    // and whiskers of zero length (3 polylines per bar, all horizontal at the bar's end).
    let out = dir.path().join("rel.svg");
    let o = out.to_str().unwrap();
    sim_plot(&["bars", rows, "--where", "seeders=2", "--relative", "-o", o]).unwrap();
    let s = svg(&out);
    let bars = rects(&s, BLUE);
    let ((y2, h2), (y3, h3)) = (bars[0], bars[1]);
    assert_eq!(
        y2 + h2,
        y3,
        "leecher 2 stands on the zero line leecher 3 hangs from"
    );
    assert!((h2 - h3).abs() <= 1, "{bars:?}");
    assert_eq!(whiskers(&s), 2 * 3);
    assert!(s.contains("completion_s, % vs swarm mean"));

    // A value no row has, and a column that does not exist, are errors naming what there is.
    let e = sim_plot(&["bars", rows, "--where", "seeders=3", "-o", o]).unwrap_err();
    assert_eq!(e, "--where seeders=3: no row has it (`seeders` has: 1, 2)");
    let e = sim_plot(&["cdf", rows, "--relative", "-o", o]).unwrap_err();
    assert_eq!(e, "--relative, --ymin and --ymax apply to bars only");
    let e = sim_plot(&["bars", rows, "--where", "leechers=3", "-o", o]).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("no column `leechers` (columns: point, seeders, "));
}

#[test]
fn facet_draws_one_figure_per_value() {
    let dir = tempfile::tempdir().unwrap();
    let rows = made_up_rows(dir.path());
    let out = dir.path().join("f.svg");
    sim_plot(&[
        "bars",
        rows.to_str().unwrap(),
        "--facet",
        "seeders",
        "--relative",
        "-o",
        out.to_str().unwrap(),
    ])
    .unwrap();
    assert!(!out.exists());
    // Leecher 2 is ahead (below zero) at seeders=1 and behind at seeders=2.
    for (value, first_below) in [("1", true), ("2", false)] {
        let s = svg(&dir.path().join(format!("f.seeders-{value}.svg")));
        let bars = rects(&s, BLUE);
        assert_eq!(bars.len(), 2);
        assert_eq!(
            bars[0].0 > bars[1].0,
            first_below,
            "seeders={value}: {bars:?}"
        );
        assert!(s.contains(&format!("rows.csv [seeders={value}]")));
    }
}

/// `--by COLUMN`: one bar per value, coloured and named in a legend.
#[test]
fn by_draws_one_bar_per_class() {
    let dir = tempfile::tempdir().unwrap();
    let rows = made_up_rows(dir.path());
    let out = dir.path().join("by.svg");
    let args = [
        "--where",
        "seeders=2",
        "--by",
        "online_days",
        "--relative",
        "-o",
    ];
    let mut argv = vec!["bars", rows.to_str().unwrap()];
    argv.extend(args);
    argv.push(out.to_str().unwrap());
    sim_plot(&argv).unwrap();
    let s = svg(&out);
    // Class "1" (leecher 2, +50%) in the first colour, class "2" (-50%) in the second; each
    // colour's other rect is its legend swatch.
    let (first, second) = (rects(&s, BLUE), rects(&s, "#E69F00"));
    assert_eq!((first.len(), second.len()), (2, 2));
    assert_eq!(
        first[0].0 + first[0].1,
        second[0].0,
        "+50% stands on the zero line -50% hangs from"
    );
    assert!(s.contains("completion per online_days vs swarm mean"));
}

/// A real sweep's rows.csv: bars over both points are refused naming the swept key; one
/// point, chosen with --where, plots with a whisker on every leecher's bar.
#[test]
fn mixed_sweep_points_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan {
        scenario: common::scenarios_dir().join("g1t2.toml"),
        replicates: 2,
        varies: vec![Vary::parse("seeders=1,2").unwrap()],
        set: vec!["torrent.size=2MiB".into()],
        compare: vec![],
        progress: false,
    };
    let opts = sim::sweep::Options {
        resume: false,
        runs: &|_, _| {},
        note: &mut |_| {},
    };
    sim::sweep::run(&plan, None, dir.path(), opts).unwrap();
    let rows = dir.path().join("rows.csv");
    let rows = rows.to_str().unwrap();
    let out = dir.path().join("bars.svg");
    let o = out.to_str().unwrap();
    let e = sim_plot(&["bars", rows, "-o", o]).unwrap_err();
    assert!(
        e.starts_with("the file holds 2 sweep points where `seeders` (1, 2) varies;"),
        "{e}"
    );
    assert!(!out.exists());
    // A CDF may split by the swept key, not mix its values.
    let e = sim_plot(&["cdf", rows, "-o", o]).unwrap_err();
    assert!(e.contains("where `seeders` (1, 2) varies;"), "{e}");
    sim_plot(&["cdf", rows, "--by", "seeders", "-o", o]).unwrap();
    let s = svg(&out);
    assert_eq!(
        s.matches("stroke=\"#0072B2\"").count(),
        2,
        "line and legend of seeders=1"
    );
    // Legends name the column, in numeric order.
    let (one, two) = (s.find("seeders = 1"), s.find("seeders = 2"));
    assert!(one.is_some() && two.is_some() && one < two, "legends: {s}");
    sim_plot(&["bars", rows, "--where", "seeders=2", "-o", o]).unwrap();
    let s = svg(&out);
    // g1t2 keeps 20 nodes: 18 leechers at seeders=2, all finishing in both replicates.
    assert_eq!(rects(&s, BLUE).len(), 18);
    assert_eq!(whiskers(&s), 18 * 3);
}

/// `sim run --replicates` output (replicates.csv, one seed per run) gets CIs too.
#[test]
fn replicates_give_every_bar_a_whisker() {
    let dir = tempfile::tempdir().unwrap();
    let sc = common::load("g1t1", &["torrent.size=2MiB"]);
    let runs = sim::replicate::run_replicates(&sc, 3);
    sim::replicate::write_replicates(&runs, dir.path()).unwrap();
    let leechers = runs[0]
        .nodes
        .iter()
        .filter(|n| n.completion_s.is_some())
        .count();
    let out = dir.path().join("rep.svg");
    let input = dir.path().join("replicates.csv");
    sim_plot(&[
        "bars",
        input.to_str().unwrap(),
        "--relative",
        "-o",
        out.to_str().unwrap(),
    ])
    .unwrap();
    let s = svg(&out);
    assert!(leechers > 10);
    assert_eq!(rects(&s, BLUE).len(), leechers);
    assert_eq!(whiskers(&s), leechers * 3);
    assert!(s.contains("g1t1 (replicates.csv): completion per node vs swarm mean, mean of 3 runs"));
}
