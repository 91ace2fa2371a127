//! BEP 48 scrape client: the swarm's seeder and leecher counts for one info-hash.

use anyhow::{anyhow, bail, Context, Result};
use engine_core::protocol::bencode::Value;

use crate::announce::{decode_reply, http_get, percent_encode, HTTP_TIMEOUT};

/// Seeders (`complete`) and leechers (`incomplete`) as the tracker counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    pub seeders: u64,
    pub leechers: u64,
}

/// The scrape URL of an announce URL by BEP 48's convention: the last path component must
/// start with `announce`, which becomes `scrape`; other trackers cannot be scraped.
pub fn scrape_url(announce: &str) -> Result<String> {
    let path_start = announce
        .find("://")
        .map(|i| i + 3)
        .and_then(|i| announce[i..].find('/').map(|j| i + j))
        .ok_or_else(|| anyhow!("tracker {announce:?} has no path, so no scrape URL"))?;
    let path_end = announce[path_start..]
        .find('?')
        .map_or(announce.len(), |i| path_start + i);
    let slash = path_start + announce[path_start..path_end].rfind('/').unwrap_or(0) + 1;
    match announce[slash..].strip_prefix("announce") {
        Some(rest) if slash + "announce".len() <= path_end => {
            Ok(format!("{}scrape{rest}", &announce[..slash]))
        }
        _ => bail!(
            "tracker {announce:?} does not support scrape (BEP 48: the last path component must \
             start with \"announce\")"
        ),
    }
}

/// Asks the tracker at `url` for the counts of `info_hash`; a torrent it does not list has
/// nobody in its swarm.
pub async fn scrape(url: &str, info_hash: &[u8; 20]) -> Result<Counts> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let full = format!("{url}{sep}info_hash={}", percent_encode(info_hash));
    let body = tokio::time::timeout(HTTP_TIMEOUT, http_get(&full))
        .await
        .map_err(|_| anyhow!("scrape {url}: no answer within {HTTP_TIMEOUT:?}"))?
        .with_context(|| format!("scrape {url}"))?;
    parse(&body, info_hash).with_context(|| format!("scrape response from {url}"))
}

fn parse(body: &[u8], info_hash: &[u8; 20]) -> Result<Counts> {
    let v = decode_reply(body)?;
    let files = v
        .get("files")
        .and_then(Value::as_dict)
        .ok_or_else(|| anyhow!("missing \"files\""))?;
    let Some(entry) = files.get(&info_hash[..]) else {
        return Ok(Counts {
            seeders: 0,
            leechers: 0,
        });
    };
    let count = |key| {
        entry
            .get(key)
            .and_then(Value::as_int)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| anyhow!("missing \"{key}\""))
    };
    Ok(Counts {
        seeders: count("complete")?,
        leechers: count("incomplete")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep48_scrape_urls() {
        let ok = |a: &str, s: &str| assert_eq!(scrape_url(a).unwrap(), s);
        ok("http://t:1/announce", "http://t:1/scrape");
        ok("http://t/x/announce.php?k=1", "http://t/x/scrape.php?k=1");
        ok("http://t/announce?a=/b", "http://t/scrape?a=/b");
        for bad in [
            "http://t:1",
            "http://t/a",
            "http://t/announce/x",
            "t/announce",
        ] {
            assert!(scrape_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_counts() {
        let h = [7u8; 20];
        let mut body = b"d5:filesd20:".to_vec();
        body.extend_from_slice(&h);
        body.extend_from_slice(b"d8:completei2e10:downloadedi5e10:incompletei3eeee");
        let want = Counts {
            seeders: 2,
            leechers: 3,
        };
        assert_eq!(parse(&body, &h).unwrap(), want);
        let none = Counts {
            seeders: 0,
            leechers: 0,
        };
        assert_eq!(parse(b"d5:filesdee", &h).unwrap(), none);
        assert!(parse(b"d14:failure reason3:no!e", &h).is_err());
        assert!(parse(b"de", &h).is_err());
    }
}
