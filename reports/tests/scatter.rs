//! The completion-vs-online-days scatter: one marker per node in its series' colour, one trend
//! line per series spanning the series' x range with the least-squares slope's sign, and the
//! hand-computed ρ and slope in each legend entry. Checked on the SVG's elements.

mod common;

use common::{attr, both, elements, polylines, svg_texts, BLUE, ORANGE};
use reports::plot::{scatter, ScatterSeries};

/// A: ρ = -1, slope = -65 / 5 = -13 s/day. B: ranks of y (1, 3, 2) give ρ = 1 - 6·2/24 = 0.5;
/// slope = 20 / 8 = 2.5 s/day. C: one node, no trend.
fn series() -> Vec<ScatterSeries> {
    let s = |name: &str, points: &[(f64, f64)]| ScatterSeries {
        name: name.into(),
        points: points.to_vec(),
    };
    vec![
        s("A", &[(1.0, 100.0), (2.0, 90.0), (3.0, 80.0), (4.0, 60.0)]),
        s(
            "B",
            &[(1.0, 50.0), (3.0, 70.0), (5.0, 60.0), (2.0, f64::NAN)],
        ),
        s("C", &[(2.0, 75.0)]),
    ]
}

/// x pixel of every circle of `colour`, sorted.
fn circle_xs(svg: &str, colour: [u8; 3]) -> Vec<i64> {
    let mut xs: Vec<i64> = elements(svg, "circle", colour)
        .iter()
        .map(|el| attr(el, "cx").unwrap().parse().unwrap())
        .collect();
    xs.sort_unstable();
    xs
}

#[test]
fn one_marker_per_node_and_one_trend_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let (_, svg) = both(dir.path(), "scatter", |p| {
        scatter(
            p,
            "completion vs online days",
            &series(),
            ("online days", "s"),
        )
    });
    // The NaN point of B is skipped, not drawn at zero.
    let (a, b) = (circle_xs(&svg, BLUE), circle_xs(&svg, ORANGE));
    assert_eq!((a.len(), b.len()), (4, 3));
    // Trend line plus legend sample; the trend spans the series' first to last marker and
    // falls for A (y pixels grow downwards), rises for B.
    for (colour, xs, falls) in [(BLUE, &a, true), (ORANGE, &b, false)] {
        let lines = polylines(&svg, colour);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let t = lines.iter().find(|l| l[0].0 == xs[0]).expect("trend line");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].0, *xs.last().unwrap());
        assert_eq!(t[1].1 > t[0].1, falls, "{t:?}");
    }
    let texts = svg_texts(&svg);
    for entry in [
        "A (n=4, ρ=-1.00, slope=-13.0 s/day)",
        "B (n=3, ρ=0.50, slope=2.5 s/day)",
        "C (n=1, ρ=n/a, slope=n/a s/day)",
    ] {
        assert!(texts.iter().any(|t| t == entry), "{entry} not in {texts:?}");
    }
}

#[test]
fn nothing_to_draw_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = [ScatterSeries {
        name: "A".into(),
        points: vec![(f64::NAN, 1.0)],
    }];
    let e = scatter(dir.path().join("x.svg"), "t", &empty, ("x", "y")).unwrap_err();
    assert_eq!(e.to_string(), "no points to draw");
}
