//! The seed's three CSVs, the figure and the terminal summary. Files are written under temp
//! names and renamed only when all are complete, so a failed run leaves no partial results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use reports::stats::{mean, std_dev};
use reports::table::{fmt_f64, render_table, write_csv};
use serde::Serialize;

use super::{Measured, Size};

pub const RESULTS: &str = "all_leechers_results.csv";
pub const COMPARISON: &str = "leechers_performance_comparison.csv";
pub const SUMMARY: &str = "all_leechers_summary.csv";
pub const FIGURE: &str = "experiment.png";

/// One row of `all_leechers_results.csv`.
#[derive(Debug, Serialize)]
pub struct Row {
    client: &'static str,
    size_label: String,
    size_bytes: u64,
    iteration: usize,
    leecher: usize,
    transfer_time_s: String,
    throughput_kbps: String,
    bytes_received: u64,
    overhead_ratio: String,
    #[serde(skip)]
    secs: f64,
}

impl Row {
    pub fn new(client: &'static str, size: &Size, m: Measured) -> Row {
        Row {
            client,
            size_label: size.label.clone(),
            size_bytes: size.bytes,
            iteration: m.iteration,
            leecher: m.leecher,
            transfer_time_s: fmt_f64(m.secs, 6),
            throughput_kbps: fmt_f64(throughput_kbps(size.bytes, m.secs), 3),
            bytes_received: m.bytes_received,
            overhead_ratio: fmt_f64(overhead(size.bytes, m.bytes_received), 4),
            secs: m.secs,
        }
    }

    fn secs(&self) -> f64 {
        self.secs
    }

    fn throughput(&self) -> f64 {
        throughput_kbps(self.size_bytes, self.secs)
    }

    fn overhead(&self) -> f64 {
        overhead(self.size_bytes, self.bytes_received)
    }
}

/// The seed's swarm throughput: size × 8 × 3 / (time × 1000), in kbit/s.
fn throughput_kbps(size: u64, secs: f64) -> f64 {
    (size * 8 * super::LEECHERS as u64) as f64 / (secs * 1000.0)
}

/// A leecher's share of the swarm overhead: its received bytes over the file size. The mean
/// over the three leechers of an iteration is the seed's total received / (size × 3).
fn overhead(size: u64, received: u64) -> f64 {
    received as f64 / size as f64
}

#[derive(Serialize)]
struct Comparison {
    client: &'static str,
    size_label: String,
    size_bytes: u64,
    leecher: usize,
    n: usize,
    transfer_time_mean_s: String,
    transfer_time_std_s: String,
    throughput_mean_kbps: String,
    throughput_std_kbps: String,
}

#[derive(Serialize)]
struct Summary {
    client: &'static str,
    size_label: String,
    size_bytes: u64,
    n: usize,
    transfer_time_mean_s: String,
    transfer_time_std_s: String,
    throughput_mean_kbps: String,
    throughput_std_kbps: String,
    overhead_mean: String,
    overhead_std: String,
}

/// Mean and sample std with fixed decimals; a single sample's std is `NaN`, as in pandas.
fn mean_std(xs: &[f64], decimals: usize) -> (String, String) {
    let f = |x: Option<f64>| fmt_f64(x.unwrap_or(f64::NAN), decimals);
    (f(mean(xs)), f(std_dev(xs)))
}

/// Rows grouped by a key, in order of first appearance (client, then size as run).
fn groups<'a, K: Ord + Clone>(
    rows: impl IntoIterator<Item = &'a Row>,
    key: impl Fn(&Row) -> K,
) -> Vec<Vec<&'a Row>> {
    let mut order = Vec::new();
    let mut map: BTreeMap<K, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let k = key(r);
        if !map.contains_key(&k) {
            order.push(k.clone());
        }
        map.entry(k).or_default().push(r);
    }
    order
        .into_iter()
        .map(|k| map.remove(&k).unwrap_or_default())
        .collect()
}

fn summaries(rows: &[Row]) -> Vec<Summary> {
    groups(rows, |r| (r.client, r.size_bytes))
        .into_iter()
        .map(|g| {
            let col = |f: fn(&Row) -> f64| g.iter().map(|r| f(r)).collect::<Vec<_>>();
            let (tm, ts) = mean_std(&col(|r| r.secs), 6);
            let (pm, ps) = mean_std(&col(Row::throughput), 3);
            let (om, os) = mean_std(&col(Row::overhead), 4);
            Summary {
                client: g[0].client,
                size_label: g[0].size_label.clone(),
                size_bytes: g[0].size_bytes,
                n: g.len(),
                transfer_time_mean_s: tm,
                transfer_time_std_s: ts,
                throughput_mean_kbps: pm,
                throughput_std_kbps: ps,
                overhead_mean: om,
                overhead_std: os,
            }
        })
        .collect()
}

fn comparisons(rows: &[Row]) -> Vec<Comparison> {
    groups(rows, |r| (r.client, r.size_bytes, r.leecher))
        .into_iter()
        .map(|g| {
            let times: Vec<f64> = g.iter().map(|r| r.secs).collect();
            let tput: Vec<f64> = g.iter().map(|r| r.throughput()).collect();
            let (tm, ts) = mean_std(&times, 6);
            let (pm, ps) = mean_std(&tput, 3);
            Comparison {
                client: g[0].client,
                size_label: g[0].size_label.clone(),
                size_bytes: g[0].size_bytes,
                leecher: g[0].leecher,
                n: g.len(),
                transfer_time_mean_s: tm,
                transfer_time_std_s: ts,
                throughput_mean_kbps: pm,
                throughput_std_kbps: ps,
            }
        })
        .collect()
}

/// Writes the three CSVs and the figure under temp names, then renames them all; on any
/// failure the temp files are removed and nothing named like a result is left behind.
pub fn write_all(out: &Path, rows: &[Row]) -> Result<()> {
    let tmp = |name: &str| out.join(format!(".{name}.tmp"));
    let names = [RESULTS, COMPARISON, SUMMARY, FIGURE];
    let res = (|| -> Result<()> {
        write_csv(tmp(RESULTS), rows)?;
        write_csv(tmp(COMPARISON), comparisons(rows))?;
        write_csv(tmp(SUMMARY), summaries(rows))?;
        plot(&tmp_png(out), rows)?;
        std::fs::rename(tmp_png(out), tmp(FIGURE))?;
        for n in names {
            std::fs::rename(tmp(n), out.join(n))
                .with_context(|| format!("renaming into {}", out.join(n).display()))?;
        }
        Ok(())
    })();
    if res.is_err() {
        for n in names {
            std::fs::remove_file(tmp(n)).ok();
        }
        std::fs::remove_file(tmp_png(out)).ok();
    }
    res
}

/// The plot library picks the format by extension, so the figure's temp name ends in `.png`.
fn tmp_png(out: &Path) -> PathBuf {
    out.join(".experiment.tmp.png")
}

/// Mean transfer time and overhead against log10 of the file size, one line per client.
fn plot(path: &Path, rows: &[Row]) -> Result<()> {
    let mut series = Vec::new();
    for (what, f) in [
        ("mean time (s)", Row::secs as fn(&Row) -> f64),
        ("overhead ratio", Row::overhead),
    ] {
        for g in groups(rows, |r| r.client) {
            let pts = groups(g.iter().copied(), |r| r.size_bytes)
                .into_iter()
                .map(|s| {
                    let ys: Vec<f64> = s.iter().map(|r| f(r)).collect();
                    (
                        (s[0].size_bytes as f64).log10(),
                        mean(&ys).unwrap_or(f64::NAN),
                    )
                })
                .collect();
            series.push((format!("{} {what}", g[0].client), pts));
        }
    }
    reports::plot::lines(
        path,
        "bt experiment: one seeder, three leechers on loopback",
        &series,
        "log10 file size (bytes)",
        "seconds / received bytes per byte",
    )
}

/// The summary as a plain-text table for the terminal (and the README).
pub fn summary_table(rows: &[Row]) -> String {
    let headers = [
        "client",
        "size",
        "n",
        "time mean s",
        "time std s",
        "kbps mean",
        "kbps std",
        "overhead mean",
        "overhead std",
    ];
    let body: Vec<Vec<String>> = summaries(rows)
        .into_iter()
        .map(|s| {
            vec![
                s.client.to_owned(),
                s.size_label,
                s.n.to_string(),
                s.transfer_time_mean_s,
                s.transfer_time_std_s,
                s.throughput_mean_kbps,
                s.throughput_std_kbps,
                s.overhead_mean,
                s.overhead_std,
            ]
        })
        .collect();
    render_table(&headers, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(label: &str, bytes: u64) -> Size {
        Size {
            label: label.to_owned(),
            bytes,
            iterations: 0,
        }
    }

    /// Five transfers whose CSV values were worked out by hand: throughput =
    /// size × 8 × 3 / (secs × 1000), overhead = received / size, sample std (n − 1).
    fn rows() -> Vec<Row> {
        let (small, big) = (size("10kB", 10_240), size("100kB", 102_400));
        let m = |iteration, leecher, secs, bytes_received| Measured {
            iteration,
            leecher,
            secs,
            bytes_received,
        };
        vec![
            Row::new("bt", &small, m(1, 1, 0.5, 10_240)),
            Row::new("bt", &small, m(1, 2, 0.25, 12_288)),
            Row::new("bt", &small, m(2, 1, 1.0, 10_240)),
            Row::new("bt", &small, m(2, 2, 0.25, 15_360)),
            Row::new("bt", &big, m(1, 1, 2.0, 102_400)),
        ]
    }

    #[test]
    fn csvs_hold_hand_computed_values() {
        let dir = tempfile::tempdir().unwrap();
        write_all(dir.path(), &rows()).unwrap();
        let read = |name| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(
            read(RESULTS),
            "client,size_label,size_bytes,iteration,leecher,transfer_time_s,throughput_kbps,bytes_received,overhead_ratio\n\
             bt,10kB,10240,1,1,0.500000,491.520,10240,1.0000\n\
             bt,10kB,10240,1,2,0.250000,983.040,12288,1.2000\n\
             bt,10kB,10240,2,1,1.000000,245.760,10240,1.0000\n\
             bt,10kB,10240,2,2,0.250000,983.040,15360,1.5000\n\
             bt,100kB,102400,1,1,2.000000,1228.800,102400,1.0000\n"
        );
        // Per leecher: leecher 1 of 10kB took 0.5 and 1.0 s (491.52 and 245.76 kbps).
        assert_eq!(
            read(COMPARISON),
            "client,size_label,size_bytes,leecher,n,transfer_time_mean_s,transfer_time_std_s,throughput_mean_kbps,throughput_std_kbps\n\
             bt,10kB,10240,1,2,0.750000,0.353553,368.640,173.779\n\
             bt,10kB,10240,2,2,0.250000,0.000000,983.040,0.000\n\
             bt,100kB,102400,1,1,2.000000,NaN,1228.800,NaN\n"
        );
        assert_eq!(
            read(SUMMARY),
            "client,size_label,size_bytes,n,transfer_time_mean_s,transfer_time_std_s,throughput_mean_kbps,throughput_std_kbps,overhead_mean,overhead_std\n\
             bt,10kB,10240,4,0.500000,0.353553,675.840,368.640,1.1750,0.2363\n\
             bt,100kB,102400,1,2.000000,NaN,1228.800,NaN,1.0000,NaN\n"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "temp files left: {left:?}");
        assert!(dir.path().join(FIGURE).is_file());
    }

    #[test]
    fn summary_table_shows_the_summary_rows() {
        let table = summary_table(&rows());
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("client"), "{table}");
        assert!(
            table.contains("675.840") && table.contains("1.1750"),
            "{table}"
        );
        assert_eq!(lines.iter().filter(|l| l.starts_with("bt")).count(), 2);
    }
}
