//! What the plot tests share: decoding the PNG, counting SVG elements by colour, drawing one
//! figure as both PNG and SVG, and the chart every bar test starts from.
//! Set `REPORTS_PLOT_PREVIEW=<dir>` to keep copies of the PNGs for eyeballing.

#![allow(dead_code)] // Each test file uses part of this module.

use std::path::{Path, PathBuf};

use reports::plot::{BarChart, Scale, DEFAULT_SIZE};

/// The first series colours of the plot palette (Okabe–Ito) and the grey of non-finite cells.
pub const BLUE: [u8; 3] = [0, 114, 178];
pub const ORANGE: [u8; 3] = [230, 159, 0];
pub const GREEN: [u8; 3] = [0, 158, 115];
pub const PINK: [u8; 3] = [204, 121, 167];
pub const GREY: [u8; 3] = [200, 200, 200];

/// A fully decoded PNG.
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<[u8; 3]>,
}

impl Image {
    pub fn open(path: &Path) -> Image {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
        let step = info.color_type.samples();
        assert!(step >= 3, "{}: not RGB", path.display());
        let rgb = buf[..info.buffer_size()]
            .chunks(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    /// (x, y) of every pixel of exactly `colour`.
    pub fn pixels(&self, colour: [u8; 3]) -> Vec<(u32, u32)> {
        (0..self.rgb.len() as u32)
            .filter(|&i| self.rgb[i as usize] == colour)
            .map(|i| (i % self.width, i / self.width))
            .collect()
    }

    pub fn count(&self, colour: [u8; 3]) -> usize {
        self.pixels(colour).len()
    }
}

/// How many `<tag` elements of the SVG mention `colour` (as plotters writes it, `#RRGGBB`).
pub fn svg_count(svg: &str, tag: &str, colour: [u8; 3]) -> usize {
    let hex = format!("#{:02X}{:02X}{:02X}", colour[0], colour[1], colour[2]);
    svg.split(&format!("<{tag} "))
        .skip(1)
        .filter(|el| el[..el.find('>').unwrap_or(el.len())].contains(&hex))
        .count()
}

pub fn hex(c: [u8; 3]) -> String {
    format!("#{:02X}{:02X}{:02X}", c[0], c[1], c[2])
}

/// Value of attribute `name` in one SVG element's text.
pub fn attr<'a>(el: &'a str, name: &str) -> Option<&'a str> {
    let start = el.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&el[start..start + el[start..].find('"')?])
}

/// Every `<tag …>` element (its attribute text, from a leading space) whose fill or stroke is
/// `colour`.
pub fn elements(svg: &str, tag: &str, colour: [u8; 3]) -> Vec<String> {
    let hex = hex(colour);
    svg.split(&format!("<{tag} "))
        .skip(1)
        .map(|el| format!(" {}", &el[..el.find('>').unwrap_or(el.len())]))
        .filter(|el| {
            attr(el, "fill") == Some(hex.as_str()) || attr(el, "stroke") == Some(hex.as_str())
        })
        .collect()
}

/// The points of every polyline of `colour`.
pub fn polylines(svg: &str, colour: [u8; 3]) -> Vec<Vec<(i64, i64)>> {
    elements(svg, "polyline", colour)
        .iter()
        .map(|el| {
            attr(el, "points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

/// The text of every `<text>` element of the SVG, trimmed.
pub fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text ")
        .skip(1)
        .filter_map(|el| {
            let body = &el[el.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_owned())
        })
        .collect()
}

/// Checks both outputs of one figure are complete and optionally keeps the PNG; returns the
/// decoded PNG and the SVG text.
pub fn check(dir: &Path, stem: &str) -> (Image, String) {
    let png = dir.join(format!("{stem}.png"));
    let image = Image::open(&png);
    assert_eq!((image.width, image.height), DEFAULT_SIZE, "{stem}.png");
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
    assert!(svg.contains("<svg"), "{stem}.svg");
    assert!(svg.trim_end().ends_with("</svg>"), "{stem}.svg");
    if let Some(keep) = std::env::var_os("REPORTS_PLOT_PREVIEW") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&png, keep.join(format!("{stem}.png"))).unwrap();
    }
    (image, svg)
}

pub fn both(
    dir: &Path,
    stem: &str,
    draw: impl Fn(PathBuf) -> anyhow::Result<()>,
) -> (Image, String) {
    for ext in ["png", "svg"] {
        draw(dir.join(format!("{stem}.{ext}"))).unwrap();
    }
    check(dir, stem)
}

/// An absolute-scale chart with the given labels and nothing else set.
pub fn absolute<'a>(
    title: &'a str,
    quantity: &'a str,
    unit: &'a str,
    groups: &'a [&'a str],
) -> BarChart<'a> {
    BarChart {
        title,
        x_label: "node",
        quantity,
        unit,
        scale: Scale::Absolute,
        y_min: None,
        y_max: None,
        group_names: groups,
    }
}
