//! Writes every plot type as PNG and SVG and checks what was drawn: pixels of each series'
//! colour in the PNG (where they are, how many) and the SVG elements of each series.

mod common;

use common::{absolute, both, svg_count, svg_texts, BLUE, GREEN, GREY, ORANGE, PINK};
use reports::plot::{self, Bar};

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
    let (png, svg) = both(dir.path(), "bars", |p| {
        absolute(
            "Completion time per node (mean of 20 seeds, 95% CI)",
            "completion time",
            "s",
            &["seeders", "leechers"],
        )
        .draw(p, &bars())
    });
    // Group 0's two bars are zero high: only its legend swatch (14 × 12 px) is blue.
    let blue = png.count(BLUE);
    assert!((100..=400).contains(&blue), "blue pixels {blue}");
    // Group 1's ten bars, each ~50 px wide and hundreds of px high.
    let orange = png.count(ORANGE);
    assert!(orange > 10 * 40 * 150, "orange pixels {orange}");
    // One rectangle per bar plus one legend swatch per group.
    assert_eq!(svg_count(&svg, "rect", BLUE), 2 + 1, "{svg}");
    assert_eq!(svg_count(&svg, "rect", ORANGE), 10 + 1);
    assert_eq!(svg_count(&svg, "rect", GREEN), 0);
}

/// One group (no legend, no error bars): each bar's height in pixels is proportional to its
/// value, since the y axis starts at zero.
#[test]
fn bar_heights_follow_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let values = [10.0, 20.0, 40.0, 80.0];
    let bars: Vec<Bar> = values
        .iter()
        .enumerate()
        .map(|(i, &value)| Bar {
            label: format!("n{i}"),
            value,
            err_low: None,
            err_high: None,
            group: 0,
        })
        .collect();
    let (png, svg) = both(dir.path(), "heights", |p| {
        absolute("heights", "y", "1", &[]).draw(p, &bars)
    });
    assert_eq!(svg_count(&svg, "rect", BLUE), 4);
    // Columns holding blue pixels, left to right, split into runs: one run per bar.
    let mut height = vec![0u32; png.width as usize];
    for (x, _) in png.pixels(BLUE) {
        height[x as usize] += 1;
    }
    let mut runs: Vec<u32> = Vec::new();
    let mut prev = 0;
    for &h in &height {
        match (prev, h) {
            (0, h) if h > 0 => runs.push(h),
            (_, h) if h > 0 => *runs.last_mut().unwrap() = (*runs.last().unwrap()).max(h),
            _ => {}
        }
        prev = h;
    }
    assert_eq!(runs.len(), 4, "bar runs {runs:?}");
    for (h, v) in runs.iter().zip(values) {
        let want = f64::from(runs[3]) * v / 80.0;
        assert!((f64::from(*h) - want).abs() <= 2.0, "heights {runs:?}");
    }
    assert!(runs[3] > 300, "tallest bar {} px", runs[3]);
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
    let (png, svg) = both(dir.path(), "many_bars", |p| {
        absolute("80 nodes", "upload", "MiB", &["a", "b"]).draw(p, &many)
    });
    // 27, 27 and 26 bars in the three groups (i % 3), plus a legend swatch each.
    for (colour, n) in [(BLUE, 27), (ORANGE, 27), (GREEN, 26)] {
        assert_eq!(svg_count(&svg, "rect", colour), n + 1);
        assert!(png.count(colour) > n * 5 * 20, "{colour:?}");
    }
    // Thinned labels: far fewer than 80 tick labels.
    let labels = svg_texts(&svg)
        .iter()
        .filter(|t| t.starts_with("peer-"))
        .count();
    assert!((5..80).contains(&labels), "{labels} labels");
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
    let (png, svg) = both(dir.path(), "cdf", |p| {
        plot::cdf(p, "Completion-time CDF", &series, "completion time (s)")
    });
    for colour in [BLUE, ORANGE] {
        assert!(
            png.count(colour) > 2_000,
            "{colour:?}: {}",
            png.count(colour)
        );
        // The step line and its legend sample.
        assert_eq!(svg_count(&svg, "polyline", colour), 2, "{svg}");
    }
    assert_eq!(png.count(GREEN), 0);
    // "on" reaches 1; "off" plateaus at 36/40 = 0.9, so its top is lower (larger y). The
    // legend sits lower right, below both.
    let top = |c| png.pixels(c).iter().map(|p| p.1).min().unwrap();
    let (on, off) = (top(BLUE), top(ORANGE));
    assert!(off > on + 20, "tops: on {on}, off {off}");
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
    let (png, svg) = both(dir.path(), "lines", |p| {
        plot::lines(
            p,
            "Swarm progress",
            &series,
            "time (s)",
            "pieces held (% of swarm total)",
        )
    });
    for colour in [BLUE, ORANGE, GREEN] {
        assert!(
            png.count(colour) > 2_000,
            "{colour:?}: {}",
            png.count(colour)
        );
        assert_eq!(svg_count(&svg, "polyline", colour), 2, "{svg}");
        // Rising curves: pixels in the right half sit higher (smaller y) than in the left.
        let px = png.pixels(colour);
        let mean_y = |right: bool| {
            let ys: Vec<f64> = px
                .iter()
                .filter(|p| (p.0 > png.width / 2) == right)
                .map(|p| f64::from(p.1))
                .collect();
            ys.iter().sum::<f64>() / ys.len() as f64
        };
        assert!(mean_y(true) + 100.0 < mean_y(false), "{colour:?}");
    }
    assert_eq!(png.count(PINK), 0);
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
    let (png, svg) = both(dir.path(), "heatmap", |p| {
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
    // The one NaN cell is grey and sits at the last column of the top row.
    assert_eq!(svg_count(&svg, "rect", GREY), 1);
    let grey = png.pixels(GREY);
    assert!(grey.len() > 5_000, "grey pixels {}", grey.len());
    let (w, h) = (png.width, png.height);
    // Anti-aliased text edges may hit the same grey by chance, but only a few pixels.
    let outside = grey
        .iter()
        .filter(|&&(x, y)| x < w / 2 || y > h / 2)
        .count();
    assert!(outside < 50, "{outside} grey pixels outside the NaN cell");
    // 20 cells, the 128 slices of the colour bar and the white page.
    assert_eq!(svg.matches("<rect ").count(), 20 + 128 + 1, "{svg}");
    // Each cell is labelled with its value: (0, 0) is 250 / 1 + 0, (1, 2) is 250 / 2 + 60.
    let texts = svg_texts(&svg);
    for label in ["n/a", "250", "185"] {
        assert!(texts.iter().any(|t| t == label), "{label} not in {texts:?}");
    }
}

#[test]
fn degenerate_inputs_still_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (png, _) = both(dir.path(), "empty_bars", |p| {
        absolute("none", "y", "1", &[]).draw(p, &[])
    });
    assert_eq!(png.count(BLUE), 0);
    let one_bar = Bar {
        label: "only".to_string(),
        value: 3.0,
        err_low: Some(2.5),
        err_high: None,
        group: 0,
    };
    let (png, svg) = both(dir.path(), "one_bar", |p| {
        absolute("one", "y", "1", &[]).draw(p, std::slice::from_ref(&one_bar))
    });
    assert!(png.count(BLUE) > 100 * 300, "one bar {}", png.count(BLUE));
    assert_eq!(svg_count(&svg, "rect", BLUE), 1);
    let (png, _) = both(dir.path(), "empty_cdf", |p| plot::cdf(p, "none", &[], "x"));
    assert_eq!(png.count(BLUE), 0);
    let flat = vec![("flat".to_string(), vec![(1.0, 2.0), (f64::NAN, 1.0)])];
    let (png, svg) = both(dir.path(), "flat_lines", |p| {
        plot::lines(p, "flat", &flat, "x", "y")
    });
    // The lone finite point gets a marker (a filled circle of radius 5).
    assert_eq!(svg_count(&svg, "circle", BLUE), 1, "{svg}");
    assert!(png.count(BLUE) > 50, "marker {}", png.count(BLUE));
    let one = vec![vec![f64::NAN]];
    let lbl = vec!["a".to_string()];
    let (png, _) = both(dir.path(), "nan_heatmap", |p| {
        plot::heatmap(p, "nan", &lbl, &lbl, &one, "x", "y", "v")
    });
    assert!(png.count(GREY) > 100_000, "grey {}", png.count(GREY));
}

#[test]
fn bad_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = dir.path().join("x.jpg");
    let e = plot::cdf(&jpg, "t", &[], "x").unwrap_err().to_string();
    assert!(
        e.ends_with("x.jpg: plot files must end in .svg, .png or .pdf"),
        "{e}"
    );
    assert!(!jpg.exists());
    let lbl = vec!["a".to_string()];
    let ragged = vec![vec![1.0, 2.0]];
    let h = dir.path().join("h.png");
    let e = plot::heatmap(&h, "t", &lbl, &lbl, &ragged, "x", "y", "v").unwrap_err();
    assert_eq!(e.to_string(), "heatmap values must be 1 rows of 1 columns");
    let e = plot::heatmap(&h, "t", &[], &[], &[], "x", "y", "v").unwrap_err();
    assert_eq!(
        e.to_string(),
        "heatmap needs at least one row and one column"
    );
    assert!(!h.exists());
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
