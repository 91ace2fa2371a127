//! `bt show`: print what a `.torrent` contains, for people or (`--json`) for scripts.

use std::path::PathBuf;

use anyhow::Result;
use engine_core::protocol::metainfo::Metainfo;
use serde::Serialize;

use crate::torrent_file::{load_with_extras, Extras};
use crate::units::{fmt_size, hex};

#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  bt show movie.torrent
  bt show movie.torrent --json | jq -r .info_hash")]
pub struct ShowArgs {
    /// The .torrent file.
    torrent: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    name: &'a str,
    info_hash: String,
    total_size: u64,
    piece_length: u32,
    piece_count: usize,
    private: bool,
    /// Tiers of announce URLs, in the order clients try them.
    trackers: Vec<Vec<String>>,
    files: Vec<File>,
    #[serde(flatten)]
    extras: Extras,
}

#[derive(Serialize)]
struct File {
    path: String,
    length: u64,
}

pub fn run(args: ShowArgs) -> Result<()> {
    let (meta, extras) = load_with_extras(&args.torrent)?;
    let s = summarize(&meta, extras);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print_text(&s);
    }
    Ok(())
}

fn summarize(meta: &Metainfo, extras: Extras) -> Summary<'_> {
    let trackers = if meta.announce_list.is_empty() {
        meta.announce.iter().map(|a| vec![a.clone()]).collect()
    } else {
        meta.announce_list.clone()
    };
    Summary {
        name: &meta.info.name,
        info_hash: hex(&meta.info_hash),
        total_size: meta.info.total_len(),
        piece_length: meta.info.piece_length,
        piece_count: meta.info.pieces.len(),
        private: meta.info.private,
        trackers,
        files: meta
            .info
            .files
            .iter()
            .map(|f| File {
                path: f.path.join("/"),
                length: f.length,
            })
            .collect(),
        extras,
    }
}

fn print_text(s: &Summary<'_>) {
    let size = |n: u64| format!("{} ({n} bytes)", fmt_size(n));
    println!("name:          {}", s.name);
    println!("info-hash:     {}", s.info_hash);
    println!("total size:    {}", size(s.total_size));
    println!("piece length:  {}", size(s.piece_length.into()));
    println!("pieces:        {}", s.piece_count);
    println!("private:       {}", if s.private { "yes" } else { "no" });
    if s.trackers.is_empty() {
        println!("trackers:      none");
    }
    for (i, tier) in s.trackers.iter().enumerate() {
        let label = if i == 0 { "trackers:" } else { "" };
        println!("{label:<14} tier {}: {}", i + 1, tier.join(", "));
    }
    if let Some(c) = &s.extras.comment {
        println!("comment:       {c}");
    }
    if let Some(c) = &s.extras.created_by {
        println!("created by:    {c}");
    }
    if let Some(t) = s.extras.creation_date {
        println!("creation date: {} (unix {t})", utc_date(t));
    }
    println!("files ({}):", s.files.len());
    for f in &s.files {
        println!("  {:>12}  {}", fmt_size(f.length), f.path);
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` from Unix seconds (civil-from-days, no time-zone database needed).
fn utc_date(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc_date(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
