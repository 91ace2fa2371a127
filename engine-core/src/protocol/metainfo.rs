//! The `.torrent` file (BEP 3, single- and multi-file; BEP 12 `announce-list`; BEP 27 `private`).
//!
//! Parsing validates everything later stages rely on: a consistent piece count, a non-empty
//! torrent, and file paths that cannot escape the download directory on any platform.

use crate::protocol::bencode::{self, Options, Value};
use crate::protocol::block::Geometry;
use sha1::{Digest, Sha1};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    pub announce: Option<String>,
    /// Tracker tiers (BEP 12); empty when absent.
    pub announce_list: Vec<Vec<String>>,
    pub info: Info,
    /// SHA-1 of the `info` dictionary's bytes exactly as they appear in the file.
    pub info_hash: [u8; 20],
    /// Those bytes: written back by [`Metainfo::to_bytes`] and served to BEP 9 peers, so the
    /// info-hash survives keys [`Info`] does not model.
    pub info_raw: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// File name (single-file) or top directory name (multi-file); a safe path component.
    pub name: String,
    pub piece_length: u32,
    pub pieces: Vec<[u8; 20]>,
    /// In torrent order. A single-file torrent is one entry whose path is `[name]`.
    pub files: Vec<FileEntry>,
    pub private: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components relative to the torrent's directory, each a safe component.
    pub path: Vec<String>,
    pub length: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    #[error(transparent)]
    Bencode(#[from] bencode::BencodeError),
    #[error("missing field {0:?}")]
    Missing(&'static str),
    #[error("field {0:?} has the wrong type")]
    WrongType(&'static str),
    #[error("field {0:?} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("piece length {0} is not in 1..=4294967295")]
    BadPieceLength(i64),
    #[error("pieces field is {0} bytes, not a multiple of 20")]
    BadPiecesLength(usize),
    #[error("{got} piece hashes for {want} pieces")]
    PieceCountMismatch { got: usize, want: u64 },
    #[error("file length {0} is negative")]
    BadFileLength(i64),
    #[error("unsafe file path {0:?}")]
    UnsafePath(String),
    #[error("info has both \"length\" and \"files\"")]
    LengthAndFiles,
    #[error("torrent has total length 0")]
    EmptyTorrent,
    #[error("torrent is too large to address")]
    TooLarge,
    #[error("private flag {0} is not 0 or 1")]
    BadPrivate(i64),
}

use MetainfoError as E;

impl Metainfo {
    /// Parses and validates a `.torrent`. Dictionary key order is not enforced because some
    /// real torrents get it wrong; the info-hash is unaffected since it covers the raw bytes.
    pub fn from_bytes(buf: &[u8]) -> Result<Metainfo, MetainfoError> {
        let top = bencode::decode_dict_with_spans(buf, &Options::lenient())?;
        let field = |key: &str| top.get(key.as_bytes()).map(|(v, _)| v);
        let (info, info_raw) = top.get(&b"info"[..]).ok_or(E::Missing("info"))?;
        let announce = field("announce")
            .map(|v| string(v, "announce"))
            .transpose()?;
        let announce_list = match field("announce-list") {
            None => Vec::new(),
            Some(tiers) => list(tiers, "announce-list")?
                .iter()
                .map(|tier| {
                    list(tier, "announce-list")?
                        .iter()
                        .map(|u| string(u, "announce-list"))
                        .collect()
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Metainfo {
            announce,
            announce_list,
            info: Info::from_value(info)?,
            info_hash: Sha1::digest(info_raw).into(),
            info_raw: info_raw.to_vec(),
        })
    }

    /// A torrent from an info dictionary fetched from peers (a magnet link's metadata) and
    /// the link's trackers, each its own BEP 12 tier.
    pub fn from_info(info_raw: &[u8], trackers: &[String]) -> Result<Metainfo, MetainfoError> {
        let info = bencode::decode_with(info_raw, &Options::lenient())?;
        Ok(Metainfo {
            announce: trackers.first().cloned(),
            announce_list: if trackers.len() > 1 {
                trackers.iter().map(|t| vec![t.clone()]).collect()
            } else {
                Vec::new()
            },
            info: Info::from_value(&info)?,
            info_hash: Sha1::digest(info_raw).into(),
            info_raw: info_raw.to_vec(),
        })
    }

    /// Every tracker URL once, in the order clients try them: the BEP 12 tiers flattened,
    /// then `announce` if no tier lists it.
    pub fn trackers(&self) -> Vec<String> {
        let mut urls: Vec<String> = self.announce_list.iter().flatten().cloned().collect();
        urls.extend(self.announce.clone());
        let mut seen = std::collections::BTreeSet::new();
        urls.retain(|u| seen.insert(u.clone()));
        urls
    }

    /// A new torrent, hashing `info` as [`Info::to_bencode`] writes it.
    pub fn new(info: Info, announce: Option<String>, announce_list: Vec<Vec<String>>) -> Self {
        let info_raw = info.to_bencode();
        Metainfo {
            announce,
            announce_list,
            info,
            info_hash: Sha1::digest(&info_raw).into(),
            info_raw,
        }
    }

    /// Encodes the torrent with the info dictionary's original bytes, so it keeps its
    /// info-hash. Other top-level keys of a parsed file (comment, creation date) are dropped.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut d = Vec::new();
        if let Some(a) = &self.announce {
            d.push(("announce", Value::bytes(a.as_bytes())));
        }
        if !self.announce_list.is_empty() {
            let tiers = self
                .announce_list
                .iter()
                .map(|tier| Value::List(tier.iter().map(|u| Value::bytes(u.as_bytes())).collect()));
            d.push(("announce-list", Value::List(tiers.collect())));
        }
        // "info" sorts after both announce keys: splice the raw bytes in before the final 'e'.
        let mut out = Value::dict(d).to_bytes();
        out.pop();
        out.extend_from_slice(b"4:info");
        out.extend_from_slice(&self.info_raw);
        out.push(b'e');
        out
    }
}

impl Info {
    fn from_value(v: &Value<'_>) -> Result<Info, MetainfoError> {
        if v.as_dict().is_none() {
            return Err(E::WrongType("info"));
        }
        let name = string(v.get("name").ok_or(E::Missing("name"))?, "name")?;
        if !is_safe_component(&name) {
            return Err(E::UnsafePath(name));
        }
        let piece_length = int(v, "piece length")?.ok_or(E::Missing("piece length"))?;
        let piece_length = u32::try_from(piece_length)
            .ok()
            .filter(|&l| l > 0)
            .ok_or(E::BadPieceLength(piece_length))?;
        let pieces = v.get("pieces").ok_or(E::Missing("pieces"))?;
        let pieces = pieces.as_bytes().ok_or(E::WrongType("pieces"))?;
        let hashes = pieces.chunks_exact(20);
        if !hashes.remainder().is_empty() {
            return Err(E::BadPiecesLength(pieces.len()));
        }
        let pieces: Vec<[u8; 20]> = hashes
            .map(|c| {
                let mut h = [0; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();
        let files = match (int(v, "length")?, v.get("files")) {
            (Some(len), None) => vec![FileEntry {
                path: vec![name.clone()],
                length: file_len(len)?,
            }],
            (None, Some(files)) => list(files, "files")?
                .iter()
                .map(file_entry)
                .collect::<Result<_, _>>()?,
            (Some(_), Some(_)) => return Err(E::LengthAndFiles),
            (None, None) => return Err(E::Missing("length")),
        };
        let private = match int(v, "private")? {
            None | Some(0) => false,
            Some(1) => true,
            Some(other) => return Err(E::BadPrivate(other)),
        };
        let total = files
            .iter()
            .try_fold(0u64, |t, f| t.checked_add(f.length))
            .ok_or(E::TooLarge)?;
        if total == 0 {
            return Err(E::EmptyTorrent);
        }
        // Geometry counts pieces in a u32.
        let want = total.div_ceil(u64::from(piece_length));
        if u32::try_from(want).is_err() {
            return Err(E::TooLarge);
        }
        if pieces.len() as u64 != want {
            return Err(E::PieceCountMismatch {
                got: pieces.len(),
                want,
            });
        }
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            private,
        })
    }

    /// Sum of file lengths.
    pub fn total_len(&self) -> u64 {
        self.files.iter().fold(0, |t, f| t.saturating_add(f.length))
    }

    /// Piece and block layout.
    ///
    /// # Panics
    /// If the torrent is empty or has piece length 0, which [`Metainfo::from_bytes`] rejects.
    pub fn geometry(&self) -> Geometry {
        Geometry::new(self.total_len(), self.piece_length)
    }

    /// The info dictionary in canonical form. The single-file layout is written when there is
    /// exactly one file and its path is `[name]`.
    pub fn to_bencode(&self) -> Vec<u8> {
        self.to_value().to_bytes()
    }

    fn to_value(&self) -> Value<'static> {
        // Lengths come from i64 when parsed; anything larger is not a real file.
        let len = |l: u64| Value::Int(i64::try_from(l).unwrap_or(i64::MAX));
        let mut d = vec![
            ("name", Value::bytes(self.name.as_bytes())),
            ("piece length", Value::Int(self.piece_length.into())),
            ("pieces", Value::bytes(self.pieces.concat())),
        ];
        match self.files.as_slice() {
            [only] if only.path == [self.name.as_str()] => d.push(("length", len(only.length))),
            files => {
                let files = files.iter().map(|f| {
                    let path = f.path.iter().map(|c| Value::bytes(c.as_bytes())).collect();
                    Value::dict([("length", len(f.length)), ("path", Value::List(path))])
                });
                d.push(("files", Value::List(files.collect())));
            }
        }
        if self.private {
            d.push(("private", Value::Int(1)));
        }
        Value::dict(d)
    }
}

fn string(v: &Value<'_>, field: &'static str) -> Result<String, MetainfoError> {
    let b = v.as_bytes().ok_or(E::WrongType(field))?;
    String::from_utf8(b.to_vec()).map_err(|_| E::NotUtf8(field))
}

fn list<'v, 'a>(v: &'v Value<'a>, field: &'static str) -> Result<&'v [Value<'a>], MetainfoError> {
    v.as_list().ok_or(E::WrongType(field))
}

/// `dict[key]` as an integer, if present.
fn int(dict: &Value<'_>, key: &'static str) -> Result<Option<i64>, MetainfoError> {
    dict.get(key)
        .map(|v| v.as_int().ok_or(E::WrongType(key)))
        .transpose()
}

fn file_len(len: i64) -> Result<u64, MetainfoError> {
    u64::try_from(len).map_err(|_| E::BadFileLength(len))
}

fn file_entry(v: &Value<'_>) -> Result<FileEntry, MetainfoError> {
    if v.as_dict().is_none() {
        return Err(E::WrongType("files"));
    }
    let length = file_len(int(v, "length")?.ok_or(E::Missing("length"))?)?;
    let path: Vec<String> = list(v.get("path").ok_or(E::Missing("path"))?, "path")?
        .iter()
        .map(|c| string(c, "path"))
        .collect::<Result<_, _>>()?;
    if path.is_empty() || !path.iter().all(|c| is_safe_component(c)) {
        return Err(E::UnsafePath(path.join("/")));
    }
    Ok(FileEntry { path, length })
}

/// Whether `c` names an entry inside its directory on every platform: not empty, `.` or `..`,
/// free of separators and NUL, and not a Windows drive prefix like `C:` (joining one replaces
/// the whole path there).
fn is_safe_component(c: &str) -> bool {
    let drive = matches!(c.as_bytes(), [l, b':', ..] if l.is_ascii_alphabetic());
    !(c.is_empty() || c == "." || c == ".." || drive || c.contains(['/', '\\', '\0']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A single-file torrent of 100000 bytes in 32 KiB pieces (4 pieces).
    fn single_file_info() -> Vec<u8> {
        let mut info =
            b"d6:lengthi100000e4:name8:test.bin12:piece lengthi32768e6:pieces80:".to_vec();
        for b in [0xaa, 0xbb, 0xcc, 0xdd] {
            info.extend_from_slice(&[b; 20]);
        }
        info.push(b'e');
        info
    }

    fn torrent(info: &[u8]) -> Vec<u8> {
        [&b"d8:announce20:http://t.example/ann4:info"[..], info, b"e"].concat()
    }

    fn multi_file(files: &str) -> Vec<u8> {
        let mut info =
            format!("d5:files{files}4:name3:dir12:piece lengthi16e6:pieces20:").into_bytes();
        info.extend_from_slice(&[7; 20]);
        info.push(b'e');
        torrent(&info)
    }

    fn hex(h: &[u8; 20]) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn single_file_with_known_info_hash() {
        let info = single_file_info();
        let m = Metainfo::from_bytes(&torrent(&info)).expect("valid");
        // Computed independently: `sha1sum` over the info dictionary bytes.
        assert_eq!(
            hex(&m.info_hash),
            "1bf5fbf33ebe91da60d48008fa5531b9a006f1a7"
        );
        assert_eq!(m.announce.as_deref(), Some("http://t.example/ann"));
        assert!(m.announce_list.is_empty());
        assert_eq!(m.info.name, "test.bin");
        assert_eq!(
            m.info.files,
            [FileEntry {
                path: vec!["test.bin".into()],
                length: 100_000
            }]
        );
        assert_eq!(m.info.pieces[3], [0xdd; 20]);
        assert!(!m.info.private);
        let g = m.info.geometry();
        assert_eq!((g.num_pieces(), g.piece_size(3)), (4, 100_000 - 3 * 32768));
        // Canonical input: re-encoding reproduces the bytes, hash and file.
        assert_eq!(m.info.to_bencode(), info);
        assert_eq!(Metainfo::new(m.info.clone(), m.announce.clone(), vec![]), m);
        assert_eq!(m.to_bytes(), torrent(&info));
    }

    #[test]
    fn info_hash_covers_raw_bytes_not_a_re_encoding() {
        // Keys out of order and an unknown key: accepted, and hashed as written.
        let mut info = b"d4:name1:x6:lengthi1e12:piece lengthi1e6:source3:abc6:pieces20:".to_vec();
        info.extend_from_slice(&[1; 20]);
        info.push(b'e');
        let m = Metainfo::from_bytes(&torrent(&info)).expect("valid");
        assert_eq!(m.info_hash, <[u8; 20]>::from(Sha1::digest(&info)));
        assert_ne!(m.info.to_bencode(), info);
    }

    #[test]
    fn multi_file_and_announce_list() {
        let mut buf = b"d13:announce-listll3:t1a3:t1bel2:t2ee4:info".to_vec();
        buf.extend_from_slice(
            b"d5:filesld6:lengthi10e4:pathl1:a5:b.txteed6:lengthi0e4:pathl1:ceee",
        );
        buf.extend_from_slice(b"4:name3:dir12:piece lengthi16e6:pieces20:");
        buf.extend_from_slice(&[7; 20]);
        buf.extend_from_slice(b"7:privatei1eee");
        let m = Metainfo::from_bytes(&buf).expect("valid");
        assert_eq!(m.announce, None);
        assert_eq!(m.announce_list, [vec!["t1a", "t1b"], vec!["t2"]]);
        assert_eq!(m.trackers(), ["t1a", "t1b", "t2"]);
        let with_announce = Metainfo {
            announce: Some("t2".into()),
            ..m.clone()
        };
        assert_eq!(
            with_announce.trackers(),
            ["t1a", "t1b", "t2"],
            "listed once"
        );
        assert_eq!(
            m.info.files[0],
            FileEntry {
                path: vec!["a".into(), "b.txt".into()],
                length: 10
            }
        );
        assert_eq!(
            m.info.files[1],
            FileEntry {
                path: vec!["c".into()],
                length: 0
            }
        );
        assert_eq!((m.info.total_len(), m.info.private), (10, true));
        assert_eq!(Metainfo::from_bytes(&m.to_bytes()), Ok(m));
    }

    #[test]
    fn rejects_path_traversal() {
        let cases = [
            ("l2:..3:etc6:passwde", "../etc/passwd"),
            ("l1:.e", "."),
            ("l0:e", ""),
            ("le", ""),
            ("l9:../passwde", "../passwd"),
            ("l4:/etce", "/etc"),
            ("l6:a\\..\\be", "a\\..\\b"),
            ("l2:C:3:Wine", "C:/Win"),
            ("l3:a\0be", "a\0b"),
        ];
        for (path, shown) in cases {
            let files = format!("ld6:lengthi1e4:path{path}ee");
            assert_eq!(
                Metainfo::from_bytes(&multi_file(&files)),
                Err(E::UnsafePath(shown.into())),
                "{path}"
            );
        }
        let mut info = b"d6:lengthi1e4:name2:..12:piece lengthi1e6:pieces20:".to_vec();
        info.extend_from_slice(&[0; 20]);
        info.push(b'e');
        assert_eq!(
            Metainfo::from_bytes(&torrent(&info)),
            Err(E::UnsafePath("..".into()))
        );
        // A colon elsewhere is an ordinary file name character.
        assert!(Metainfo::from_bytes(&multi_file("ld6:lengthi1e4:pathl9:Re: noteseee")).is_ok());
    }

    #[test]
    fn rejects_inconsistent_pieces_and_lengths() {
        let with = |from: &[u8], to: &[u8]| {
            let info = single_file_info();
            let at = info
                .windows(from.len())
                .position(|w| w == from)
                .expect("present");
            let info = [&info[..at], to, &info[at + from.len()..]].concat();
            Metainfo::from_bytes(&torrent(&info))
        };
        assert_eq!(
            with(b"6:pieces80:\xaa", b"6:pieces79:"),
            Err(E::BadPiecesLength(79))
        );
        assert_eq!(
            with(&[&b"6:pieces80:"[..], &[0xaa; 20]].concat(), b"6:pieces60:"),
            Err(E::PieceCountMismatch { got: 3, want: 4 })
        );
        assert_eq!(
            with(b"lengthi100000e", b"lengthi200000e"),
            Err(E::PieceCountMismatch { got: 4, want: 7 })
        );
        assert_eq!(with(b"lengthi100000e", b"lengthi0e"), Err(E::EmptyTorrent));
        assert_eq!(
            with(b"lengthi100000e", b"lengthi-1e"),
            Err(E::BadFileLength(-1))
        );
        assert_eq!(
            with(b"lengthi32768e", b"lengthi0e"),
            Err(E::BadPieceLength(0))
        );
        assert_eq!(
            with(b"lengthi32768e", b"lengthi4294967296e"),
            Err(E::BadPieceLength(1 << 32))
        );
        assert_eq!(
            with(b"lengthi32768e", b"length5:32768"),
            Err(E::WrongType("piece length"))
        );
        assert_eq!(with(b"4:name8:test.bin", b""), Err(E::Missing("name")));
        assert_eq!(
            with(b"6:lengthi100000e", b"5:filesle"),
            Err(E::EmptyTorrent)
        );
        assert_eq!(with(b"6:lengthi100000e", b""), Err(E::Missing("length")));
        assert_eq!(
            with(b"6:lengthi100000e", b"5:filesle6:lengthi100000e"),
            Err(E::LengthAndFiles)
        );
        assert_eq!(
            with(b"6:pieces80:", b"7:privatei2e6:pieces80:"),
            Err(E::BadPrivate(2))
        );
        assert_eq!(Metainfo::from_bytes(b"de"), Err(E::Missing("info")));
        assert_eq!(
            Metainfo::from_bytes(b"d4:infoi1ee"),
            Err(E::WrongType("info"))
        );
    }

    fn arb_info() -> impl Strategy<Value = Info> {
        let file = (proptest::collection::vec("[a-z.]{1,6}", 1..3), 0u64..5000)
            .prop_map(|(path, length)| FileEntry { path, length });
        (
            "[a-z]{1,8}",
            1u32..4096,
            proptest::option::of(1u64..20_000),
            proptest::collection::vec(file, 1..4),
            any::<bool>(),
        )
            .prop_filter_map(
                "safe, non-empty",
                |(name, piece_length, single, files, private)| {
                    let files = match single {
                        Some(length) => vec![FileEntry {
                            path: vec![name.clone()],
                            length,
                        }],
                        None => files,
                    };
                    let info = Info {
                        name,
                        piece_length,
                        pieces: Vec::new(),
                        files,
                        private,
                    };
                    let total = info.total_len();
                    let safe = info
                        .files
                        .iter()
                        .flat_map(|f| &f.path)
                        .all(|c| is_safe_component(c));
                    (total > 0 && safe).then(|| {
                        let n = total.div_ceil(u64::from(piece_length)) as usize;
                        Info {
                            pieces: (0..n).map(|i| [i as u8; 20]).collect(),
                            ..info
                        }
                    })
                },
            )
    }

    proptest! {
        #[test]
        fn round_trips(info in arb_info(), announce in proptest::option::of("[a-z:/.]{1,20}")) {
            let m = Metainfo::new(info, announce, vec![vec!["udp://a".into()]]);
            prop_assert_eq!(Metainfo::from_bytes(&m.to_bytes()), Ok(m));
        }

        #[test]
        fn parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Metainfo::from_bytes(&bytes);
        }

        #[test]
        fn corrupted_torrents_are_total(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut buf = torrent(&single_file_info());
            let i = at.index(buf.len());
            buf[i] = byte;
            if let Ok(m) = Metainfo::from_bytes(&buf) {
                prop_assert!(m.info.total_len() > 0);
            }
        }
    }
}
