//! `sim plot scatter` and `sim plot box` on files shaped as the simulator writes them: one
//! marker per finished leecher and one trend per `--by` series with ρ in the legend, one box
//! per class in numeric order, and a sweep's mixed points refused by name.

mod common;

use common::{count, sim_plot};

const BLUE: &str = "#0072B2";
const ORANGE: &str = "#E69F00";

/// A rows.csv of two sweep points (`seeders` 1, 2), one replicate each: a seeder, and five
/// leechers per point of upload class 100 (days 1..=3, one unfinished) or 20 (days 4, 5).
/// At seeders=1 completion falls with days by 10 s/day; upload classes sort 20 < 100 by
/// number, though "100" < "20" as text.
fn rows(dir: &std::path::Path) -> String {
    let mut csv =
        String::from("point,seeders,replicate,node,role,online_days,upload_class,completion_s\n");
    for p in 0..2 {
        let s = p + 1;
        csv += &format!("{p},{s},0,1,seeder,0,100,\n");
        for (node, class, done) in [
            (2, 100, "90"),
            (3, 100, "80"),
            (4, 100, ""),
            (5, 20, "60"),
            (6, 20, "50"),
        ] {
            csv += &format!("{p},{s},0,{node},leecher,{},{class},{done}\n", node - 1);
        }
    }
    let path = dir.join("rows.csv");
    std::fs::write(&path, csv).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn scatter_marks_every_finished_leecher_with_a_trend_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(dir.path());
    let out = dir.path().join("s.svg");
    let o = out.to_str().unwrap();
    let e = sim_plot(&["scatter", &rows, "-o", o]).unwrap_err();
    assert!(
        e.contains("2 sweep points where `seeders` (1, 2) varies;"),
        "{e}"
    );
    let e = sim_plot(&["box", &rows, "--by", "upload_class", "-o", o]).unwrap_err();
    assert!(e.contains("`seeders` (1, 2) varies;"), "{e}");
    assert!(!out.exists());

    sim_plot(&["scatter", &rows, "--where", "seeders=1", "-o", o]).unwrap();
    let svg = std::fs::read_to_string(&out).unwrap();
    // Four finished leechers, one series: its trend plus the legend sample.
    assert_eq!(count(&svg, "circle", BLUE), 4);
    assert_eq!(count(&svg, "polyline", BLUE), 2);
    // x = 1, 2, 4, 5 (mean 3), y = 90, 80, 60, 50 (mean 70): sxy = -100, sxx = 10.
    assert!(
        svg.contains("leechers (n=4, ρ=-1.00, slope=-10.0 s/day)"),
        "{svg}"
    );

    // By class: one trend per class; two points give a slope but no ρ (it needs three).
    sim_plot(&[
        "scatter",
        &rows,
        "--where",
        "seeders=2",
        "--by",
        "upload_class",
        "-o",
        o,
    ])
    .unwrap();
    let svg = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        count(&svg, "circle", BLUE) + count(&svg, "circle", ORANGE),
        4
    );
    assert_eq!(count(&svg, "polyline", ORANGE), 2);
    for entry in [
        "100 (n=2, ρ=n/a, slope=-10.0",
        "20 (n=2, ρ=n/a, slope=-10.0",
    ] {
        assert!(
            svg.contains(&format!("upload_class = {entry} s/day)")),
            "{entry}"
        );
    }
}

#[test]
fn box_draws_one_box_per_class_in_numeric_order() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(dir.path());
    let out = dir.path().join("b.svg");
    let o = out.to_str().unwrap();
    let e = sim_plot(&["box", &rows, "--where", "seeders=1", "-o", o]).unwrap_err();
    assert!(e.starts_with("box needs --by COLUMN"), "{e}");
    sim_plot(&[
        "box",
        &rows,
        "--where",
        "seeders=1",
        "--by",
        "upload_class",
        "-o",
        o,
    ])
    .unwrap();
    let svg = std::fs::read_to_string(&out).unwrap();
    // Class 20 first (blue), then 100 (orange): a filled box and its edge each.
    assert_eq!(count(&svg, "rect", BLUE), 2);
    assert_eq!(count(&svg, "rect", ORANGE), 2);
    let texts: Vec<&str> = svg
        .split("<text ")
        .skip(1)
        .map(|el| el[el.find('>').unwrap() + 1..el.find("</text>").unwrap()].trim())
        .collect();
    let at = |t: &str| texts.iter().position(|x| *x == t).unwrap();
    assert!(at("20") < at("100"), "class 20 must come first: {texts:?}");
}
