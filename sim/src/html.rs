//! The HTML twin of a report's Markdown: one self-contained page (figures inlined as data
//! URIs) so a report can be mailed or archived as a single file. It reads only the Markdown
//! our reports write — `#`/`##` headings, pipe tables, `![alt](figures/NAME)` lines and
//! paragraphs — rather than pulling in a general Markdown renderer.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

/// The page for `md`, titled `title`, with figures read from `figs`.
pub fn page(title: &str, md: &str, figs: &Path) -> anyhow::Result<String> {
    use base64::Engine as _;
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut body = String::new();
    let mut in_table = false;
    for line in md.lines() {
        if line.starts_with('|') {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
                continue;
            }
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                body.push_str("<table>\n");
                in_table = true;
            }
            body.push_str("<tr>");
            for c in cells {
                let c = esc(c).replace("**", "");
                let _ = write!(body, "<{tag}>{c}</{tag}>");
            }
            body.push_str("</tr>\n");
            continue;
        }
        if in_table {
            body.push_str("</table>\n");
            in_table = false;
        }
        if let Some(rest) = line.strip_prefix("![") {
            let file = rest
                .split_once("](figures/")
                .and_then(|(_, f)| f.strip_suffix(')'))
                .unwrap_or_default();
            let bytes =
                std::fs::read(figs.join(file)).with_context(|| format!("reading figure {file}"))?;
            let mime = if file.ends_with(".svg") {
                "image/svg+xml"
            } else {
                "image/png"
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            let _ = writeln!(
                body,
                "<img alt=\"{file}\" src=\"data:{mime};base64,{b64}\">"
            );
        } else if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(body, "<h2>{}</h2>", esc(h));
        } else if let Some(h) = line.strip_prefix("# ") {
            let _ = writeln!(body, "<h1>{}</h1>", esc(h));
        } else if !line.is_empty() {
            let _ = writeln!(body, "<p>{}</p>", esc(line).replace('`', ""));
        }
    }
    if in_table {
        body.push_str("</table>\n");
    }
    Ok(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px}}img{{max-width:100%}}</style></head>\n<body>\n{body}</body></html>\n",
        esc(title)
    ))
}
