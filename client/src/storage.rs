//! Maps a torrent's byte stream onto files on disk: block reads and writes, piece hashing, and
//! safe placement of the files under a download directory.
//!
//! Used by `create` and `verify`, and meant for the seeding and downloading peer tasks too:
//! every read and write is positional (`pread`/`pwrite`), so one `Storage` can be shared by many
//! threads (wrap it in an `Arc`) without a lock, and `hash_piece` can run on a blocking pool.
//!
//! Path safety is layered: engine-core's metainfo parser already refuses `..`, separators and
//! drive prefixes in names, [`safe_join`] checks the components again, and it also refuses any
//! existing symlink on the way that resolves outside the download directory, so a crafted
//! torrent cannot make us read or write through a planted link.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use engine_core::protocol::metainfo::Info;
use rayon::prelude::*;
use sha1::{Digest, Sha1};

/// Bytes hashed per read: large enough to amortise the syscall, small enough to stay in L2.
const CHUNK: usize = 256 * 1024;

/// Above this many files, handles are opened per access instead of cached, so a torrent with
/// many small files cannot exhaust the process's file descriptors.
const MAX_CACHED_HANDLES: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: file is missing", .0.display())]
    Missing(PathBuf),
    #[error("{}: file is shorter than the torrent says", .0.display())]
    Short(PathBuf),
    #[error("unsafe path component {0:?} in torrent")]
    UnsafeComponent(String),
    #[error("{}: symlink resolves to {}, outside {}", link.display(), target.display(), root.display())]
    SymlinkEscape {
        link: PathBuf,
        target: PathBuf,
        root: PathBuf,
    },
    #[error("block (piece {piece}, offset {begin}, length {len}) is outside the torrent")]
    OutOfRange { piece: u32, begin: u32, len: u32 },
}

/// How [`Storage::open`] treats the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Open existing files read-only; missing ones make the pieces that touch them fail.
    Read,
    /// Create directories and files as needed and extend short files to their length (never
    /// truncate: the directory may hold someone's larger file by mistake).
    ReadWrite,
}

/// One file's place in the torrent's byte stream.
#[derive(Debug)]
pub struct FileSpan {
    pub path: PathBuf,
    /// Offset of the file's first byte in the torrent.
    pub offset: u64,
    pub len: u64,
    handle: OnceLock<File>,
}

/// A torrent's files on disk, addressed by piece.
#[derive(Debug)]
pub struct Storage {
    files: Vec<FileSpan>,
    piece_len: u32,
    total_len: u64,
    mode: Mode,
}

impl Storage {
    /// The files of `info` under `dir` (the save directory: a single-file torrent is
    /// `dir/name`, a multi-file one `dir/name/...`).
    pub fn open(dir: &Path, info: &Info, mode: Mode) -> Result<Storage, StorageError> {
        if mode == Mode::ReadWrite {
            fs::create_dir_all(dir).map_err(io_at(dir))?;
        }
        let multi = !matches!(info.files.as_slice(), [f] if f.path == [info.name.as_str()]);
        let mut files = Vec::with_capacity(info.files.len());
        for f in &info.files {
            let comps: Vec<&str> = if multi {
                std::iter::once(info.name.as_str())
                    .chain(f.path.iter().map(String::as_str))
                    .collect()
            } else {
                vec![info.name.as_str()]
            };
            files.push((safe_join(dir, &comps)?, f.length));
        }
        let storage = Storage::from_files(files, info.piece_length, mode);
        if mode == Mode::ReadWrite {
            for f in &storage.files {
                storage.prepare(f)?;
            }
        }
        Ok(storage)
    }

    /// Storage over an explicit list of `(path, length)` in torrent order; `create` uses this
    /// for the files it found on disk.
    pub fn from_files(files: Vec<(PathBuf, u64)>, piece_len: u32, mode: Mode) -> Storage {
        assert!(piece_len > 0, "piece length must be positive");
        let mut offset = 0;
        let files = files
            .into_iter()
            .map(|(path, len)| {
                let span = FileSpan {
                    path,
                    offset,
                    len,
                    handle: OnceLock::new(),
                };
                offset += len;
                span
            })
            .collect();
        Storage {
            files,
            piece_len,
            total_len: offset,
            mode,
        }
    }

    pub fn files(&self) -> &[FileSpan] {
        &self.files
    }

    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    pub fn num_pieces(&self) -> u32 {
        self.total_len.div_ceil(u64::from(self.piece_len)) as u32
    }

    /// Length of piece `piece` (the last one may be short); 0 past the end.
    pub fn piece_size(&self, piece: u32) -> u32 {
        let start = u64::from(piece) * u64::from(self.piece_len);
        self.total_len
            .saturating_sub(start)
            .min(u64::from(self.piece_len)) as u32
    }

    /// Reads `len` bytes at `begin` within `piece`.
    pub fn read_block(&self, piece: u32, begin: u32, len: u32) -> Result<Vec<u8>, StorageError> {
        let offset = self.block_offset(piece, begin, len)?;
        let mut buf = vec![0; len as usize];
        self.read_at(offset, &mut buf)?;
        Ok(buf)
    }

    /// Writes `data` at `begin` within `piece`. Needs [`Mode::ReadWrite`].
    pub fn write_block(&self, piece: u32, begin: u32, data: &[u8]) -> Result<(), StorageError> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut offset = self.block_offset(piece, begin, len)?;
        let mut data = data;
        while !data.is_empty() {
            let (f, within) = self.locate(offset);
            let n = (f.len - within).min(data.len() as u64) as usize;
            self.with_handle(f, |h| h.write_all_at(&data[..n], within))?;
            data = &data[n..];
            offset += n as u64;
        }
        Ok(())
    }

    /// SHA-1 of piece `piece` as stored now.
    pub fn hash_piece(&self, piece: u32) -> Result<[u8; 20], StorageError> {
        self.hash_piece_with(piece, &mut Vec::new())
    }

    /// [`Storage::hash_piece`] reusing `buf` as scratch space, for hashing many pieces.
    pub fn hash_piece_with(&self, piece: u32, buf: &mut Vec<u8>) -> Result<[u8; 20], StorageError> {
        let size = self.piece_size(piece);
        if size == 0 {
            return Err(StorageError::OutOfRange {
                piece,
                begin: 0,
                len: 0,
            });
        }
        buf.resize(CHUNK.min(size as usize), 0);
        let mut offset = u64::from(piece) * u64::from(self.piece_len);
        let end = offset + u64::from(size);
        let mut h = Sha1::new();
        while offset < end {
            let n = buf.len().min((end - offset) as usize);
            self.read_at(offset, &mut buf[..n])?;
            h.update(&buf[..n]);
            offset += n as u64;
        }
        Ok(h.finalize().into())
    }

    /// Hashes every piece on `threads` threads (0: all cores), calling `done(bytes)` after each
    /// piece for progress; one result per piece, so a caller can report every bad piece.
    pub fn hash_all(
        &self,
        threads: usize,
        done: impl Fn(u64) + Sync,
    ) -> Vec<Result<[u8; 20], StorageError>> {
        self.in_pool(threads, || {
            (0..self.num_pieces())
                .into_par_iter()
                .map_init(Vec::new, |buf, p| self.hash_one(p, buf, &done))
                .collect()
        })
    }

    /// Like [`Storage::hash_all`] but stops at the first error, for `create`.
    pub fn try_hash_all(
        &self,
        threads: usize,
        done: impl Fn(u64) + Sync,
    ) -> Result<Vec<[u8; 20]>, StorageError> {
        self.in_pool(threads, || {
            (0..self.num_pieces())
                .into_par_iter()
                .map_init(Vec::new, |buf, p| self.hash_one(p, buf, &done))
                .collect()
        })
    }

    fn hash_one(
        &self,
        piece: u32,
        buf: &mut Vec<u8>,
        done: impl Fn(u64),
    ) -> Result<[u8; 20], StorageError> {
        let h = self.hash_piece_with(piece, buf);
        done(u64::from(self.piece_size(piece)));
        h
    }

    /// Runs `op` on a dedicated pool so the caller controls the thread count.
    fn in_pool<T: Send>(&self, threads: usize, op: impl FnOnce() -> T + Send) -> T {
        match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) => pool.install(op),
            // Only fails if the OS refuses threads; the global pool is the best fallback.
            Err(_) => op(),
        }
    }

    /// Fills `buf` from torrent offset `offset`, crossing file boundaries as needed.
    pub fn read_at(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<(), StorageError> {
        if offset + buf.len() as u64 > self.total_len {
            return Err(StorageError::OutOfRange {
                piece: (offset / u64::from(self.piece_len)) as u32,
                begin: (offset % u64::from(self.piece_len)) as u32,
                len: buf.len() as u32,
            });
        }
        while !buf.is_empty() {
            let (f, within) = self.locate(offset);
            let n = (f.len - within).min(buf.len() as u64) as usize;
            let (now, rest) = buf.split_at_mut(n);
            self.with_handle(f, |h| h.read_exact_at(now, within))
                .map_err(|e| match e {
                    StorageError::Io { path, source }
                        if source.kind() == io::ErrorKind::UnexpectedEof =>
                    {
                        StorageError::Short(path)
                    }
                    e => e,
                })?;
            buf = rest;
            offset += n as u64;
        }
        Ok(())
    }

    fn block_offset(&self, piece: u32, begin: u32, len: u32) -> Result<u64, StorageError> {
        let size = self.piece_size(piece);
        if len == 0 || u64::from(begin) + u64::from(len) > u64::from(size) {
            return Err(StorageError::OutOfRange { piece, begin, len });
        }
        Ok(u64::from(piece) * u64::from(self.piece_len) + u64::from(begin))
    }

    /// The non-empty file holding byte `offset` (< total length), and the offset within it.
    fn locate(&self, offset: u64) -> (&FileSpan, u64) {
        let i = self.files.partition_point(|f| f.offset + f.len <= offset);
        let f = &self.files[i];
        (f, offset - f.offset)
    }

    /// Runs `op` on an open handle of `f`, cached when the torrent has few files.
    fn with_handle<T>(
        &self,
        f: &FileSpan,
        op: impl FnOnce(&File) -> io::Result<T>,
    ) -> Result<T, StorageError> {
        let open = || {
            let mut o = OpenOptions::new();
            o.read(true).write(self.mode == Mode::ReadWrite);
            o.open(&f.path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => StorageError::Missing(f.path.clone()),
                _ => StorageError::Io {
                    path: f.path.clone(),
                    source: e,
                },
            })
        };
        let res = if self.files.len() <= MAX_CACHED_HANDLES {
            let h = match f.handle.get() {
                Some(h) => h,
                None => {
                    let h = open()?;
                    f.handle.get_or_init(|| h)
                }
            };
            op(h)
        } else {
            op(&open()?)
        };
        res.map_err(io_at(&f.path))
    }

    /// Creates `f` (and its directories) and extends it to its length.
    fn prepare(&self, f: &FileSpan) -> Result<(), StorageError> {
        if let Some(parent) = f.path.parent() {
            fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        let h = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&f.path)
            .map_err(io_at(&f.path))?;
        let len = h.metadata().map_err(io_at(&f.path))?.len();
        if len < f.len {
            h.set_len(f.len).map_err(io_at(&f.path))?;
        }
        if self.files.len() <= MAX_CACHED_HANDLES {
            let _ = f.handle.set(h);
        }
        Ok(())
    }
}

/// `root/c1/c2/...`, refusing unsafe components and existing symlinks that lead outside `root`.
///
/// `root` itself may be a symlink (users point downloads at linked disks); only links inside
/// it are checked. Links created after this check are not caught: the directory is the user's.
pub fn safe_join(root: &Path, components: &[&str]) -> Result<PathBuf, StorageError> {
    let canon_root = root.canonicalize().map_err(io_at(root))?;
    let mut path = root.to_path_buf();
    for c in components {
        if !is_safe_component(c) {
            return Err(StorageError::UnsafeComponent((*c).to_owned()));
        }
        path.push(c);
        let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            // A dangling link counts as escaping: writing through it would create its target.
            let target = fs::read_link(&path).unwrap_or_default();
            match path.canonicalize() {
                Ok(t) if t.starts_with(&canon_root) => {}
                resolved => {
                    return Err(StorageError::SymlinkEscape {
                        link: path,
                        target: resolved.unwrap_or(target),
                        root: root.to_path_buf(),
                    })
                }
            }
        }
    }
    Ok(path)
}

/// The same rule as engine-core's metainfo parser: one normal component on every platform.
pub fn is_safe_component(c: &str) -> bool {
    let drive = matches!(c.as_bytes(), [l, b':', ..] if l.is_ascii_alphabetic());
    !(c.is_empty() || c == "." || c == ".." || drive || c.contains(['/', '\\', '\0']))
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage_in(dir: &Path, lens: &[u64], piece_len: u32) -> Storage {
        let files = lens
            .iter()
            .enumerate()
            .map(|(i, &l)| (dir.join(format!("f{i}")), l))
            .collect();
        let s = Storage::from_files(files, piece_len, Mode::ReadWrite);
        for f in s.files() {
            s.prepare(f).unwrap();
        }
        s
    }

    #[test]
    fn blocks_cross_file_boundaries_and_skip_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage_in(dir.path(), &[5, 0, 7, 4], 8);
        assert_eq!((s.num_pieces(), s.piece_size(1)), (2, 8));
        let data: Vec<u8> = (0..16).collect();
        s.write_block(0, 0, &data[..8]).unwrap();
        s.write_block(1, 0, &data[8..]).unwrap();
        assert_eq!(s.read_block(0, 3, 5).unwrap(), &data[3..8]);
        assert_eq!(s.read_block(1, 4, 4).unwrap(), &data[12..]);
        assert_eq!(fs::read(dir.path().join("f0")).unwrap(), &data[..5]);
        assert_eq!(fs::read(dir.path().join("f2")).unwrap(), &data[5..12]);
        assert_eq!(fs::read(dir.path().join("f1")).unwrap(), b"");
        let want: [u8; 20] = Sha1::digest(&data[8..]).into();
        assert_eq!(s.hash_piece(1).unwrap(), want);
        assert!(matches!(
            s.read_block(1, 4, 5),
            Err(StorageError::OutOfRange { .. })
        ));
        assert!(matches!(
            s.hash_piece(2),
            Err(StorageError::OutOfRange { piece: 2, .. })
        ));
    }

    #[test]
    fn missing_and_short_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::from_files(
            vec![(dir.path().join("a"), 4), (dir.path().join("b"), 4)],
            4,
            Mode::Read,
        );
        fs::write(dir.path().join("a"), b"xy").unwrap();
        assert!(matches!(s.hash_piece(0), Err(StorageError::Short(_))));
        assert!(matches!(s.hash_piece(1), Err(StorageError::Missing(_))));
    }

    #[test]
    fn safe_join_refuses_escaping_symlinks() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("dl");
        fs::create_dir_all(root.join("inside")).unwrap();
        let outside = base.path().join("outside");
        fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        std::os::unix::fs::symlink(root.join("inside"), root.join("ok")).unwrap();
        std::os::unix::fs::symlink(base.path().join("nowhere"), root.join("dangling")).unwrap();
        assert!(matches!(
            safe_join(&root, &["evil", "x"]),
            Err(StorageError::SymlinkEscape { .. })
        ));
        assert!(matches!(
            safe_join(&root, &["dangling"]),
            Err(StorageError::SymlinkEscape { .. })
        ));
        assert_eq!(
            safe_join(&root, &["ok", "x"]).unwrap(),
            root.join("ok").join("x")
        );
        for bad in ["..", ".", "", "a/b", "a\\b", "C:", "a\0"] {
            assert!(
                matches!(
                    safe_join(&root, &[bad]),
                    Err(StorageError::UnsafeComponent(_))
                ),
                "{bad:?}"
            );
        }
    }
}
