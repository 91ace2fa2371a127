//! The line chart of a result against a swept parameter: one line per series through its
//! points in x order, a whisker (stem and two caps) on each point that has a CI, dashed
//! reference lines, log axes that refuse non-positive values. Checked on the SVG's elements.

mod common;

use common::{both, polylines, svg_count, svg_texts, BLUE, ORANGE};
use reports::plot::{Reference, XyChart, XyPoint, XySeries, REFERENCE};

fn chart(log_x: bool) -> XyChart<'static> {
    XyChart {
        title: "completion vs swarm size",
        x_label: "nodes",
        y_label: "mean completion (s)",
        log_x,
        log_y: false,
    }
}

fn point(x: f64, y: f64, ci: Option<(f64, f64)>) -> XyPoint {
    XyPoint { x, y, ci }
}

/// Series A: three points given out of x order, each with a CI. Series B: two points, one
/// with a CI, one without (a single run).
fn series() -> Vec<XySeries> {
    vec![
        XySeries {
            name: "incentive = none".into(),
            points: vec![
                point(100.0, 500.0, Some((480.0, 520.0))),
                point(10.0, 300.0, Some((290.0, 310.0))),
                point(1000.0, 900.0, Some((850.0, 950.0))),
            ],
        },
        XySeries {
            name: "incentive = seniority".into(),
            points: vec![
                point(10.0, 400.0, None),
                point(100.0, 700.0, Some((650.0, 750.0))),
            ],
        },
    ]
}

#[test]
fn every_series_point_and_whisker_is_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let bound = Reference {
        name: "Kumar–Ross bound".into(),
        points: vec![(10.0, 100.0), (100.0, 200.0), (1000.0, 400.0)],
    };
    let (_, svg) = both(dir.path(), "xy", |p| {
        chart(true).draw(p, &series(), std::slice::from_ref(&bound))
    });
    // A whisker is three lines (stem, two caps) and marks its centre; every point has a marker.
    assert_eq!(svg_count(&svg, "line", BLUE), 3 * 3);
    assert_eq!(svg_count(&svg, "line", ORANGE), 3);
    assert_eq!(svg_count(&svg, "circle", BLUE), 3 + 3);
    assert_eq!(svg_count(&svg, "circle", ORANGE), 2 + 1);
    // One line through the points plus the legend sample per series; the line runs left to
    // right with as many vertices as points, although the points were given out of order.
    let lines = polylines(&svg, BLUE);
    assert_eq!(lines.len(), 2);
    let through: Vec<i64> = lines
        .iter()
        .find(|l| l.len() == 3)
        .expect("series line")
        .iter()
        .map(|p| p.0)
        .collect();
    assert!(through.windows(2).all(|w| w[0] < w[1]), "{through:?}");
    // Log x: 10, 100, 1000 are equally spaced.
    let (d1, d2) = (through[1] - through[0], through[2] - through[1]);
    assert!((d1 - d2).abs() <= 1, "{through:?}");
    // The bound is dashed: many short grey segments, and named in the legend.
    let grey = [REFERENCE.0, REFERENCE.1, REFERENCE.2];
    assert!(svg_count(&svg, "polyline", grey) > 5);
    let texts = svg_texts(&svg);
    for name in [
        "incentive = none",
        "incentive = seniority",
        "Kumar–Ross bound",
    ] {
        assert!(texts.iter().any(|t| t == name), "{name} not in legend");
    }
}

#[test]
fn a_constant_reference_spans_the_axis_at_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let zero = Reference {
        name: "y = 600".into(),
        points: vec![(0.0, 600.0)],
    };
    let (_, svg) = both(dir.path(), "ref", |p| {
        chart(false).draw(p, &series(), std::slice::from_ref(&zero))
    });
    let grey = [REFERENCE.0, REFERENCE.1, REFERENCE.2];
    let ys: Vec<i64> = polylines(&svg, grey).concat().iter().map(|p| p.1).collect();
    // Dashes on one pixel row, then the legend sample (two vertices) in the legend box.
    let dashes = &ys[..ys.len() - 2];
    assert!(dashes.len() > 10);
    assert!(dashes.iter().all(|y| *y == dashes[0]), "{ys:?}");
}

#[test]
fn a_log_axis_refuses_values_that_are_not_positive() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = series();
    s[0].points[0].x = 0.0;
    let e = chart(true)
        .draw(dir.path().join("bad.svg"), &s, &[])
        .unwrap_err();
    assert_eq!(e.to_string(), "log axis `nodes`: 0 is not positive");
    let e = chart(false)
        .draw(dir.path().join("empty.svg"), &[], &[])
        .unwrap_err();
    assert_eq!(e.to_string(), "no points to draw");
}
