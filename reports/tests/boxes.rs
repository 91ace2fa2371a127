//! Box plots per class: quartiles, 1.5·IQR whiskers and outliers computed by hand, and on the
//! SVG one box per class with its median drawn where the hand-computed value puts it.

mod common;

use common::{attr, both, elements, polylines, BLUE, ORANGE};
use reports::plot::{boxes, BoxClass, BoxStats};

fn class(name: &str, values: &[f64]) -> BoxClass {
    BoxClass {
        name: name.into(),
        values: values.to_vec(),
    }
}

#[test]
fn quartiles_whiskers_and_outliers_by_hand() {
    // Sorted 1 2 3 4 100: q1 = 2, median = 3, q3 = 4; fences 2 ∓ 3 and 4 + 3: 100 is out.
    let s = BoxStats::of(&[100.0, 3.0, 1.0, f64::NAN, 4.0, 2.0]).unwrap();
    assert_eq!(
        s,
        BoxStats {
            q1: 2.0,
            median: 3.0,
            q3: 4.0,
            low: 1.0,
            high: 4.0,
            outliers: vec![100.0],
        }
    );
    // 10 12 14 30: q1 = 10 + 0.75·2 = 11.5, median 13, q3 = 14 + 0.25·16 = 18; upper fence
    // 18 + 9.75 = 27.75 puts 30 out, and no value lies above the box: no upper whisker.
    let s = BoxStats::of(&[10.0, 12.0, 14.0, 30.0]).unwrap();
    assert_eq!((s.q1, s.median, s.q3), (11.5, 13.0, 18.0));
    assert_eq!((s.low, s.high, s.outliers), (10.0, 18.0, vec![30.0]));
    assert_eq!(BoxStats::of(&[7.0]).unwrap().outliers, Vec::<f64>::new());
    assert_eq!(BoxStats::of(&[f64::NAN]), None);
}

#[test]
fn one_box_per_class_with_its_median_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let classes = [
        class("fast", &[1.0, 2.0, 3.0, 4.0, 100.0]),
        class("slow", &[10.0, 12.0, 14.0, 30.0]),
        class("empty", &[f64::NAN]),
    ];
    let (_, svg) = both(dir.path(), "boxes", |p| {
        boxes(p, "completion per class", &classes, ("class", "s"))
    });
    for (colour, outliers, median_at) in [(BLUE, 1, 0.5), (ORANGE, 1, 1.5 / 6.5)] {
        // The box filled and its edge: two rects, same corners.
        let rects = elements(&svg, "rect", colour);
        assert_eq!(rects.len(), 2, "{rects:?}");
        let n = |el: &str, a: &str| attr(el, a).unwrap().parse::<f64>().unwrap();
        let (top, height) = (n(&rects[0], "y"), n(&rects[0], "height"));
        assert_eq!(elements(&svg, "circle", colour).len(), outliers);
        // The median: the one line of stroke width 4, at its place between q1 and q3.
        let median: Vec<_> = elements(&svg, "polyline", colour)
            .into_iter()
            .filter(|el| attr(el, "stroke-width") == Some("4"))
            .collect();
        assert_eq!(median.len(), 1);
        let y = polylines(&svg, colour)
            .into_iter()
            .find(|l| l[0].1 == l[1].1 && l[0].0 != l[1].0)
            .unwrap()[0]
            .1 as f64;
        let want = top + height * (1.0 - median_at);
        assert!((y - want).abs() <= 1.5, "median at {y}, want {want}");
    }
    // A class with nothing finite gets no box, and nothing at all is an error.
    assert_eq!(elements(&svg, "rect", [0, 158, 115]).len(), 0);
    let e = boxes(dir.path().join("x.svg"), "t", &classes[2..], ("c", "s")).unwrap_err();
    assert_eq!(e.to_string(), "no values to draw");
}
