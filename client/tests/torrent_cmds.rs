//! `bt create`, `bt show` and `bt verify` end to end through the real binary.

mod common;

use std::fs;

use common::{bt_err, bt_ok, data, write};
use engine_core::protocol::metainfo::Metainfo;
use tempfile::TempDir;

const TRACKER: &str = "http://127.0.0.1:6969/announce";

fn show_json(torrent: &str) -> serde_json::Value {
    serde_json::from_str(&bt_ok(&["show", torrent, "--json"])).expect("json")
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn single_file_round_trip() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("movie.bin");
    write(&file, &data(1_000_003, 1));
    let torrent = dir.path().join("movie.torrent");
    let out = bt_ok(&[
        "create",
        s(&file),
        "--tracker",
        TRACKER,
        "--piece-length",
        "64KiB",
        "--comment",
        "round trip",
        "-o",
        s(&torrent),
    ]);
    let meta = Metainfo::from_bytes(&fs::read(&torrent).unwrap()).unwrap();
    let hash = common::hex(&meta.info_hash);
    assert!(out.contains(&hash), "{out}");

    let j = show_json(s(&torrent));
    assert_eq!(j["name"], "movie.bin");
    assert_eq!(j["info_hash"], hash.as_str());
    assert_eq!(j["total_size"], 1_000_003);
    assert_eq!(j["piece_length"], 65536);
    assert_eq!(j["piece_count"], 16);
    assert_eq!(j["private"], false);
    assert_eq!(j["comment"], "round trip");
    assert_eq!(j["trackers"], serde_json::json!([[TRACKER]]));
    assert_eq!(
        j["files"],
        serde_json::json!([{"path": "movie.bin", "length": 1_000_003}])
    );
    let text = bt_ok(&["show", s(&torrent)]);
    assert!(text.contains(&format!("info-hash:     {hash}")), "{text}");

    let v = bt_ok(&["verify", s(&torrent), s(dir.path())]);
    assert!(v.contains("16 pieces: 16 ok, 0 bad, 0 missing"), "{v}");
}

#[test]
fn multi_file_round_trip_is_sorted_and_deterministic() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("album");
    write(&root.join("b/2.flac"), &data(300_000, 2));
    write(&root.join("a.txt"), b"liner notes");
    write(&root.join("b/1.flac"), &data(200_000, 3));
    write(&root.join("c/empty"), b"");
    // Links inside the tree are followed, links out of it are skipped with a warning.
    std::os::unix::fs::symlink("/etc/hostname", root.join("z-outside")).unwrap();
    let t1 = dir.path().join("1.torrent");
    let t2 = dir.path().join("2.torrent");
    for t in [&t1, &t2] {
        bt_ok(&[
            "create",
            s(&root),
            "-t",
            TRACKER,
            "-t",
            "udp://backup.example:1337",
            "--private",
            "--no-date",
            "-o",
            s(t),
        ]);
    }
    assert_eq!(fs::read(&t1).unwrap(), fs::read(&t2).unwrap());
    let j = show_json(s(&t1));
    let paths: Vec<&str> = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["a.txt", "b/1.flac", "b/2.flac", "c/empty"]);
    assert_eq!(j["private"], true);
    assert_eq!(j["total_size"], 500_011);
    assert_eq!(
        j["trackers"],
        serde_json::json!([[TRACKER], ["udp://backup.example:1337"]])
    );
    // 500011 bytes at automatic piece length: the 16 KiB minimum.
    assert_eq!(j["piece_length"], 16384);
    let v = bt_ok(&["verify", s(&t1), s(dir.path())]);
    assert!(v.contains("31 pieces: 31 ok"), "{v}");
}

#[test]
fn verify_detects_a_corrupted_byte_and_missing_files() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("set");
    write(&root.join("one"), &data(100_000, 4));
    write(&root.join("two"), &data(100_000, 5));
    let t = dir.path().join("set.torrent");
    bt_ok(&[
        "create",
        s(&root),
        "-t",
        TRACKER,
        "--piece-length",
        "16KiB",
        "-o",
        s(&t),
    ]);

    let mut bytes = fs::read(root.join("two")).unwrap();
    bytes[50_000] ^= 1;
    fs::write(root.join("two"), &bytes).unwrap();
    let err = bt_err(&["verify", s(&t), s(dir.path())]);
    // Byte 150000 of the torrent is in piece 9.
    assert!(err.contains("bad pieces: 9\n"), "{err}");
    assert!(err.contains("13 pieces: 12 ok, 1 bad, 0 missing"), "{err}");

    fs::remove_file(root.join("one")).unwrap();
    let err = bt_err(&["verify", s(&t), s(dir.path())]);
    assert!(err.contains("one: file is missing"), "{err}");
    assert!(err.contains("7 missing"), "{err}");
}

/// A torrent whose only file is `../escape`, with a valid piece hash.
fn traversal_torrent() -> Vec<u8> {
    let mut t = b"d8:announce30:http://127.0.0.1:6969/announce4:infod5:filesld6:lengthi4e4:pathl2:..6:escapeeee4:name4:evil12:piece lengthi16384e6:pieces20:".to_vec();
    t.extend_from_slice(&[0u8; 20]);
    t.extend_from_slice(b"ee");
    t
}

#[test]
fn path_traversal_torrents_are_refused() {
    let dir = TempDir::new().unwrap();
    let t = dir.path().join("evil.torrent");
    fs::write(&t, traversal_torrent()).unwrap();
    for args in [vec!["show", s(&t)], vec!["verify", s(&t), s(dir.path())]] {
        let err = bt_err(&args);
        assert!(err.contains("invalid torrent"), "{err}");
        assert!(err.contains("unsafe file path \"../escape\""), "{err}");
    }
    assert!(!dir.path().parent().unwrap().join("escape").exists());
}

#[test]
fn verify_refuses_symlinks_out_of_the_data_directory() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("pkg");
    write(&root.join("f"), &data(1000, 6));
    let t = dir.path().join("pkg.torrent");
    bt_ok(&["create", s(&root), "-t", TRACKER, "-o", s(&t)]);
    let elsewhere = TempDir::new().unwrap();
    let dl = dir.path().join("downloads");
    fs::create_dir(&dl).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dl.join("pkg")).unwrap();
    let err = bt_err(&["verify", s(&t), s(&dl)]);
    assert!(err.contains("symlink resolves to"), "{err}");
    assert!(err.contains("outside"), "{err}");
}

#[test]
fn create_refuses_bad_input_clearly() {
    let dir = TempDir::new().unwrap();
    let empty = dir.path().join("empty");
    write(&empty.join("zero"), b"");
    let out = dir.path().join("x.torrent");
    let err = bt_err(&["create", s(&empty), "-t", TRACKER, "-o", s(&out)]);
    assert!(err.contains("nothing to share"), "{err}");
    let err = bt_err(&["create", "/nonexistent/thing", "-t", TRACKER, "-o", s(&out)]);
    assert!(err.contains("/nonexistent/thing"), "{err}");
    let err = bt_err(&["create", s(&empty), "-t", "ftp://x", "-o", s(&out)]);
    assert!(err.contains("tracker URL"), "{err}");
    let err = bt_err(&[
        "create",
        s(&empty),
        "-t",
        TRACKER,
        "--piece-length",
        "1000",
        "-o",
        s(&out),
    ]);
    assert!(err.contains("power of two"), "{err}");
    // An existing output is kept unless --force.
    write(&dir.path().join("f"), b"data");
    fs::write(&out, b"keep").unwrap();
    let err = bt_err(&[
        "create",
        s(&dir.path().join("f")),
        "-t",
        TRACKER,
        "-o",
        s(&out),
    ]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read(&out).unwrap(), b"keep");
    bt_ok(&[
        "create",
        s(&dir.path().join("f")),
        "-t",
        TRACKER,
        "-o",
        s(&out),
        "--force",
    ]);
}
