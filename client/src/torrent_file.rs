//! Loading `.torrent` files, with the optional descriptive fields `show` prints.

use std::path::Path;

use anyhow::{Context, Result};
use engine_core::protocol::bencode::{self, Options};
use engine_core::protocol::metainfo::Metainfo;

/// Reads and validates a torrent; errors name the file.
pub fn load(path: &Path) -> Result<Metainfo> {
    load_with_extras(path).map(|(m, _)| m)
}

/// [`load`], plus the top-level fields engine-core's [`Metainfo`] does not keep.
pub fn load_with_extras(path: &Path) -> Result<(Metainfo, Extras)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let meta = Metainfo::from_bytes(&bytes)
        .with_context(|| format!("{}: invalid torrent", path.display()))?;
    Ok((meta, Extras::parse(&bytes)))
}

/// Descriptive fields; absent or malformed ones are `None` since nothing depends on them.
#[derive(Debug, Default, serde::Serialize)]
pub struct Extras {
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Unix seconds.
    pub creation_date: Option<i64>,
}

impl Extras {
    fn parse(bytes: &[u8]) -> Extras {
        let Ok(top) = bencode::decode_with(bytes, &Options::lenient()) else {
            return Extras::default();
        };
        let text = |k| top.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        Extras {
            comment: text("comment"),
            created_by: text("created by"),
            creation_date: top.get("creation date").and_then(|v| v.as_int()),
        }
    }
}
