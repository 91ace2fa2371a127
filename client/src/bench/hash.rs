//! Hashing throughput: raw SHA-1 in memory, then whole-file piece hashing through `Storage`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use sha1::{Digest, Sha1};

use crate::create::auto_piece_length;
use crate::storage::{Mode, Storage};
use crate::units::{fmt_size, parse_size};

#[derive(clap::Args)]
#[command(after_help = "Example:\n  bt bench hash --size 1GiB --dir /tmp")]
pub struct HashBench {
    /// Size of the generated test file.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    size: u64,
    /// Directory for the test file (deleted afterwards).
    #[arg(long, default_value = "/tmp")]
    dir: PathBuf,
}

pub fn run(args: HashBench) -> Result<()> {
    let path = args
        .dir
        .join(format!("bt-bench-{}.bin", std::process::id()));
    let _cleanup = Cleanup(path.clone());
    write_test_file(&path, args.size)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let buf = vec![0x5au8; 64 << 20];
    let t = Instant::now();
    let mut h = Sha1::new();
    for _ in 0..4 {
        h.update(&buf);
    }
    std::hint::black_box(h.finalize());
    println!(
        "sha1 in memory, 1 thread:       {:.2} GB/s",
        gbps(4 * buf.len() as u64, t)
    );

    let piece_len = auto_piece_length(args.size);
    let storage = Storage::from_files(vec![(path.clone(), args.size)], piece_len, Mode::Read);
    println!(
        "file {} ({}, pieces of {}, page-cached):",
        path.display(),
        fmt_size(args.size),
        fmt_size(piece_len.into())
    );
    for threads in [1, cores] {
        let t = Instant::now();
        storage.try_hash_all(threads, |_| {})?;
        let rate = gbps(args.size, t);
        println!(
            "  create hashing, {threads} thread(s): {rate:.2} GB/s ({:.2} GB/s per core)",
            rate / threads as f64
        );
    }
    Ok(())
}

fn gbps(bytes: u64, since: Instant) -> f64 {
    bytes as f64 / since.elapsed().as_secs_f64() / 1e9
}

/// Pseudo-random contents (xorshift), written once; it stays in the page cache for the runs.
fn write_test_file(path: &PathBuf, size: u64) -> Result<()> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::with_capacity(4 << 20, f);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..n])
            .with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Removes the test file however the benchmark ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
