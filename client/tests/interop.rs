//! Interoperability with other BitTorrent implementations (Debian's python3-libtorrent and
//! aria2). A missing package skips the test, or fails it under `BT_INTEROP_REQUIRED=1` (CI).

mod common;
mod session_util;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{bt_ok, data, esc, get, wait_for, write, TrackerProc};
use engine_core::protocol::bencode::decode;
use engine_core::protocol::metainfo::Metainfo;
use session_util::{missing_libtorrent, missing_program, skipped, PY};
use tempfile::TempDir;

/// A process killed on drop, so a failing assertion cannot leak it.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A multi-file tree and its torrent announcing to `tracker`.
fn make_torrent(dir: &Path, tracker: &str) -> (std::path::PathBuf, Metainfo) {
    let root = dir.join("share");
    write(&root.join("a/one.bin"), &data(700_000, 11));
    write(&root.join("two.txt"), b"hello from bt create\n");
    let t = dir.join("share.torrent");
    bt_ok(&["create", s(&root), "-t", tracker, "-o", s(&t)]);
    let meta = Metainfo::from_bytes(&std::fs::read(&t).unwrap()).unwrap();
    (t, meta)
}

fn scrape(t: &TrackerProc, hash: &[u8; 20]) -> (i64, i64) {
    let (_, body) = get(t.addr, &format!("/scrape?info_hash={}", esc(hash)));
    let v = decode(&body).expect("bencoded scrape");
    let c = &v.get("files").unwrap().as_dict().unwrap()[&hash[..]];
    (
        c.get("complete").unwrap().as_int().unwrap(),
        c.get("incomplete").unwrap().as_int().unwrap(),
    )
}

#[test]
fn libtorrent_loads_bt_torrents_with_the_same_info_hash() {
    if skipped(missing_libtorrent()) {
        return;
    }
    let dir = TempDir::new().unwrap();
    let (multi, meta) = make_torrent(dir.path(), "http://127.0.0.1:1/announce");
    let single = dir.path().join("single.torrent");
    write(&dir.path().join("one.iso"), &data(3_000_000, 12));
    bt_ok(&[
        "create",
        s(&dir.path().join("one.iso")),
        "-t",
        "http://127.0.0.1:1/announce",
        "--private",
        "-o",
        s(&single),
    ]);
    let single_meta = Metainfo::from_bytes(&std::fs::read(&single).unwrap()).unwrap();
    for (path, meta) in [(&multi, &meta), (&single, &single_meta)] {
        let script = "import sys, libtorrent as lt\n\
                      ti = lt.torrent_info(sys.argv[1])\n\
                      print(ti.info_hashes().v1, ti.name(), ti.total_size(), ti.num_pieces(), ti.priv())";
        let out = Command::new(PY)
            .args(["-c", script, s(path)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = format!(
            "{} {} {} {} {}",
            common::hex(&meta.info_hash),
            meta.info.name,
            meta.info.total_len(),
            meta.info.pieces.len(),
            if meta.info.private { "True" } else { "False" }
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
    }
}

/// libtorrent seeds a `bt create` torrent, announcing to `bt tracker`; prints its listen port
/// once the tracker has answered, then waits to be killed.
const LT_SEED: &str = r#"
import sys, time, libtorrent as lt
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False,
                  'alert_mask': lt.alert.category_t.tracker_notification | lt.alert.category_t.error_notification})
p = lt.add_torrent_params()
p.ti = lt.torrent_info(sys.argv[1])
p.save_path = sys.argv[2]
h = ses.add_torrent(p)
deadline = time.time() + 30
while time.time() < deadline:
    for a in ses.pop_alerts():
        if isinstance(a, lt.tracker_reply_alert):
            print('announced', ses.listen_port(), h.status().is_seeding, flush=True)
            time.sleep(60)
            sys.exit(0)
        if isinstance(a, lt.tracker_error_alert):
            print('tracker error', a.message(), flush=True)
    time.sleep(0.05)
print('timeout', h.status().state, flush=True)
"#;

#[test]
fn libtorrent_announces_to_bt_tracker() {
    libtorrent_announces(false);
}

/// BEP 15: the same through `udp://` (what most public trackers are).
#[test]
fn libtorrent_announces_to_bt_tracker_over_udp() {
    libtorrent_announces(true);
}

fn libtorrent_announces(udp: bool) {
    if skipped(missing_libtorrent()) {
        return;
    }
    let t = TrackerProc::start(&["--interval", "60"]);
    let dir = TempDir::new().unwrap();
    let url = if udp {
        format!("udp://{}", t.addr)
    } else {
        t.announce_url()
    };
    let (torrent, meta) = make_torrent(dir.path(), &url);
    let mut lt = Killed(
        Command::new(PY)
            .args(["-c", LT_SEED, s(&torrent), s(dir.path())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(lt.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        fields.first(),
        Some(&"announced"),
        "libtorrent said {line:?}"
    );
    let port: i64 = fields[1].parse().unwrap();
    // libtorrent checked the data, so it announces as a seed.
    assert!(
        wait_for(Duration::from_secs(10), || scrape(&t, &meta.info_hash)
            == (1, 0)),
        "scrape {:?}",
        scrape(&t, &meta.info_hash)
    );
    // And it is handed to a leecher under the port it listens on.
    let (_, body) = get(
        t.addr,
        &(common::announce_query(&meta.info_hash, b"-XX0001-xxxxxxxxxxxx", 9, 1) + "&compact=0"),
    );
    let v = decode(&body).unwrap();
    let peers = v.get("peers").unwrap().as_list().unwrap();
    assert_eq!(peers.len(), 1, "{v:?}");
    assert_eq!(peers[0].get("port").unwrap().as_int(), Some(port));
    assert_eq!(peers[0].get("ip").unwrap().as_str(), Some("127.0.0.1"));
}

#[test]
fn aria2_announces_to_bt_tracker() {
    if skipped(missing_program("aria2c", "aria2")) {
        return;
    }
    let t = TrackerProc::start(&["--interval", "60"]);
    let dir = TempDir::new().unwrap();
    let (torrent, meta) = make_torrent(dir.path(), &t.announce_url());
    let dl = dir.path().join("dl");
    std::fs::create_dir(&dl).unwrap();
    // No data yet: aria2 joins as a leecher and waits for peers; we stop it once it is seen.
    let _aria = Killed(
        Command::new("aria2c")
            .args([
                &format!("--dir={}", s(&dl)),
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--listen-port=16881-16999",
                "--seed-time=0",
                "--stop=60",
                "--summary-interval=0",
                "--console-log-level=error",
                s(&torrent),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for(Duration::from_secs(20), || scrape(&t, &meta.info_hash)
            == (0, 1)),
        "aria2 never announced: scrape {:?}",
        scrape(&t, &meta.info_hash)
    );
}
