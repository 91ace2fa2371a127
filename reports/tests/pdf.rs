//! PDF output: every chart kind writes a one-page vector PDF whose text is real text in the
//! embedded DejaVu Sans, on a page the size of the SVG, byte-identical from run to run.

use std::collections::BTreeMap;
use std::path::Path;

use lopdf::{Document, Object};
use reports::plot::{self, Bar, BoxClass, Format, ScatterSeries, XyChart, XyPoint, XySeries};

/// A figure's 1024 × 640 px at 96 px per inch, in points (72 per inch).
const PAGE: [f32; 4] = [0.0, 0.0, 768.0, 480.0];

/// What a written PDF holds, read back with lopdf.
struct Pdf {
    bytes: Vec<u8>,
    doc: Document,
}

impl Pdf {
    fn open(path: &Path) -> Pdf {
        let bytes = std::fs::read(path).unwrap();
        let doc = Document::load_mem(&bytes).unwrap();
        Pdf { bytes, doc }
    }

    /// The text of its (only) page: each shown glyph code mapped through its font's ToUnicode
    /// table, in drawing order (svg2pdf shows one glyph per `Tj`, so no spacing is lost).
    fn text(&self) -> String {
        let pages = self.doc.get_pages();
        assert_eq!(pages.len(), 1);
        let page = pages[&1];
        let maps: BTreeMap<Vec<u8>, BTreeMap<u16, String>> = self
            .doc
            .get_page_fonts(page)
            .unwrap()
            .into_iter()
            .map(|(name, font)| (name, self.to_unicode(font)))
            .collect();
        let mut font = None;
        let mut text = String::new();
        for op in self
            .doc
            .get_and_decode_page_content(page)
            .unwrap()
            .operations
        {
            match op.operator.as_str() {
                "Tf" => font = Some(op.operands[0].as_name().unwrap().to_vec()),
                "Tj" => {
                    let map = &maps[font.as_ref().unwrap()];
                    for code in op.operands[0].as_str().unwrap().chunks(2) {
                        text.push_str(&map[&u16::from_be_bytes([code[0], code[1]])]);
                    }
                }
                _ => {}
            }
        }
        text
    }

    /// A font's ToUnicode table, glyph code → text. Read here rather than by lopdf, whose CMap
    /// parser (0.38) refuses the `/CMapVersion` and `/WMode` entries pdf-writer emits; svg2pdf
    /// writes only `bfchar` pairs of hex UTF-16, one per line.
    fn to_unicode(&self, font: &lopdf::Dictionary) -> BTreeMap<u16, String> {
        let id = font.get(b"ToUnicode").unwrap().as_reference().unwrap();
        let stream = self.doc.get_object(id).unwrap().as_stream().unwrap();
        let bytes = match stream.dict.has(b"Filter") {
            true => stream.decompressed_content().unwrap(),
            false => stream.content.clone(),
        };
        let cmap = String::from_utf8(bytes).unwrap();
        let hex = |s: &str| -> Vec<u16> {
            let digits = s.trim().trim_start_matches('<').trim_end_matches('>');
            (0..digits.len())
                .step_by(4)
                .map(|i| u16::from_str_radix(&digits[i..i + 4], 16).unwrap())
                .collect()
        };
        cmap.split("beginbfchar")
            .skip(1)
            .flat_map(|section| section.split("endbfchar").next().unwrap().lines())
            .filter_map(|line| line.split_once("> <"))
            .map(|(code, unicode)| {
                let code = hex(code)[0];
                (code, String::from_utf16(&hex(unicode)).unwrap())
            })
            .collect()
    }

    fn media_box(&self) -> Vec<f32> {
        let page = self.doc.get_pages()[&1];
        let dict = self.doc.get_dictionary(page).unwrap();
        dict.get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_float().unwrap())
            .collect()
    }

    /// Every object's dictionary (streams' included): what fonts and images there are.
    fn dicts(&self) -> impl Iterator<Item = &lopdf::Dictionary> {
        self.doc.objects.values().filter_map(|o| match o {
            Object::Dictionary(d) => Some(d),
            Object::Stream(s) => Some(&s.dict),
            _ => None,
        })
    }

    fn names(&self, key: &[u8]) -> Vec<String> {
        self.dicts()
            .filter_map(|d| d.get(key).ok()?.as_name().ok())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }
}

/// Draws with `draw` to `NAME.pdf` in `dir` and checks what every figure's PDF must be: a PDF
/// page of the figure's size, vector (no image), its text in an embedded DejaVu Sans subset.
fn pdf_of(dir: &Path, name: &str, draw: impl Fn(&Path) -> anyhow::Result<()>) -> Pdf {
    let path = dir.join(format!("{name}.pdf"));
    draw(&path).unwrap();
    let pdf = Pdf::open(&path);
    assert!(pdf.bytes.starts_with(b"%PDF-"), "{name}");
    assert_eq!(pdf.media_box(), PAGE, "{name}");
    assert!(
        !pdf.names(b"Subtype").contains(&"Image".to_string()),
        "{name}: raster image"
    );
    let fonts = pdf.names(b"BaseFont");
    assert!(
        !fonts.is_empty() && fonts.iter().all(|f| f.ends_with("+DejaVuSans")),
        "{name}: fonts {fonts:?}"
    );
    let embedded = pdf.dicts().filter(|d| d.has(b"FontFile2")).count();
    assert_eq!(embedded, 1, "{name}: embedded font programs");
    pdf
}

#[test]
fn pdf_holds_title_axes_and_legend_as_text_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let title = "Completion — ρ = −0.42 ± 0.05";
    let series = vec![
        ("tft".to_string(), vec![310.0, 355.5, 402.0, 460.0]),
        ("seniority".to_string(), vec![290.0, 300.0, 512.0]),
    ];
    let draw = |p: &Path| plot::cdf(p, title, &series, "completion time (s)");
    let pdf = pdf_of(dir.path(), "cdf", draw);
    let text = pdf.text();
    for want in [title, "completion time (s)", "tft", "seniority"] {
        assert!(text.contains(want), "{want:?} not in {text:?}");
    }
    // Same figure, same bytes: no date, no random document ID.
    let again = pdf_of(dir.path(), "cdf-again", draw);
    assert!(pdf.bytes == again.bytes, "two draws of one figure differ");
    // A different title changes the text (and so the font subset), not only a timestamp.
    let other = pdf_of(dir.path(), "cdf-other", |p| {
        plot::cdf(p, "Other", &series, "completion time (s)")
    });
    assert!(!other.text().contains(title));
}

#[test]
fn every_chart_kind_writes_a_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bars: Vec<Bar> = (0..4)
        .map(|i| Bar {
            label: format!("n{i}"),
            value: 100.0 + 10.0 * f64::from(i),
            err_low: Some(95.0 + 10.0 * f64::from(i)),
            err_high: Some(105.0 + 10.0 * f64::from(i)),
            group: usize::from(i >= 2),
        })
        .collect();
    let line = vec![(
        "done".to_string(),
        vec![(0.0, 0.0), (60.0, 0.5), (120.0, 1.0)],
    )];
    let names = vec!["1".to_string(), "2".to_string()];
    let classes = vec![
        BoxClass {
            name: "slow".into(),
            values: vec![300.0, 320.0, 340.0, 900.0],
        },
        BoxClass {
            name: "fast".into(),
            values: vec![200.0, 210.0, 230.0],
        },
    ];
    let scatter = vec![ScatterSeries {
        name: "leechers".into(),
        points: vec![(1.0, 400.0), (2.0, 350.0), (3.0, 330.0)],
    }];
    let xy = XyChart {
        title: "xy title",
        x_label: "seeders",
        y_label: "mean completion (s)",
        log_x: false,
        log_y: false,
    };
    let xy_series = vec![XySeries {
        name: "none".into(),
        points: [(1.0, 500.0), (2.0, 420.0)]
            .map(|(x, y)| XyPoint {
                x,
                y,
                ci: Some((y - 20.0, y + 20.0)),
            })
            .to_vec(),
    }];
    // Each figure is titled "NAME title"; its PDF must hold that text.
    let check = |name: &str, draw: &dyn Fn(&Path) -> anyhow::Result<()>| {
        let text = pdf_of(d, name, draw).text();
        assert!(text.contains(&format!("{name} title")), "{name}: {text:?}");
    };
    check("bars", &|p| {
        plot::labelled_bars(p, "bars title", &bars, "node", "s", &["a", "b"])
    });
    check("lines", &|p| {
        plot::lines(p, "lines title", &line, "time (s)", "fraction")
    });
    check("heatmap", &|p| {
        let v = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        plot::heatmap(p, "heatmap title", &names, &names, &v, "x", "y", "v")
    });
    check("boxes", &|p| {
        plot::boxes(p, "boxes title", &classes, ("class", "s"))
    });
    check("scatter", &|p| {
        plot::scatter(p, "scatter title", &scatter, ("online days", "s"))
    });
    check("xy", &|p| xy.draw(p, &xy_series, &[]));
}

#[test]
fn output_format_follows_the_extension() {
    let f = |p: &str| Format::of(Path::new(p)).map_err(|e| e.to_string());
    assert_eq!(f("a/fig.pdf"), Ok(Format::Pdf));
    assert_eq!(f("FIG.PDF"), Ok(Format::Pdf));
    assert_eq!(f("fig.Svg"), Ok(Format::Svg));
    assert_eq!(f("fig.png"), Ok(Format::Png));
    let refused = "plot files must end in .svg, .png or .pdf";
    assert_eq!(f("fig.eps"), Err(format!("fig.eps: {refused}")));
    assert_eq!(f("fig"), Err(format!("fig: {refused}")));
}
