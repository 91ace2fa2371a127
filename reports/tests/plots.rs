//! Writes every plot type as PNG and SVG and checks the files are well formed.
//! Set `REPORTS_PLOT_PREVIEW=<dir>` to keep copies of the PNGs for eyeballing.

use std::path::{Path, PathBuf};

use reports::plot::{self, Bar, DEFAULT_SIZE};

/// Decodes the PNG fully and returns its (width, height).
fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info.width, info.height)
}

/// Checks both outputs of one figure and optionally keeps the PNG.
fn check(dir: &Path, stem: &str) {
    let png = dir.join(format!("{stem}.png"));
    assert_eq!(png_size(&png), DEFAULT_SIZE, "{stem}.png");
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
    assert!(svg.contains("<svg"), "{stem}.svg");
    assert!(svg.contains("</svg>"), "{stem}.svg");
    if let Some(keep) = std::env::var_os("REPORTS_PLOT_PREVIEW") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&png, keep.join(format!("{stem}.png"))).unwrap();
    }
}

fn both(dir: &Path, stem: &str, draw: impl Fn(PathBuf) -> anyhow::Result<()>) {
    for ext in ["png", "svg"] {
        draw(dir.join(format!("{stem}.{ext}"))).unwrap();
    }
    check(dir, stem);
}

fn bars() -> Vec<Bar> {
    (0..12)
        .map(|i| {
            let value = 40.0 + 7.5 * f64::from(i) + if i % 3 == 0 { 10.0 } else { 0.0 };
            Bar {
                label: format!("n{i}"),
                value: if i < 2 { 0.0 } else { value },
                err_low: (i >= 2).then_some(value - 6.0),
                err_high: (i >= 2).then_some(value + 4.0),
                group: usize::from(i >= 2),
            }
        })
        .collect()
}

#[test]
fn per_node_bars_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    both(dir.path(), "bars", |p| {
        plot::per_node_bars(
            p,
            "Completion time per node (mean of 20 seeds, 95% CI)",
            &bars(),
            "completion time (s)",
            &["seeders", "leechers"],
        )
    });
}

#[test]
fn many_node_bars_thin_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let many: Vec<Bar> = (0..80)
        .map(|i| Bar {
            label: format!("peer-{i}"),
            value: f64::from(i % 17) + 1.0,
            err_low: None,
            err_high: None,
            group: i as usize % 3,
        })
        .collect();
    both(dir.path(), "many_bars", |p| {
        plot::per_node_bars(p, "80 nodes", &many, "upload (MiB)", &["a", "b"])
    });
}

#[test]
fn cdf_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let series = vec![
        (
            "tit-for-tat on".to_string(),
            (0..40).map(|i| 30.0 + f64::from(i * i) * 0.05).collect(),
        ),
        (
            "tit-for-tat off".to_string(),
            (0..40)
                .map(|i| {
                    if i > 35 {
                        f64::INFINITY
                    } else {
                        45.0 + f64::from(i) * 2.0
                    }
                })
                .collect(),
        ),
    ];
    both(dir.path(), "cdf", |p| {
        plot::cdf(p, "Completion-time CDF", &series, "completion time (s)")
    });
}

#[test]
fn lines_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let logistic = |k: f64, t0: f64| -> Vec<(f64, f64)> {
        (0..=100)
            .map(|t| {
                let t = f64::from(t);
                (t, 100.0 / (1.0 + (-(t - t0) * k).exp()))
            })
            .collect()
    };
    let series = vec![
        ("rarest-first".to_string(), logistic(0.12, 40.0)),
        ("random".to_string(), logistic(0.08, 55.0)),
        ("sequential".to_string(), logistic(0.06, 65.0)),
    ];
    both(dir.path(), "lines", |p| {
        plot::lines(
            p,
            "Swarm progress",
            &series,
            "time (s)",
            "pieces held (% of swarm total)",
        )
    });
}

#[test]
fn heatmap_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let xs: Vec<String> = [1, 2, 4, 8, 16].iter().map(|u| format!("{u}")).collect();
    let ys: Vec<String> = ["10%", "25%", "50%", "75%"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let values: Vec<Vec<f64>> = (0..ys.len())
        .map(|j| {
            (0..xs.len())
                .map(|i| {
                    if (i, j) == (4, 3) {
                        f64::NAN
                    } else {
                        250.0 / (1.0 + i as f64) + 30.0 * j as f64
                    }
                })
                .collect()
        })
        .collect();
    both(dir.path(), "heatmap", |p| {
        plot::heatmap(
            p,
            "Mean completion time",
            &xs,
            &ys,
            &values,
            "upload slots per peer",
            "free-rider share",
            "completion time (s)",
        )
    });
}

#[test]
fn degenerate_inputs_still_plot() {
    let dir = tempfile::tempdir().unwrap();
    both(dir.path(), "empty_bars", |p| {
        plot::per_node_bars(p, "none", &[], "y", &[])
    });
    let one_bar = Bar {
        label: "only".to_string(),
        value: 3.0,
        err_low: Some(2.5),
        err_high: None,
        group: 0,
    };
    both(dir.path(), "one_bar", |p| {
        plot::per_node_bars(p, "one", std::slice::from_ref(&one_bar), "y", &[])
    });
    both(dir.path(), "empty_cdf", |p| plot::cdf(p, "none", &[], "x"));
    let flat = vec![("flat".to_string(), vec![(1.0, 2.0), (f64::NAN, 1.0)])];
    both(dir.path(), "flat_lines", |p| {
        plot::lines(p, "flat", &flat, "x", "y")
    });
    let one = vec![vec![f64::NAN]];
    let lbl = vec!["a".to_string()];
    both(dir.path(), "nan_heatmap", |p| {
        plot::heatmap(p, "nan", &lbl, &lbl, &one, "x", "y", "v")
    });
}

#[test]
fn bad_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(plot::cdf(dir.path().join("x.jpg"), "t", &[], "x").is_err());
    let lbl = vec!["a".to_string()];
    let ragged = vec![vec![1.0, 2.0]];
    assert!(plot::heatmap(
        dir.path().join("h.png"),
        "t",
        &lbl,
        &lbl,
        &ragged,
        "x",
        "y",
        "v"
    )
    .is_err());
    assert!(plot::heatmap(dir.path().join("h.png"), "t", &[], &[], &[], "x", "y", "v").is_err());
}

#[test]
fn output_is_byte_identical_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let series = vec![("s".to_string(), vec![3.0, 1.0, 2.0])];
    for ext in ["png", "svg"] {
        let (a, b) = (
            dir.path().join(format!("a.{ext}")),
            dir.path().join(format!("b.{ext}")),
        );
        plot::cdf(&a, "t", &series, "x (s)").unwrap();
        plot::cdf(&b, "t", &series, "x (s)").unwrap();
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{ext}"
        );
    }
}
