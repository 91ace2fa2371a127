//! Bars that show few-percent differences: relative to the swarm mean (bars either side of a
//! drawn zero line), on a cut axis (stated in the label and by a break mark), with a CI whisker
//! on every bar. Checked by counting and measuring the SVG's elements.

mod common;

use common::{absolute, attr, both, elements, polylines, svg_texts, BLUE, ORANGE};
use reports::plot::{
    bars_from, pool_by_group, relative_to_run_mean, BarChart, Sample, Scale, WHISKER, ZERO_LINE,
};

/// (top, bottom) pixel rows of every rect of `colour`.
fn rect_spans(svg: &str, colour: [u8; 3]) -> Vec<(i64, i64)> {
    elements(svg, "rect", colour)
        .iter()
        .map(|el| {
            let num = |n| attr(el, n).unwrap().parse::<i64>().unwrap();
            (num("y"), num("y") + num("height"))
        })
        .collect()
}

fn rgb(c: plotters::style::RGBColor) -> [u8; 3] {
    [c.0, c.1, c.2]
}

/// Made-up completion times of six nodes over three runs whose overall speed differs: nodes
/// 0–2 finish 4%, 2% and 1% before their run's mean, nodes 3–5 1%, 2% and 3% after it
/// (approximately; each run is scaled, so the relative values are the same in every run up to
/// a jitter that gives each bar a CI).
fn samples() -> Vec<Sample> {
    let offsets = [-4.0, -2.0, -1.0, 1.0, 2.0, 4.0];
    let scales = [1500.0, 1800.0, 1650.0];
    offsets
        .iter()
        .enumerate()
        .map(|(i, &off)| Sample {
            label: format!("{i}"),
            group: usize::from(i >= 3),
            runs: scales
                .iter()
                .enumerate()
                .map(|(r, &s)| {
                    let jitter = 0.2 * (r as f64 - 1.0) * if i % 2 == 0 { 1.0 } else { -1.0 };
                    Some(s * (1.0 + (off + jitter) / 100.0))
                })
                .collect(),
        })
        .collect()
}

/// [`samples`] all in one group: one colour, no legend.
fn one_group() -> Vec<Sample> {
    let mut s = samples();
    for x in &mut s {
        x.group = 0;
    }
    s
}

#[test]
fn relative_bars_sit_either_side_of_the_zero_line() {
    let dir = tempfile::tempdir().unwrap();
    let bars = bars_from(&relative_to_run_mean(&samples()));
    let signs: Vec<bool> = bars.iter().map(|b| b.value > 0.0).collect();
    assert_eq!(signs, [false, false, false, true, true, true], "{bars:?}");
    let chart = BarChart {
        scale: Scale::RelativeToMean,
        ..absolute(
            "relative",
            "download completion time",
            "s",
            &["early", "late"],
        )
    };
    let (png, svg) = both(dir.path(), "relative", |p| chart.draw(p, &bars));

    let zero = polylines(&svg, rgb(ZERO_LINE));
    assert_eq!(zero.len(), 1, "one zero line");
    let zero_y = zero[0][0].1;
    assert_eq!(zero[0][1].1, zero_y, "horizontal");
    // Early nodes (blue) hang from the zero line, late ones (orange) stand on it; the extra
    // rect of each colour is its legend swatch.
    let below = |c| {
        rect_spans(&svg, c)
            .iter()
            .filter(|s| s.0 == zero_y && s.1 > zero_y + 20)
            .count()
    };
    let above = |c| {
        rect_spans(&svg, c)
            .iter()
            .filter(|s| s.1 == zero_y && s.0 < zero_y - 20)
            .count()
    };
    assert_eq!((below(BLUE), above(BLUE)), (3, 0));
    assert_eq!((below(ORANGE), above(ORANGE)), (0, 3));
    assert_eq!(rect_spans(&svg, BLUE).len(), 3 + 1);
    // The PNG agrees: blue pixels of the bars lie below the line, orange above (legend aside).
    let (w, h) = (png.width, png.height);
    let in_plot = |p: &&(u32, u32)| p.0 < w * 3 / 4 && p.1 > h / 5;
    let zero_px = zero_y as u32;
    assert!(png
        .pixels(BLUE)
        .iter()
        .filter(in_plot)
        .all(|p| p.1 > zero_px));
    assert!(png
        .pixels(ORANGE)
        .iter()
        .filter(in_plot)
        .all(|p| p.1 < zero_px));
    assert!(
        svg_texts(&svg)
            .iter()
            .any(|t| t == "download completion time, % vs swarm mean"),
        "{:?}",
        svg_texts(&svg)
    );
}

/// Every bar with a CI gets a whisker and two caps, centred on its bar and spanning the
/// interval; a bar from a single run gets none.
#[test]
fn every_bar_with_a_ci_has_a_whisker() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = one_group();
    s[5].runs = vec![Some(1700.0), None, None];
    let bars = bars_from(&s);
    assert_eq!(bars.iter().filter(|b| b.err_low.is_some()).count(), 5);
    let chart = BarChart {
        y_min: Some(1000.0),
        ..absolute("whiskers", "completion", "s", &[])
    };
    let (_, svg) = both(dir.path(), "whiskers", |p| chart.draw(p, &bars));
    let lines = polylines(&svg, rgb(WHISKER));
    // Two strokes of the break mark, then per bar a vertical line and two horizontal caps.
    let vertical: Vec<_> = lines.iter().filter(|l| l[0].0 == l[1].0).collect();
    let caps = lines.iter().filter(|l| l[0].1 == l[1].1).count();
    assert_eq!((vertical.len(), caps, lines.len()), (5, 10, 5 + 10 + 2));
    let bar_centres: Vec<i64> = elements(&svg, "rect", BLUE)
        .iter()
        .map(|el| {
            let num = |n| attr(el, n).unwrap().parse::<i64>().unwrap();
            num("x") + num("width") / 2
        })
        .collect();
    for (v, centre) in vertical.iter().zip(&bar_centres) {
        assert!(
            (v[0].0 - centre).abs() <= 1,
            "whisker at {v:?}, bar at {centre}"
        );
        assert!(v[0].1 != v[1].1, "whisker of zero length {v:?}");
    }
}

/// An axis starting at 1500 s says so in its label and with a break mark, and every bar
/// grows from the axis bottom.
#[test]
fn a_cut_axis_is_stated() {
    let dir = tempfile::tempdir().unwrap();
    let bars = bars_from(&one_group());
    let chart = BarChart {
        y_min: Some(1500.0),
        y_max: Some(1800.0),
        ..absolute("cut", "download completion time", "s", &[])
    };
    let (_, svg) = both(dir.path(), "cut", |p| chart.draw(p, &bars));
    assert!(svg_texts(&svg)
        .iter()
        .any(|t| t == "download completion time (s), axis starts at 1500"));
    let bottoms: Vec<i64> = rect_spans(&svg, BLUE).iter().map(|s| s.1).collect();
    assert_eq!(bottoms.len(), 6);
    assert!(bottoms.iter().all(|&b| b == bottoms[0]), "{bottoms:?}");
    // Two slanted strokes just above the axis bottom, left of the first bar.
    let slanted: Vec<_> = polylines(&svg, rgb(WHISKER))
        .into_iter()
        .filter(|l| l[0].0 != l[1].0 && l[0].1 != l[1].1)
        .collect();
    assert_eq!(slanted.len(), 2, "{slanted:?}");
    assert!(slanted
        .iter()
        .all(|l| l[0].1 < bottoms[0] && l[0].1 > bottoms[0] - 40));
    // The uncut axis has no break mark and no note.
    let (_, svg) = both(dir.path(), "uncut", |p| {
        absolute("uncut", "download completion time", "s", &[]).draw(p, &bars)
    });
    assert!(svg_texts(&svg).iter().all(|t| !t.contains("axis starts")));
    let slanted = polylines(&svg, rgb(WHISKER))
        .into_iter()
        .filter(|l| l[0].0 != l[1].0 && l[0].1 != l[1].1)
        .count();
    assert_eq!(slanted, 0);
}

/// Per-class bars: one per group, each the mean of its members' relative values.
#[test]
fn pooled_relative_bars_one_per_class() {
    let dir = tempfile::tempdir().unwrap();
    let pooled = pool_by_group(&relative_to_run_mean(&samples()), &["early", "late"]);
    let bars = bars_from(&pooled);
    // (-4 - 2 - 1) / 3 and (1 + 2 + 4) / 3, the jitter cancelling within each run.
    assert!((bars[0].value + 7.0 / 3.0).abs() < 0.05, "{bars:?}");
    assert!((bars[1].value - 7.0 / 3.0).abs() < 0.05, "{bars:?}");
    let chart = BarChart {
        scale: Scale::RelativeToMean,
        x_label: "policy",
        ..absolute("classes", "completion", "s", &["early", "late"])
    };
    let (_, svg) = both(dir.path(), "classes", |p| chart.draw(p, &bars));
    assert_eq!(rect_spans(&svg, BLUE).len(), 1 + 1);
    assert_eq!(rect_spans(&svg, ORANGE).len(), 1 + 1);
    assert_eq!(polylines(&svg, rgb(WHISKER)).len(), 2 * 3);
    let texts = svg_texts(&svg);
    for t in ["early", "late", "policy"] {
        assert!(
            texts.iter().filter(|x| *x == t).count() >= 1,
            "{t}: {texts:?}"
        );
    }
}

#[test]
fn bad_ranges_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.svg");
    let bars = bars_from(&samples());
    let chart = absolute("t", "q", "s", &[]);
    let e = BarChart {
        y_min: Some(10.0),
        y_max: Some(10.0),
        ..chart
    }
    .draw(&path, &bars)
    .unwrap_err();
    assert_eq!(e.to_string(), "y axis: bottom 10 must be below top 10");
    let e = BarChart {
        y_max: Some(f64::NAN),
        ..chart
    }
    .draw(&path, &bars)
    .unwrap_err();
    assert_eq!(e.to_string(), "y axis: top must be finite");
    assert!(!path.exists());
}
