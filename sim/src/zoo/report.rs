//! `sim zoo`'s outputs: findings.csv (one row per direction) and report.md/report.html, the
//! paper's number beside ours with the verdict and, where it does not reproduce, why.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use reports::plot::Bar;

use super::{direction, Finding};

/// One findings.csv row.
#[derive(serde::Serialize)]
struct Row<'a> {
    id: &'a str,
    paper_value: &'a str,
    statistic: &'a str,
    mean: String,
    ci95_low: String,
    ci95_high: String,
    reference_mean: String,
    n: usize,
    verdict: &'static str,
}

fn num(x: f64) -> String {
    format!("{x:.4}")
}

/// Writes findings.csv, report.md, report.html and figures/ID.svg into `out`.
pub fn write(findings: &[Finding], replicates: u32, full: bool, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let rows = findings.iter().map(|f| {
        let d = direction(f.id).expect("findings come from directions");
        Row {
            id: f.id,
            paper_value: d.paper_value,
            statistic: d.statistic,
            mean: num(f.stat.mean),
            ci95_low: num(f.stat.ci95_low),
            ci95_high: num(f.stat.ci95_high),
            reference_mean: f.reference.as_ref().map_or(String::new(), |r| num(r.mean)),
            n: f.stat.n,
            verdict: f.verdict(),
        }
    });
    reports::table::write_csv(out.join("findings.csv"), rows)?;
    let figs = out.join("figures");
    std::fs::create_dir_all(&figs).with_context(|| format!("creating {}", figs.display()))?;
    for f in findings {
        figure(f, &figs.join(format!("{}.svg", f.id)))?;
    }
    let md = markdown(findings, replicates, full);
    std::fs::write(out.join("report.md"), &md)?;
    let page = crate::html::page(
        "Incentive papers: their findings vs the simulator",
        &md,
        &figs,
    )?;
    std::fs::write(out.join("report.html"), page)?;
    Ok(())
}

/// One direction's statistic (and its reference's) as bars with 95% CIs.
fn figure(f: &Finding, path: &Path) -> anyhow::Result<()> {
    let d = direction(f.id).expect("findings come from directions");
    let bar = |s: &reports::stats::Summary, label: &str, group| Bar {
        label: label.to_string(),
        value: s.mean,
        err_low: Some(s.ci95_low),
        err_high: Some(s.ci95_high),
        group,
    };
    let mut bars = vec![bar(&f.stat, "measured", 0)];
    bars.extend(f.reference.iter().map(|r| bar(r, "reference", 1)));
    reports::plot::labelled_bars(
        path,
        &format!("{}: {}", d.id, f.verdict()),
        &bars,
        "95% CI over replicates",
        d.statistic,
        &["measured", "reference"],
    )
}

/// The report's Markdown.
fn markdown(findings: &[Finding], replicates: u32, full: bool) -> String {
    let size = if full { "full-size" } else { "CI-sized" };
    let mut figures = String::from("\n## Figures\n\n");
    let mut md = String::from("# Incentive papers: their findings vs the simulator\n\n");
    let _ = writeln!(
        md,
        "{replicates} seeded replicates of the {size} `scenarios/zoo/` files per direction; \
         mean and 95% t-interval of the per-replicate statistic (paired where both sides \
         come from the same seed).\n"
    );
    md.push_str(
        "| id | paper | claim | paper says | we measure (95% CI) | verdict | why we differ |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for f in findings {
        let d = direction(f.id).expect("findings come from directions");
        let s = &f.stat;
        let mut ours = format!(
            "{}: {:.3} [{:.3}, {:.3}]",
            d.statistic, s.mean, s.ci95_low, s.ci95_high
        );
        if let Some(r) = &f.reference {
            let _ = write!(
                ours,
                " vs {:.3} [{:.3}, {:.3}]",
                r.mean, r.ci95_low, r.ci95_high
            );
        }
        let why = if f.reproduced { "" } else { d.why };
        figures.push_str(&format!("![{0}](figures/{0}.svg)\n\n", d.id));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | **{}** | {} |",
            d.id,
            d.paper,
            d.claim,
            d.paper_value,
            ours,
            f.verdict(),
            why
        );
    }
    md.push_str(&figures);
    md
}
