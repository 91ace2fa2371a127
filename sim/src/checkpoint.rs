//! Per-point checkpoints, so a sweep (or one shard of it) that is killed and restarted with
//! `--resume` redoes only the points it had not finished.
//!
//! Each point writes its slice of every CSV (data lines, no header) into `points/<p>/`, plus
//! a `key` file naming what was computed, then — last, by an atomic rename — `SHA256SUMS`
//! over all of them (`sha256sum -c` reads it). A point counts as finished only when that
//! manifest lists exactly its files and every checksum matches what is on disk and the key
//! matches the current plan; anything else (killed mid-point, a truncated or corrupted file,
//! another plan) is redone. Once every point is finished the slices are concatenated under
//! their headers, which gives exactly the bytes one uninterrupted writer would have written,
//! and `points/` is removed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// The manifest file, written last.
const SUMS: &str = "SHA256SUMS";
/// The file naming the computation a point's slices belong to.
const KEY: &str = "key";

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A CSV slice of one point.
pub type SliceWriter = csv::Writer<BufWriter<File>>;

/// Why a point must be (re)done, or that it is finished.
#[derive(Debug, PartialEq, Eq)]
pub enum State {
    Finished,
    /// Never started, or killed before its manifest was written.
    Missing,
    /// A manifest exists but does not vouch for the files: the reason, for the log.
    Stale(String),
}

/// The `points/` folder of one sweep output folder; `files` are the CSV names every point
/// writes a slice of.
pub struct Store<'a> {
    dir: PathBuf,
    files: &'a [&'a str],
}

impl<'a> Store<'a> {
    /// Opens `out/points`, emptied first unless `resume` (a fresh run never trusts old slices).
    pub fn open(out: &Path, files: &'a [&'a str], resume: bool) -> anyhow::Result<Self> {
        let dir = out.join("points");
        if !resume && dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing old {}", dir.display()))?;
        }
        Ok(Store { dir, files })
    }

    fn point_dir(&self, p: usize) -> PathBuf {
        self.dir.join(p.to_string())
    }

    /// Whether point `p` was finished by a run computing `key`.
    pub fn state(&self, p: usize, key: &str) -> State {
        let dir = self.point_dir(p);
        let Ok(sums) = std::fs::read_to_string(dir.join(SUMS)) else {
            return State::Missing;
        };
        let mut listed: Vec<(&str, &str)> = sums
            .lines()
            .filter_map(|l| l.split_once("  ").map(|(h, f)| (f, h)))
            .collect();
        listed.sort_unstable();
        let mut expected: Vec<&str> = self.files.iter().copied().chain([KEY]).collect();
        expected.sort_unstable();
        if listed.iter().map(|(f, _)| *f).ne(expected.iter().copied()) {
            return State::Stale(format!("{SUMS} lists other files"));
        }
        for (file, hash) in listed {
            match std::fs::read(dir.join(file)) {
                Ok(bytes) if sha256_hex(&bytes) == hash => {}
                Ok(_) => return State::Stale(format!("{file} does not match its checksum")),
                Err(e) => return State::Stale(format!("{file}: {e}")),
            }
        }
        match std::fs::read_to_string(dir.join(KEY)) {
            Ok(k) if k == key => State::Finished,
            _ => State::Stale("computed for another plan or simulator version".into()),
        }
    }

    /// Starts (or restarts) point `p`: drops its manifest first, so a kill from here on
    /// leaves it unfinished, and returns one writer per file, in `files` order.
    pub fn start(&self, p: usize, key: &str) -> anyhow::Result<Vec<SliceWriter>> {
        let dir = self.point_dir(p);
        match std::fs::remove_file(dir.join(SUMS)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join(KEY), key)?;
        self.files
            .iter()
            .map(|f| {
                let file = File::create(dir.join(f))
                    .with_context(|| format!("creating {}", dir.join(f).display()))?;
                Ok(csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(BufWriter::new(file)))
            })
            .collect()
    }

    /// Flushes point `p`'s slices to disk, then writes its manifest (atomically, last).
    pub fn finish(&self, p: usize, writers: Vec<SliceWriter>) -> anyhow::Result<()> {
        for w in writers {
            let file = w
                .into_inner()
                .map_err(|e| e.into_error())?
                .into_inner()
                .map_err(|e| e.into_error())?;
            file.sync_all()?;
        }
        let dir = self.point_dir(p);
        let mut sums = String::new();
        for f in self.files.iter().copied().chain([KEY]) {
            let bytes = std::fs::read(dir.join(f))?;
            sums += &format!("{}  {f}\n", sha256_hex(&bytes));
        }
        let tmp = dir.join(format!("{SUMS}.tmp"));
        let mut w = File::create(&tmp)?;
        w.write_all(sums.as_bytes())?;
        w.sync_all()?;
        std::fs::rename(&tmp, dir.join(SUMS))?;
        Ok(())
    }

    /// Writes `out/<file>` as its header followed by the slices of `points` in that order,
    /// for every file (`headers` in `files` order), then removes `points/`.
    pub fn assemble(self, out: &Path, headers: &[Vec<u8>], points: &[usize]) -> anyhow::Result<()> {
        for (f, header) in self.files.iter().zip(headers) {
            let mut w =
                BufWriter::new(File::create(out.join(f)).with_context(|| format!("creating {f}"))?);
            w.write_all(header)?;
            for &p in points {
                let mut slice = File::open(self.point_dir(p).join(f))?;
                std::io::copy(&mut slice, &mut w)?;
            }
            w.flush()?;
        }
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished_point(store: &Store, p: usize, line: &str) {
        let mut w = store.start(p, "k1").unwrap();
        w[0].write_record([p.to_string().as_str(), line]).unwrap();
        store.finish(p, w).unwrap();
    }

    #[test]
    fn a_point_is_finished_only_with_a_matching_manifest_and_key() {
        let out = tempfile::tempdir().unwrap();
        let store = Store::open(out.path(), &["a.csv"], false).unwrap();
        assert_eq!(store.state(0, "k1"), State::Missing);
        finished_point(&store, 0, "x");
        assert_eq!(store.state(0, "k1"), State::Finished);
        assert!(matches!(store.state(0, "k2"), State::Stale(_)));
        // One flipped byte is caught by the checksum.
        let f = out.path().join("points/0/a.csv");
        std::fs::write(&f, "0,y\n").unwrap();
        assert_eq!(
            store.state(0, "k1"),
            State::Stale("a.csv does not match its checksum".into())
        );
        // Killed after start, before finish: no manifest.
        let _ = store.start(0, "k1").unwrap();
        assert_eq!(store.state(0, "k1"), State::Missing);
    }

    #[test]
    fn a_fresh_run_forgets_and_assembly_orders_slices_under_the_header() {
        let out = tempfile::tempdir().unwrap();
        let store = Store::open(out.path(), &["a.csv"], false).unwrap();
        for p in [2, 0] {
            finished_point(&store, p, "v");
        }
        let reopened = Store::open(out.path(), &["a.csv"], true).unwrap();
        assert_eq!(reopened.state(2, "k1"), State::Finished);
        reopened
            .assemble(out.path(), &[b"p,x\n".to_vec()], &[0, 2])
            .unwrap();
        let text = std::fs::read_to_string(out.path().join("a.csv")).unwrap();
        assert_eq!(text, "p,x\n0,v\n2,v\n");
        assert!(!out.path().join("points").exists());
        finished_point(&store, 1, "v");
        let fresh = Store::open(out.path(), &["a.csv"], false).unwrap();
        assert_eq!(fresh.state(1, "k1"), State::Missing);
    }
}
