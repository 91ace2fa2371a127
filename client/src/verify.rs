//! `bt verify`: recheck downloaded data against a torrent's piece hashes.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::progress::bytes_bar;
use crate::storage::{Mode, Storage, StorageError};
use crate::torrent_file::load;

#[derive(clap::Args)]
#[command(after_help = "\
DIR is the directory the torrent was saved into: a single-file torrent's data is DIR/NAME,
a multi-file torrent's is DIR/NAME/... (NAME as printed by `bt show`).
Exits with status 1 if any piece is bad or missing.

Examples:
  bt verify movie.torrent ~/Downloads
  bt verify photos.torrent /srv/seed --threads 1")]
pub struct VerifyArgs {
    /// The .torrent file.
    torrent: PathBuf,
    /// Directory holding the torrent's data.
    dir: PathBuf,
    /// Hashing threads [default: all cores].
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

pub fn run(args: VerifyArgs) -> Result<()> {
    let meta = load(&args.torrent)?;
    if !args.dir.is_dir() {
        bail!("{} is not a directory", args.dir.display());
    }
    let storage = Storage::open(&args.dir, &meta.info, Mode::Read)?;
    report_file_sizes(&storage);
    let bar = bytes_bar("verifying", storage.total_len());
    let results = storage.hash_all(args.threads, |n| bar.inc(n));
    bar.finish_and_clear();

    let (mut ok, mut bad, mut missing) = (0u32, Vec::new(), 0u32);
    let mut problems = BTreeSet::new();
    for (i, (got, want)) in results.into_iter().zip(&meta.info.pieces).enumerate() {
        match got {
            Ok(h) if h == *want => ok += 1,
            Ok(_) => bad.push(i),
            Err(e @ (StorageError::Missing(_) | StorageError::Short(_))) => {
                missing += 1;
                problems.insert(e.to_string());
            }
            Err(e) => {
                bad.push(i);
                problems.insert(e.to_string());
            }
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    if !bad.is_empty() {
        println!("bad pieces: {}", ranges(&bad));
    }
    let total = meta.info.pieces.len();
    println!(
        "{total} pieces: {ok} ok, {} bad, {missing} missing",
        bad.len()
    );
    if ok as usize != total {
        bail!(
            "{} of {total} pieces failed verification",
            total - ok as usize
        );
    }
    Ok(())
}

/// Warns about files whose size differs from the torrent's; short ones also fail pieces.
fn report_file_sizes(storage: &Storage) {
    for f in storage.files() {
        if let Ok(m) = fs::metadata(&f.path) {
            if m.len() != f.len {
                eprintln!(
                    "warning: {} is {} bytes, torrent says {}",
                    f.path.display(),
                    m.len(),
                    f.len
                );
            }
        }
    }
}

/// `1, 4-7, 9` from sorted indices.
fn ranges(sorted: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        out.push(if sorted[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", sorted[i])
        });
        i += 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn piece_ranges() {
        assert_eq!(super::ranges(&[1, 4, 5, 6, 7, 9]), "1, 4-7, 9");
        assert_eq!(super::ranges(&[]), "");
    }
}
