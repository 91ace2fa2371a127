//! Splitting a batch of runs over machines and joining the shards' folders back, for every
//! batch command (`sim sweep`, `sim tournament`): a shard runs the points `p` with
//! `p % n == i`, and [`merge`] rebuilds exactly the bytes of the unsharded run.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use serde::{Deserialize, Serialize};

/// `i/n`: run points `p` with `p % n == i` (0-based, as Slurm array and Kubernetes indexed
/// job indices are).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or("expected i/n, e.g. 0/4")?;
        let index: u32 = i.parse().map_err(|_| format!("bad shard index `{i}`"))?;
        let count: u32 = n.parse().map_err(|_| format!("bad shard count `{n}`"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }
}

/// Whether point `p` belongs to `shard` (every point does when there is none).
pub fn owns(shard: Option<Shard>, p: usize) -> bool {
    shard.is_none_or(|s| p as u32 % s.count == s.index)
}

/// What a shard folder of one batch command holds.
pub struct Layout<'a> {
    /// The command's word for a batch, for messages (`sweep`).
    pub what: &'a str,
    /// JSON manifest: the plan and a `shard` field; everything but `shard` must agree.
    pub manifest: &'a str,
    /// CSV files whose data lines start with their point index, ordered by point.
    pub csvs: &'a [&'a str],
    /// Files every shard writes identically, copied once.
    pub same: &'a [&'a str],
}

/// Joins shard folders into `out`: CSV lines ordered by point (a point's lines keep their
/// order), the manifest without a shard. Returns the merged manifest.
pub fn merge(layout: &Layout, out: &Path, shards: &[PathBuf]) -> anyhow::Result<serde_json::Value> {
    let what = layout.what;
    ensure!(!shards.is_empty(), "no shard folders given");
    let mut manifest: Option<serde_json::Value> = None;
    let mut shard_ids = Vec::new();
    let mut headers: Vec<Option<String>> = vec![None; layout.csvs.len()];
    let mut lines: Vec<Vec<(usize, String)>> = vec![Vec::new(); layout.csvs.len()];
    let mut same: Vec<Option<Vec<u8>>> = vec![None; layout.same.len()];
    for dir in shards {
        let text = std::fs::read_to_string(dir.join(layout.manifest)).with_context(|| {
            format!(
                "{}: not a {what} folder (no {})",
                dir.display(),
                layout.manifest
            )
        })?;
        let mut this: serde_json::Value = serde_json::from_str(&text)?;
        shard_ids.push(this["shard"].take());
        match &manifest {
            None => manifest = Some(this),
            Some(m) if *m != this => bail!("{}: shard of a different {what}", dir.display()),
            Some(_) => {}
        }
        for (i, file) in layout.csvs.iter().enumerate() {
            let f = File::open(dir.join(file))
                .with_context(|| format!("{}: missing {file}", dir.display()))?;
            let mut it = BufReader::new(f).lines();
            let Some(h) = it.next().transpose()? else {
                continue;
            };
            match &headers[i] {
                None => headers[i] = Some(h),
                Some(prev) if *prev != h => {
                    bail!("{}: {file} columns differ between shards", dir.display())
                }
                Some(_) => {}
            }
            for line in it {
                let line = line?;
                let p: usize = line
                    .split(',')
                    .next()
                    .and_then(|x| x.parse().ok())
                    .with_context(|| format!("{}: bad line in {file}", dir.display()))?;
                lines[i].push((p, line));
            }
        }
        for (i, file) in layout.same.iter().enumerate() {
            let bytes = std::fs::read(dir.join(file))
                .with_context(|| format!("{}: missing {file}", dir.display()))?;
            match &same[i] {
                None => same[i] = Some(bytes),
                Some(prev) if *prev != bytes => {
                    bail!("{}: {file} differs between shards", dir.display())
                }
                Some(_) => {}
            }
        }
    }
    let counts: Vec<u64> = shard_ids
        .iter()
        .filter_map(|s| s["count"].as_u64())
        .collect();
    let indices: BTreeSet<u64> = shard_ids
        .iter()
        .filter_map(|s| s["index"].as_u64())
        .collect();
    ensure!(
        counts.len() == shards.len()
            && counts.iter().all(|&c| c == shards.len() as u64)
            && indices.len() == shards.len(),
        "expected the {} shards i/{} of one {what}, got shards {:?}",
        shards.len(),
        shards.len(),
        shard_ids
    );
    let mut manifest = manifest.expect("at least one shard");
    manifest["shard"] = serde_json::Value::Null;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(
        out.join(layout.manifest),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    for ((file, header), mut lines) in layout.csvs.iter().zip(headers).zip(lines) {
        // Stable sort: lines of one point keep their order.
        lines.sort_by_key(|(p, _)| *p);
        let mut w = BufWriter::new(File::create(out.join(file))?);
        if let Some(h) = header {
            writeln!(w, "{h}")?;
        }
        for (_, l) in lines {
            writeln!(w, "{l}")?;
        }
        w.flush()?;
    }
    for (file, bytes) in layout.same.iter().zip(same) {
        std::fs::write(out.join(file), bytes.unwrap_or_default())?;
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn points_are_dealt_round_robin() {
        let s = Some(Shard { index: 1, count: 3 });
        let mine: Vec<usize> = (0..8).filter(|&p| owns(s, p)).collect();
        assert_eq!(mine, [1, 4, 7]);
        assert!((0..8).all(|p| owns(None, p)));
    }
}
