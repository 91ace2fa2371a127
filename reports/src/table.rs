//! Deterministic CSV output and plain-text tables for the terminal.
//!
//! Report files are compared across runs and commits, so everything here is
//! byte-stable: rows are written in the given order and floats are formatted
//! with a fixed number of decimals.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// Writes `rows` as CSV to `path` (header from the first row's field names),
/// creating parent directories. Zero rows give an empty file: the header is
/// derived from a row, so there is nothing to name the columns by.
pub fn write_csv<P: AsRef<Path>, R: Serialize>(
    path: P,
    rows: impl IntoIterator<Item = R>,
) -> anyhow::Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    for row in rows {
        w.serialize(row)
            .with_context(|| format!("writing a row to {}", path.display()))?;
    }
    w.flush()
        .with_context(|| format!("flushing {}", path.display()))?;
    Ok(())
}

/// Formats `x` with exactly `decimals` digits after the point. Negative zero
/// prints as positive zero so a value that rounds to zero never shows as
/// "-0.000"; NaN and infinities print as `NaN`, `inf` and `-inf`.
pub fn fmt_f64(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Cell `c` of a row, empty when the row is short.
fn cell(row: &[String], c: usize) -> &str {
    row.get(c).map_or("", String::as_str)
}

/// True when a cell reads as a number, so it is right-aligned.
fn is_numeric(cell: &str) -> bool {
    cell.trim().parse::<f64>().is_ok()
}

/// Renders an aligned plain-text table: a header line, a dashed rule and one
/// line per row, columns separated by two spaces. Numeric cells are
/// right-aligned (as is the header of an all-numeric column), text is
/// left-aligned. Short rows are padded; every line ends with `\n` and carries
/// no trailing spaces.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let ncols = rows.iter().map(Vec::len).fold(headers.len(), usize::max);
    let width = |s: &str| s.chars().count();

    let mut widths = vec![0; ncols];
    let mut numeric_col = vec![true; ncols];
    for (c, w) in widths.iter_mut().enumerate() {
        *w = width(headers.get(c).copied().unwrap_or(""));
        let mut any = false;
        for r in rows {
            let s = cell(r, c);
            *w = (*w).max(width(s));
            if !s.is_empty() {
                any = true;
                numeric_col[c] &= is_numeric(s);
            }
        }
        numeric_col[c] &= any;
    }

    let line = |cells: &mut dyn Iterator<Item = (&str, bool)>| {
        let parts: Vec<String> = cells
            .zip(&widths)
            .map(|((s, right), &w)| {
                if right {
                    format!("{s:>w$}")
                } else {
                    format!("{s:<w$}")
                }
            })
            .collect();
        let mut l = parts.join("  ").trim_end().to_string();
        l.push('\n');
        l
    };

    let mut out =
        line(&mut (0..ncols).map(|c| (headers.get(c).copied().unwrap_or(""), numeric_col[c])));
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push_str(&rule.join("  "));
    out.push('\n');
    for r in rows {
        out.push_str(&line(&mut (0..ncols).map(|c| {
            let s = cell(r, c);
            (s, is_numeric(s))
        })));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        node: String,
        time_s: f64,
        pieces: u32,
    }

    #[test]
    fn fmt_f64_fixed_decimals() {
        assert_eq!(fmt_f64(1.0 / 3.0, 3), "0.333");
        assert_eq!(fmt_f64(2.5, 0), "2");
        assert_eq!(fmt_f64(-1.23456, 2), "-1.23");
        assert_eq!(fmt_f64(-0.0001, 3), "0.000");
        assert_eq!(fmt_f64(-0.0, 1), "0.0");
        assert_eq!(fmt_f64(f64::NAN, 2), "NaN");
        assert_eq!(fmt_f64(f64::NEG_INFINITY, 2), "-inf");
    }

    #[test]
    fn write_csv_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.csv");
        let rows = vec![
            Row {
                node: "n0".into(),
                time_s: 1.5,
                pieces: 3,
            },
            Row {
                node: "n,1".into(),
                time_s: 0.1,
                pieces: 7,
            },
        ];
        write_csv(&path, &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "node,time_s,pieces\nn0,1.5,3\n\"n,1\",0.1,7\n");

        let empty = dir.path().join("empty.csv");
        write_csv(&empty, Vec::<Row>::new()).unwrap();
        assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");
    }

    #[test]
    fn render_table_aligns() {
        let rows = vec![
            vec!["seed".to_string(), "12.5".to_string(), "ok".to_string()],
            vec!["leech-10".to_string(), "3".to_string()],
        ];
        let t = render_table(&["node", "time (s)", "note"], &rows);
        let expected = "\
node      time (s)  note
--------  --------  ----
seed          12.5  ok
leech-10         3
";
        assert_eq!(t, expected);
    }

    #[test]
    fn render_table_empty() {
        assert_eq!(render_table(&["a", "bb"], &[]), "a  bb\n-  --\n");
        assert_eq!(render_table(&[], &[]), "\n\n");
    }
}
