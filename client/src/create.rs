//! `bt create`: turn a file or directory into a BEP 3 `.torrent`.
//!
//! Files are listed in sorted path order so the same tree always yields the same info-hash,
//! and pieces are hashed on all cores with positional reads through [`Storage`].

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use engine_core::protocol::bencode::{self, Value};
use engine_core::protocol::metainfo::{FileEntry, Info, Metainfo};

use crate::progress::bytes_bar;
use crate::storage::{is_safe_component, Mode, Storage};
use crate::units::{fmt_size, hex, parse_size};

const MIN_PIECE: u32 = 16 << 10;
const MAX_AUTO_PIECE: u32 = 16 << 20;
const MAX_PIECE: u32 = 64 << 20;
/// Automatic piece length aims at no more than this many pieces (and so at least half of it).
const TARGET_PIECES: u64 = 2000;

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  bt create movie.mkv --tracker http://tracker.example:6969/announce -o movie.torrent
  bt create photos/ -t http://a.example/announce -t udp://b.example:1337 --private -o photos.torrent
  bt create big.iso -t http://t.example/announce --piece-length 4MiB --comment 'v1.2' -o big.torrent")]
pub struct CreateArgs {
    /// File or directory to share.
    input: PathBuf,
    /// Announce URL (http, https or udp); repeat for backup trackers, each in its own tier.
    #[arg(short, long = "tracker", required = true, value_name = "URL")]
    trackers: Vec<String>,
    /// Piece length, a power of two from 16KiB to 64MiB [default: about 1000-2000 pieces].
    #[arg(long, value_parser = parse_piece_length, value_name = "SIZE")]
    piece_length: Option<u32>,
    /// Mark the torrent private (BEP 27): clients use only its trackers to find peers.
    #[arg(long)]
    private: bool,
    /// Free-form comment stored in the torrent.
    #[arg(long)]
    comment: Option<String>,
    /// Leave out the creation date, so the same input gives a byte-identical file.
    #[arg(long)]
    no_date: bool,
    /// Hashing threads [default: all cores].
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    threads: usize,
    /// Where to write the torrent.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Overwrite the output file if it exists.
    #[arg(short, long)]
    force: bool,
}

pub fn run(args: CreateArgs) -> Result<()> {
    let line = create(args)?;
    println!("{line}");
    Ok(())
}

/// Writes the torrent `args` describe; returns the line `bt create` prints about it
/// (in-process callers such as `bt swarm` keep it to themselves).
pub fn create(args: CreateArgs) -> Result<String> {
    for t in &args.trackers {
        check_tracker_url(t)?;
    }
    if args.output.exists() && !args.force {
        bail!(
            "{} already exists (use --force to overwrite)",
            args.output.display()
        );
    }
    let source = Source::scan(&args.input, &args.output)?;
    let total = source.total_len();
    let piece_length = args
        .piece_length
        .unwrap_or_else(|| auto_piece_length(total));
    let storage = Storage::from_files(
        source
            .files
            .iter()
            .map(|f| (f.path.clone(), f.len))
            .collect(),
        piece_length,
        Mode::Read,
    );
    let bar = bytes_bar("hashing", total);
    let pieces = storage
        .try_hash_all(args.threads, |n| bar.inc(n))
        .context("hashing failed (did a file change while hashing?)")?;
    bar.finish_and_clear();

    let info = Info {
        name: source.name,
        piece_length,
        pieces,
        files: source
            .files
            .into_iter()
            .map(|f| FileEntry {
                path: f.components,
                length: f.len,
            })
            .collect(),
        private: args.private,
    };
    let announce_list = if args.trackers.len() > 1 {
        args.trackers.iter().map(|t| vec![t.clone()]).collect()
    } else {
        Vec::new()
    };
    let meta = Metainfo::new(info, args.trackers.first().cloned(), announce_list);
    let date = (!args.no_date).then(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let bytes = with_extras(&meta.to_bytes(), args.comment.as_deref(), date)?;
    // Our own parser must accept what we write, with the same info-hash.
    let reparsed =
        Metainfo::from_bytes(&bytes).context("internal error: torrent does not parse")?;
    ensure!(
        reparsed.info_hash == meta.info_hash,
        "internal error: info-hash changed on re-parse"
    );
    write_atomically(&args.output, &bytes)?;
    Ok(format!(
        "created {}: {:?}, {} in {} pieces of {}, info-hash {}",
        args.output.display(),
        meta.info.name,
        fmt_size(total),
        meta.info.pieces.len(),
        fmt_size(piece_length.into()),
        hex(&meta.info_hash)
    ))
}

/// Smallest power of two giving at most [`TARGET_PIECES`] pieces, within 16 KiB..=16 MiB.
pub fn auto_piece_length(total: u64) -> u32 {
    let want = total.div_ceil(TARGET_PIECES).next_power_of_two();
    want.clamp(MIN_PIECE.into(), MAX_AUTO_PIECE.into()) as u32
}

fn parse_piece_length(s: &str) -> Result<u32, String> {
    let n = parse_size(s)?;
    if !n.is_power_of_two() || n < MIN_PIECE.into() || n > MAX_PIECE.into() {
        return Err(format!(
            "piece length {s} must be a power of two from 16KiB to 64MiB"
        ));
    }
    Ok(n as u32)
}

fn check_tracker_url(url: &str) -> Result<()> {
    let rest = ["http://", "https://", "udp://"]
        .iter()
        .find_map(|s| url.strip_prefix(s));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !url.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => {
            bail!("tracker URL {url:?} must look like http://host:port/announce or udp://host:port")
        }
    }
}

/// Adds the optional top-level keys engine-core's writer does not know; the info dictionary
/// is passed through byte for byte because re-encoding a canonical value is the identity.
fn with_extras(torrent: &[u8], comment: Option<&str>, date: Option<u64>) -> Result<Vec<u8>> {
    let mut v = bencode::decode(torrent).context("internal error: torrent is not canonical")?;
    let Value::Dict(d) = &mut v else {
        bail!("internal error: torrent is not a dictionary")
    };
    let mut put = |k: &'static str, val: Value<'static>| d.insert(k.as_bytes().into(), val);
    put(
        "created by",
        Value::bytes(concat!("bt/", env!("CARGO_PKG_VERSION"))),
    );
    if let Some(c) = comment {
        put("comment", Value::bytes(c));
    }
    if let Some(t) = date {
        put("creation date", Value::Int(i64::try_from(t).unwrap_or(0)));
    }
    Ok(v.to_bytes())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// A file found on disk and its path inside the torrent.
struct LocalFile {
    path: PathBuf,
    components: Vec<String>,
    len: u64,
}

/// What `create` shares: the torrent name and its files in torrent order.
struct Source {
    name: String,
    files: Vec<LocalFile>,
}

impl Source {
    /// Scans `input`, leaving out `output` in case it is being written inside the tree.
    fn scan(input: &Path, output: &Path) -> Result<Source> {
        let meta = fs::metadata(input).with_context(|| format!("reading {}", input.display()))?;
        let canon = input
            .canonicalize()
            .with_context(|| format!("resolving {}", input.display()))?;
        // `bt create .` should be named after the directory, not ".".
        let name = utf8_name(&canon)?;
        let files = if meta.is_file() {
            vec![LocalFile {
                path: input.to_path_buf(),
                components: vec![name.clone()],
                len: meta.len(),
            }]
        } else if meta.is_dir() {
            let mut w = Walker {
                root: canon.clone(),
                skip: output.canonicalize().ok(),
                visited: HashSet::from([canon.clone()]),
                files: Vec::new(),
            };
            w.walk(input, &mut Vec::new())?;
            w.files
        } else {
            bail!("{} is neither a file nor a directory", input.display());
        };
        let s = Source { name, files };
        if s.total_len() == 0 {
            bail!(
                "nothing to share: {} holds no data (empty files only, or none)",
                input.display()
            );
        }
        Ok(s)
    }

    fn total_len(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }
}

fn utf8_name(path: &Path) -> Result<String> {
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let name = name
        .to_str()
        .with_context(|| format!("{}: name is not valid UTF-8", path.display()))?;
    ensure!(
        is_safe_component(name),
        "{}: name {name:?} cannot be used in a torrent (backslash or drive prefix)",
        path.display()
    );
    Ok(name.to_owned())
}

struct Walker {
    root: PathBuf,
    skip: Option<PathBuf>,
    /// Canonical directories entered, so symlinked directories cannot loop.
    visited: HashSet<PathBuf>,
    files: Vec<LocalFile>,
}

impl Walker {
    fn walk(&mut self, dir: &Path, rel: &mut Vec<String>) -> Result<()> {
        let listing = || format!("listing {}", dir.display());
        let mut entries = fs::read_dir(dir)
            .with_context(listing)?
            .collect::<Result<Vec<_>, _>>()
            .with_context(listing)?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let name = utf8_name(&path)?;
            let canon = path.canonicalize();
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            let canon = match canon {
                Ok(c) if !is_link || c.starts_with(&self.root) => c,
                Ok(c) => {
                    warn(
                        &path,
                        &format!("symlink to {} outside the input", c.display()),
                    );
                    continue;
                }
                Err(_) if is_link => {
                    warn(&path, "dangling symlink");
                    continue;
                }
                Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
            };
            let meta =
                fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
            if meta.is_dir() {
                if !self.visited.insert(canon) {
                    warn(&path, "directory already included (symlink loop)");
                    continue;
                }
                rel.push(name);
                self.walk(&path, rel)?;
                rel.pop();
            } else if meta.is_file() {
                if self.skip.as_ref() == Some(&canon) {
                    continue;
                }
                let mut components = rel.clone();
                components.push(name);
                self.files.push(LocalFile {
                    path,
                    components,
                    len: meta.len(),
                });
            } else {
                warn(&path, "not a regular file");
            }
        }
        Ok(())
    }
}

fn warn(path: &Path, why: &str) {
    eprintln!("warning: skipping {}: {why}", path.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_piece_length_targets_1000_to_2000_pieces() {
        assert_eq!(auto_piece_length(1), MIN_PIECE);
        assert_eq!(auto_piece_length(1 << 40), MAX_AUTO_PIECE);
        for total in [100 << 20, 1 << 30, 3_000_000_000, 7 << 30] {
            let n = total / u64::from(auto_piece_length(total));
            assert!((1000..=2000).contains(&n), "{total}: {n} pieces");
        }
    }

    #[test]
    fn piece_length_argument() {
        assert_eq!(parse_piece_length("256KiB"), Ok(256 << 10));
        assert!(parse_piece_length("100000").is_err());
        assert!(parse_piece_length("8KiB").is_err());
        assert!(parse_piece_length("128MiB").is_err());
    }

    #[test]
    fn tracker_urls() {
        assert!(check_tracker_url("http://127.0.0.1:6969/announce").is_ok());
        assert!(check_tracker_url("udp://t.example:1337").is_ok());
        assert!(check_tracker_url("ftp://x").is_err());
        assert!(check_tracker_url("http://").is_err());
        assert!(check_tracker_url("http://a b").is_err());
    }
}
