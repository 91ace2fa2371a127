//! PDF output. plotters has no PDF backend, so a figure is drawn as SVG in memory and converted
//! by `svg2pdf`: the result stays vector, with its text as real (selectable, searchable) text in
//! an embedded subset of the same DejaVu Sans the PNG and SVG use, so no system font is needed.

use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, Context};
use svg2pdf::usvg::{self, fontdb};

use super::FONT;

/// The family name inside DejaVuSans.ttf, which the SVG's `sans-serif` is mapped to.
const DEJAVU: &str = "DejaVu Sans";

/// CSS pixels per inch: a figure's SVG is sized in px, so its PDF page comes out at the size a
/// browser prints the SVG (1024 × 640 px → 768 × 480 pt).
const CSS_DPI: f32 = 96.0;

/// The only fonts an SVG can use: the embedded DejaVu Sans as every generic family's default,
/// built once per process. System fonts are never loaded, so output is the same everywhere.
fn fonts() -> Arc<fontdb::Database> {
    static DB: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        db.set_sans_serif_family(DEJAVU);
        Arc::new(db)
    })
    .clone()
}

/// The one-page PDF of an SVG plotters drew. svg2pdf writes no date or document ID, so the same
/// SVG gives byte-identical PDFs.
pub(super) fn from_svg(svg: &str) -> anyhow::Result<Vec<u8>> {
    let options = usvg::Options {
        font_family: DEJAVU.to_string(),
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).context("reading the figure's SVG")?;
    let page = svg2pdf::PageOptions { dpi: CSS_DPI };
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), page)
        .map_err(|e| anyhow!("converting the figure to PDF: {e}"))
}
