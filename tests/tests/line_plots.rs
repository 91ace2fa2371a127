//! `sim plot line` and `heatmap` on a sweep's summary.csv: one line per `--by` value with a
//! whisker per point from the column's own CI columns, numeric x sorted by value (sizes and
//! rates by what they mean), axes that must be swept keys, refused by name otherwise.

mod common;

use common::{count, sim_plot};
use tempfile::TempDir;

const BLUE: &str = "#0072B2";
const ORANGE: &str = "#E69F00";

/// A summary.csv as `sim sweep` writes it: upload (a rate, listed out of numeric order) ×
/// incentive, the plain point at 1MB/s without a ρ (one replicate finished). Returns the
/// folder, the input path and an output path `fig.svg`.
fn summary() -> (TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let csv = "point,upload,incentive,replicates,incomplete_nodes,mean_completion_s,\
        std_completion_s,ci95_low_s,ci95_high_s,median_of_means_s,mean_total_completion_s,\
        rho_mean,rho_ci95_low,rho_ci95_high\n\
        0,500KB/s,none,5,0,300,1,290,310,300,3000,0.1,-0.1,0.3\n\
        1,500KB/s,seniority,5,0,400,1,380,420,400,4000,-0.5,-0.7,-0.3\n\
        2,100KB/s,none,5,0,900,1,850,950,900,9000,0.0,-0.2,0.2\n\
        3,100KB/s,seniority,5,0,1200,1,1100,1300,1200,12000,-0.6,-0.8,-0.4\n\
        4,1MB/s,none,5,0,200,1,195,205,200,2000,,,\n\
        5,1MB/s,seniority,5,0,250,1,240,260,250,2500,-0.4,-0.6,-0.2\n";
    let input = dir.path().join("summary.csv");
    std::fs::write(&input, csv).unwrap();
    let text = |p: std::path::PathBuf| p.to_str().unwrap().to_string();
    let (i, o) = (text(input), text(dir.path().join("fig.svg")));
    (dir, i, o)
}

/// x pixels of the longest polyline of `colour` (the series line, not its legend sample).
fn vertices(svg: &str, colour: &str) -> Vec<i64> {
    svg.split("<polyline ")
        .skip(1)
        .map(|el| &el[..el.find('>').unwrap()])
        .filter(|el| el.contains(colour))
        .map(|el| {
            let at = el.find("points=\"").unwrap() + 8;
            el[at..at + el[at..].find('"').unwrap()]
                .split_whitespace()
                .map(|p| p.split_once(',').unwrap().0.parse().unwrap())
                .collect::<Vec<i64>>()
        })
        .max_by_key(Vec::len)
        .unwrap()
}

#[test]
fn one_line_per_series_with_a_whisker_per_point() {
    let (_dir, i, o) = summary();
    let (i, o) = (i.as_str(), o.as_str());
    sim_plot(&["line", i, "--x", "upload", "--by", "incentive", "-o", o]).unwrap();
    let svg = std::fs::read_to_string(o).unwrap();
    for colour in [BLUE, ORANGE] {
        // Line and legend sample; three whiskers of three lines each.
        assert_eq!(count(&svg, "polyline", colour), 2, "{colour}");
        assert_eq!(count(&svg, "line", colour), 9, "{colour}");
    }
    assert!(svg.contains("incentive = none") && svg.contains("incentive = seniority"));
    assert!(svg.contains("summary.csv: mean_completion_s vs upload, 95% CI"));
    // x is the rate in bytes/s (SI: KB = 1000 B): 100KB/s, 500KB/s, 1MB/s spaced 400 : 500.
    let xs = vertices(&svg, BLUE);
    let (d1, d2) = ((xs[1] - xs[0]) as f64, (xs[2] - xs[1]) as f64);
    assert!((d1 / d2 - 400.0 / 500.0).abs() < 0.02, "{xs:?}");

    // ρ pairs with rho_ci95_low/high; the plain point without a ρ has no whisker (and no
    // marker: a gap, not a zero).
    sim_plot(&[
        "line",
        i,
        "--x",
        "upload",
        "--y",
        "rho_mean",
        "--by",
        "incentive",
        "-o",
        o,
    ])
    .unwrap();
    let svg = std::fs::read_to_string(o).unwrap();
    assert_eq!(count(&svg, "line", BLUE), 6);
    assert_eq!(count(&svg, "line", ORANGE), 9);
}

#[test]
fn axes_must_be_swept_keys() {
    let (_dir, i, o) = summary();
    let (i, o) = (i.as_str(), o.as_str());
    let e = sim_plot(&["heatmap", i, "--x", "upload", "--y", "rho_mean", "-o", o]).unwrap_err();
    assert_eq!(
        e,
        "--y rho_mean: not a swept key; the sweep varied upload, incentive"
    );
    let e = sim_plot(&["line", i, "--x", "mean_completion_s", "-o", o]).unwrap_err();
    assert_eq!(
        e,
        "--x mean_completion_s: not a swept key; the sweep varied upload, incentive"
    );
    // Without --by the two incentives would be one line through six points.
    let e = sim_plot(&["line", i, "--x", "upload", "-o", o]).unwrap_err();
    assert!(
        e.contains("where `incentive` (none, seniority) varies"),
        "{e}"
    );
    let e = sim_plot(&[
        "line",
        i,
        "--x",
        "upload",
        "--by",
        "incentive",
        "--ref",
        "bound",
        "-o",
        o,
    ])
    .unwrap_err();
    assert!(
        e.starts_with("--ref bound: the file has no `kumar_ross_s` column"),
        "{e}"
    );
    assert!(!std::path::Path::new(o).exists());
}

#[test]
fn heatmap_cells_note_their_ci() {
    let (_dir, i, o) = summary();
    let (i, o) = (i.as_str(), o.as_str());
    sim_plot(&["heatmap", i, "--x", "upload", "--y", "incentive", "-o", o]).unwrap();
    let svg = std::fs::read_to_string(o).unwrap();
    // (950 − 850) / 2 and (1300 − 1100) / 2: the half-widths of the 100KB/s cells.
    assert!(svg.contains("±50.0"), "±50.0 missing");
    assert!(svg.contains("±100.0"), "±100.0 missing");
}
