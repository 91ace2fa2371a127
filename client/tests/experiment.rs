//! `bt experiment` end to end on loopback: a quick run per client checks the three CSVs'
//! exact headers, row counts, verified transfers and received bytes ≥ size; a failing run leaves
//! no CSV.

mod session_util;

use std::path::Path;

use session_util::*;

const RESULTS: &str = "client,size_label,size_bytes,iteration,leecher,transfer_time_s,throughput_kbps,bytes_received,overhead_ratio";
const COMPARISON: &str = "client,size_label,size_bytes,leecher,n,transfer_time_mean_s,transfer_time_std_s,throughput_mean_kbps,throughput_std_kbps";
const SUMMARY: &str = "client,size_label,size_bytes,n,transfer_time_mean_s,transfer_time_std_s,throughput_mean_kbps,throughput_std_kbps,overhead_mean,overhead_std";

/// Runs `bt experiment --sizes 10KiB,100KiB --iterations 2,1` and checks everything it wrote.
fn quick_run(client: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let res = bt(&["experiment", "--client", client])
        .args(["--sizes", "10KiB,100KiB", "--iterations", "2,1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "bt experiment failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    // 2 + 1 iterations of 3 leechers, each checked byte for byte against the source.
    assert!(
        stdout.contains("verified: 9 transfers byte-identical"),
        "{stdout}"
    );
    let results = csv(&out, "all_leechers_results.csv", RESULTS, 9);
    csv(&out, "leechers_performance_comparison.csv", COMPARISON, 6);
    let summary = csv(&out, "all_leechers_summary.csv", SUMMARY, 2);
    for row in results.iter().chain(&summary) {
        assert_eq!(row[0], client, "{row:?}");
    }
    // The formulas are checked against hand-computed values in `experiment::report`'s unit
    // tests; here, what a real run must show: each leecher received at least the whole file,
    // and the row's size is the one its label names.
    for row in &results {
        let size: u64 = row[2].parse().unwrap();
        let want = match row[1].as_str() {
            "10KiB" => 10_240,
            "100KiB" => 102_400,
            other => panic!("unexpected size label {other}"),
        };
        assert_eq!(size, want, "{row:?}");
        let secs: f64 = row[5].parse().unwrap();
        let bytes: u64 = row[7].parse().unwrap();
        assert!(secs > 0.0 && bytes >= size, "{row:?}");
    }
    for row in &summary {
        assert!(row[8].parse::<f64>().unwrap() >= 1.0, "{row:?}");
    }
    assert!(std::fs::metadata(out.join("experiment.png")).unwrap().len() > 1000);
}

/// Checks the exact header and the row count; returns the rows split into fields.
fn csv(dir: &Path, name: &str, header: &str, rows: usize) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{name}");
    let rows_got: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows_got.len(), rows, "{name}:\n{text}");
    rows_got
}

#[test]
fn quick_run_bt() {
    quick_run("bt");
}

#[test]
fn quick_run_libtorrent() {
    if skipped(missing_libtorrent()) {
        return;
    }
    quick_run("libtorrent");
}

#[test]
fn a_stalled_leecher_is_named_and_leaves_no_csv() {
    let tmp = tempfile::tempdir().unwrap();
    // A 1 ms limit: the leechers give up before the first block arrives.
    let res = bt(&["experiment", "--sizes", "100kB", "--iterations", "1"])
        .args(["--timeout", "1ms", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success(), "{stderr}");
    assert!(
        stderr.contains("size 100kB, iteration 1, leecher 1"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "left behind"
    );
}

#[test]
fn bad_input_fails_clearly_and_leaves_no_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"").unwrap();
    // --out under a regular file cannot be created.
    let res = bt(&["experiment", "--quick", "--out"])
        .arg(file.join("out"))
        .output()
        .unwrap();
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("--out"));
    let res = bt(&["experiment", "--client", "qbittorrent", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("qbittorrent"));
    let res = bt(&[
        "experiment",
        "--sizes",
        "10kB,1MB",
        "--iterations",
        "1,2,3",
        "--out",
    ])
    .arg(tmp.path())
    .output()
    .unwrap();
    assert!(!res.status.success());
    assert!(String::from_utf8_lossy(&res.stderr).contains("--iterations"));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("file")], "left behind");
}
