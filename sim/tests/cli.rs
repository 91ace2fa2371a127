//! The `sim` command as a user runs it: outputs, overrides and clear errors on bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.toml"))
}

/// Writes `text` to a scenario file and returns `sim check`'s (success, stderr).
fn check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, text).unwrap();
    let out = sim().arg("check").arg(&p).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = r#"name = "t"
[torrent]
size = "1MiB"
[[group]]
role = "seeder"
count = 1
[[group]]
role = "leecher"
count = 3
"#;

#[test]
fn run_writes_results_and_prints_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = sim()
        .args(["run", "--seed", "7", "--set", "torrent.size=4MiB", "--out"])
        .arg(dir.path())
        .arg(scenario("g1t2"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("seed = 7"),
        "resolved config printed: {stdout}"
    );
    assert!(stdout.contains("size = \"4MiB\""));
    assert!(stdout.contains("Spearman rho"));
    assert!(stdout.contains("completion_s"));
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    // g1t2 is 2 seeders and 18 leechers; each leecher ends with the whole 4 MiB file.
    let results = read("results.csv");
    let mut lines = results.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 20, "{results}");
    let leechers: Vec<_> = rows
        .iter()
        .filter(|r| r[col("role")] == "leecher")
        .collect();
    assert_eq!(leechers.len(), 18, "{results}");
    for r in rows.iter() {
        assert_eq!(r[col("seed")], "7", "{r:?}");
    }
    for r in leechers {
        assert!(
            r[col("completion_s")].parse::<f64>().unwrap() > 0.0,
            "{r:?}"
        );
        let got: u64 = r[col("bytes_down")].parse::<u64>().unwrap();
        let dup: u64 = r[col("duplicate_bytes")].parse().unwrap();
        assert_eq!(got - dup, 4 << 20, "{r:?}");
    }
    // pairs.csv (from, to, bytes) adds up to the nodes' uploads.
    let up: u64 = rows
        .iter()
        .map(|r| r[col("bytes_up")].parse::<u64>().unwrap())
        .sum();
    let pairs: u64 = read("pairs.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(pairs, up);
    assert!(read("scenario.resolved.toml").contains("seed = 7"));
    let json = read("run.json");
    assert!(json.contains("\"seed\": 7") && json.contains("engine_version"));
}

#[test]
fn check_accepts_good_file() {
    assert_eq!(check(GOOD), (true, String::new()));
}

#[test]
fn unknown_key_is_rejected_with_line_and_column() {
    let (ok, err) = check(&GOOD.replace("count = 3", "count = 3\nonline_dayz = 4"));
    assert!(!ok);
    assert!(err.contains("line 10, column 1"), "{err}");
    assert!(err.contains("unknown field `online_dayz`"), "{err}");
}

#[test]
fn bad_values_are_clear_errors() {
    let cases = [
        (
            GOOD.replace("\"1MiB\"", "\"1 parsec\""),
            "unknown size unit",
            "line 3",
        ),
        (
            GOOD.replace("count = 3", "count = 0"),
            "count must be between 1 and 100000",
            "line 9",
        ),
        (
            GOOD.replace(
                "size = \"1MiB\"",
                "size = \"1MiB\"\npiece_length = \"100KiB\"",
            ),
            "power of two",
            "line 4",
        ),
        (
            GOOD.replace("count = 3", "count = 3\nupload = \"-5KB/s\""),
            "negative",
            "line 10",
        ),
        (
            GOOD.replace("count = 3", "count = 3\nupload = \"0KB/s\""),
            "must be positive",
            "line 10",
        ),
        (
            GOOD.replace("role = \"seeder\"", "role = \"leecher\""),
            "no seeder",
            "",
        ),
        ("name = \"x\"\n[torrent\n".to_string(), "line 2", "line 2"),
        ("\u{0}\u{1}garbage".to_string(), "TOML parse error", ""),
    ];
    for (text, want, at) in cases {
        let (ok, err) = check(&text);
        assert!(!ok, "accepted: {text}");
        assert!(err.contains(want) && err.contains(at), "for {want}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn bad_overrides_and_missing_files_fail_cleanly() {
    let out = sim()
        .args(["run", "--set", "nonsense"])
        .arg(scenario("g1t2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected key=value"));
    let out = sim().args(["run", "no/such/file.toml"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = sim()
        .args(["run", "--set", "engine.bogus=1"])
        .arg(scenario("g1t2"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `bogus`"));
}

/// The shard script as a Slurm array would run it (one process per index), then `sim merge`,
/// equals the unsharded sweep byte for byte.
#[test]
fn shard_script_and_merge_reproduce_the_whole_sweep() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        format!(
            "scenario = \"{}\"\nreplicates = 2\nset = [\"torrent.size=1MiB\"]\n[[vary]]\nkey = \"seeders\"\nvalues = [\"1..=3\"]\n",
            scenario("g4t2").display()
        ),
    )
    .unwrap();
    for i in 0..3 {
        let st = Command::new(root.join("scripts/sweep-shard.sh"))
            .arg(&plan)
            .arg(dir.path())
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .env("SIM", env!("CARGO_BIN_EXE_sim"))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    let merged = dir.path().join("merged");
    let whole = dir.path().join("whole");
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("shard-{i}")))
        .collect();
    assert!(sim()
        .arg("merge")
        .arg("--out")
        .arg(&merged)
        .args(&shards)
        .status()
        .unwrap()
        .success());
    assert!(sim()
        .args(["sweep", "--plan"])
        .arg(&plan)
        .arg("--out")
        .arg(&whole)
        .status()
        .unwrap()
        .success());
    for f in ["rows.csv", "summary.csv", "sweep.json"] {
        let a = std::fs::read(whole.join(f)).unwrap();
        assert_eq!(a, std::fs::read(merged.join(f)).unwrap(), "{f}");
    }
}

/// `sim tournament` sharded from the command line and joined by `sim merge`, which knows a
/// tournament folder from a sweep's, gives the whole run's report; bad policies are refused.
#[test]
fn tournament_shards_merge_into_the_whole_report() {
    let dir = tempfile::tempdir().unwrap();
    let tournament = |out: &std::path::Path, shard: Option<&str>| {
        let mut cmd = sim();
        cmd.arg("tournament")
            .arg(scenario("tournament"))
            .args(["--policies", "tft,free-rider", "--replicates", "2"])
            .args(["--set", "torrent.size=1MiB", "-j", "1", "--out"])
            .arg(out);
        if let Some(s) = shard {
            cmd.args(["--shard", s]);
        }
        let st = cmd.output().unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    let whole = dir.path().join("whole");
    tournament(&whole, None);
    let shards: Vec<PathBuf> = (0..2).map(|i| dir.path().join(format!("s{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        tournament(s, Some(&format!("{i}/2")));
    }
    let merged = dir.path().join("merged");
    assert!(sim()
        .args(["merge", "--out"])
        .arg(&merged)
        .args(&shards)
        .status()
        .unwrap()
        .success());
    for f in [
        "runs.csv",
        "table.csv",
        "report.md",
        "report.html",
        "tournament.json",
    ] {
        let a = std::fs::read(whole.join(f)).unwrap();
        assert_eq!(a, std::fs::read(merged.join(f)).unwrap(), "{f}");
    }
    let out = sim()
        .args(["tournament", "--policies", "tft,nope", "--out"])
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown policy \"nope\""), "{err}");
}

/// `sim reproduce` on a quick configuration: a report with every experiment, a verdict per
/// row, inlined figures, and PNG figures of the expected size.
#[test]
fn reproduce_writes_a_complete_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = sim()
        .args([
            "reproduce",
            "--replicates",
            "3",
            "--extra-replicates",
            "2",
            "--sizes",
            "20",
        ])
        .args(["--set", "torrent.size=1MiB", "--scenarios"])
        .arg(root.join("scenarios"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for name in [
        "G1T1",
        "G1T2",
        "G2T3",
        "G3T2",
        "G4T3",
        "VERIFY-INC",
        "VERIFY-DEC",
    ] {
        assert!(
            md.contains(&format!("| {name} (Fig.")),
            "{name} missing from report.md"
        );
    }
    let verdicts = md.matches("**reproduced**").count()
        + md.matches("**not reproduced**").count()
        + md.matches("**differs**").count();
    assert_eq!(verdicts, 14, "one verdict per experiment");
    assert!(html.starts_with("<!doctype html>") && html.contains("data:image/png;base64,"));
    // Bars drawn, not a blank canvas: pixels in the plot palette's first two colours (bar
    // groups). About a third of what the figures hold today (beyond_variants: 60 k blue
    // pixels), so a blank figure or a lost group fails while other bar heights do not.
    const BLUE: [u8; 3] = [0, 114, 178];
    const ORANGE: [u8; 3] = [230, 159, 0];
    // The swarm-size figure is a line chart: at one size, each series is a marker with its
    // whisker (a few hundred pixels), and the bound a dashed grey line.
    for (fig, blue, orange) in [
        ("beyond_variants.png", 20_000, 2_000),
        ("beyond_sizes.png", 200, 200),
    ] {
        let png = Png::open(&dir.path().join("figures").join(fig));
        assert!(
            png.count(BLUE) > blue,
            "{fig}: {} blue pixels",
            png.count(BLUE)
        );
        assert!(
            png.count(ORANGE) >= orange,
            "{fig}: {} orange pixels",
            png.count(ORANGE)
        );
    }
    let sizes = Png::open(&dir.path().join("figures/beyond_sizes.png"));
    assert!(
        sizes.count([90, 90, 90]) > 300,
        "beyond_sizes.png: no bound line"
    );
    // Per-node figures are relative to each run's mean, so deviations sum to zero: bars on
    // both sides of the zero line (a grey row across the plot), none of them empty.
    const ZERO_LINE: [u8; 3] = [90, 90, 90];
    for fig in ["g1t2.png", "verify-dec.png"] {
        let png = Png::open(&dir.path().join("figures").join(fig));
        let zero = (0..png.height)
            .find(|&y| {
                (0..png.width)
                    .filter(|&x| png.at(x, y) == ZERO_LINE)
                    .count()
                    > 500
            })
            .unwrap_or_else(|| panic!("{fig}: no zero line"));
        let blue = |above: bool| {
            (0..png.height)
                .filter(|&y| (y < zero) == above && y != zero)
                .flat_map(|y| (0..png.width).map(move |x| (x, y)))
                .filter(|&(x, y)| png.at(x, y) == BLUE)
                .count()
        };
        assert!(
            blue(true) > 2_000 && blue(false) > 2_000,
            "{fig}: {} above, {} below",
            blue(true),
            blue(false)
        );
    }
}

/// A decoded PNG figure.
struct Png {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Png {
    fn open(path: &Path) -> Png {
        let mut reader = png::Decoder::new(std::fs::File::open(path).unwrap())
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(
            (info.width, info.height),
            (1024, 640),
            "{} size",
            path.display()
        );
        let step = info.color_type.samples();
        let rgb = buf[..info.buffer_size()]
            .chunks(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Png {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.rgb[(y * self.width + x) as usize]
    }

    fn count(&self, c: [u8; 3]) -> usize {
        self.rgb.iter().filter(|p| **p == c).count()
    }
}

#[test]
fn a_closed_stdout_pipe_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sim()
        .arg("run")
        .arg(scenario("g4t2"))
        .arg("--out")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Like `sim run … | head -0`: the reader goes away before the table is printed.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bench_times_a_folder_and_rejects_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = |d: &std::path::Path| {
        sim()
            .args(["bench", "--no-flash", "--repeat", "2", "--dir"])
            .arg(d)
            .output()
            .unwrap()
    };
    let empty = run(dir.path());
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no scenario files"));
    std::fs::copy(scenario("g4t2"), dir.path().join("g4t2.toml")).unwrap();
    let out = run(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("all 1 scenarios:"), "{stdout}");
    assert!(stdout.contains("fastest of 2 runs"), "{stdout}");
    assert!(stdout.contains("thesis experiments (1):"), "{stdout}");
}

/// `sim ARGS DIR g1t2.toml`: ARGS end with the flag that takes DIR (`--out`).
fn on_g1t2(args: &[&str], dir: &tempfile::TempDir) -> std::process::Output {
    let g1t2 = scenario("g1t2");
    let mut cmd = sim();
    cmd.args(args).arg(dir.path()).arg(g1t2);
    cmd.output().unwrap()
}

/// `run --replicates N` headlines the replicate means with their 95% CIs (here recomputed from
/// replicates_summary.csv), not the first replicate's statistics.
#[test]
fn replicates_headline_the_mean_and_ci_over_replicates() {
    let dir = tempfile::tempdir().unwrap();
    let out = sim()
        .args([
            "run",
            "-q",
            "--replicates",
            "3",
            "--set",
            "size=2MiB",
            "--out",
        ])
        .arg(dir.path())
        .arg(scenario("g1t2"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let mut rd = csv::Reader::from_path(dir.path().join("replicates_summary.csv")).unwrap();
    let h = rd.headers().unwrap().clone();
    let (m, r) = (
        h.iter().position(|x| x == "mean_s").unwrap(),
        h.iter().position(|x| x == "spearman_rho").unwrap(),
    );
    let recs: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    let line = |col: usize, d: usize| {
        let xs: Vec<f64> = recs.iter().map(|x| x[col].parse().unwrap()).collect();
        let mean = xs.iter().sum::<f64>() / 3.0;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        let half = 4.302_652_730 * sd / 3f64.sqrt();
        let f = |x: f64| format!("{x:.d$}");
        format!(
            "{} (95% CI {} .. {}, n = 3)",
            f(mean),
            f(mean - half),
            f(mean + half)
        )
    };
    assert!(stdout.starts_with("over 3 replicates"), "{stdout}");
    let want = format!(
        "mean leecher completion: {}",
        line(m, 1).replacen(' ', " s ", 1)
    );
    assert!(stdout.contains(&want), "{want}\n{stdout}");
    let want = format!("Spearman rho(online days, completion): {}", line(r, 3));
    assert!(stdout.contains(&want), "{want}\n{stdout}");
    // The single-run line (first replicate only) is not printed.
    assert!(!stdout.contains("leechers done"), "{stdout}");
}

/// An override's error names the override, not a line past the end of the file.
#[test]
fn override_errors_name_the_override() {
    let dir = tempfile::tempdir().unwrap();
    let out = on_g1t2(&["run", "--set", "group.2.upload=100kb/s", "--out"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: --set group.2.upload=100kb/s: `100kb/s` is ambiguous"),
        "{err}"
    );
    assert!(!err.contains("line"), "{err}");
    let out = on_g1t2(&["sweep", "--vary", "upload=1kb/s", "--out"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: --vary upload=1kb/s (as defaults.upload=1kb/s): `1kb/s` is ambiguous"),
        "{err}"
    );
}

/// `sim compare` on a sweep folder: a table and comparisons.csv for good selectors, the
/// sweep's keys and values for bad ones.
#[test]
fn compare_reports_pairs_and_names_the_sweeps_keys() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = ["sweep", "--vary", "seeders=1,2", "--replicates", "3"];
    let out = on_g1t2(
        &[&sweep[..], &["--set", "size=1MiB", "--out"]].concat(),
        &dir,
    );
    assert_eq!(out.status.code(), Some(0));
    let compare = |a: &str, b: &str| {
        sim()
            .arg("compare")
            .arg(dir.path())
            .args(["--a", a, "--b", b])
            .output()
            .unwrap()
    };
    let out = compare("seeders=1", "seeders=2");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for stat in [
        "mean_completion_s",
        "rho",
        "slope_s_per_day",
        "gap_thirds_s",
    ] {
        assert!(stdout.contains(stat), "{stat}: {stdout}");
    }
    let csv = std::fs::read_to_string(dir.path().join("comparisons.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    let out = compare("seedrs=1", "seedrs=2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("`seedrs` is not varied by this sweep (did you mean `seeders`?); it varies: seeders=1,2"),
        "{err}"
    );
    let err = String::from_utf8_lossy(&compare("seeders=1", "seeders=5").stderr).into_owned();
    assert!(
        err.contains("seeders=5 is not in this sweep: seeders takes 1,2"),
        "{err}"
    );
}

/// `sweep --progress` writes every run's samples: point 1 (seeders=2), replicate 0 is exactly
/// `sim run --set seeders=2` (short names mean the same in `--set` and `--vary`).
#[test]
fn sweep_progress_equals_the_runs_progress() {
    let (sweep, run) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = [
        "sweep",
        "--vary",
        "seeders=1,2",
        "--replicates",
        "2",
        "--progress",
    ];
    let out = on_g1t2(
        &[&args[..], &["--set", "size=1MiB", "--out"]].concat(),
        &sweep,
    );
    assert_eq!(out.status.code(), Some(0));
    let args = [
        "run",
        "-q",
        "--set",
        "size=1MiB",
        "--set",
        "seeders=2",
        "--out",
    ];
    assert_eq!(on_g1t2(&args, &run).status.code(), Some(0));
    let read =
        |d: &tempfile::TempDir| std::fs::read_to_string(d.path().join("progress.csv")).unwrap();
    let swept: Vec<Vec<f64>> = read(&sweep)
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("1,2,0,"))
        .map(|l| l.split(',').skip(3).map(|x| x.parse().unwrap()).collect())
        .collect();
    let ran: Vec<Vec<f64>> = read(&run)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert!(
        ran.len() > 2 && swept.len() == ran.len(),
        "{} vs {}",
        swept.len(),
        ran.len()
    );
    for (a, b) in swept.iter().zip(&ran) {
        // Sweeps write time with three fixed decimals.
        assert!(
            (a[0] - b[0]).abs() < 5e-4 && a[1..] == b[1..],
            "{a:?} vs {b:?}"
        );
    }
}

/// `sim plot -o fig.pdf` writes a PDF (facets too, keeping the extension); reports' tests check
/// what the PDF holds. An unknown extension is refused before the input is read, naming the
/// formats there are.
#[test]
fn plot_writes_pdf_and_names_the_formats_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("results.csv");
    std::fs::write(
        &csv,
        "scenario,node,role,policy,completion_s\n\
         t,0,seeder,tft,0\nt,1,leecher,tft,310.5\nt,2,leecher,tft,402\n\
         t,3,leecher,seniority,290\nt,4,leecher,seniority,455\n",
    )
    .unwrap();
    let plot = |args: &[&str], out: &str| {
        let out = sim()
            .args(["plot", "cdf"])
            .args(args)
            .arg("-o")
            .arg(dir.path().join(out))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let is_pdf = |name: &str| {
        std::fs::read(dir.path().join(name))
            .unwrap()
            .starts_with(b"%PDF-")
    };
    let csv = csv.to_str().unwrap();
    let (ok, err) = plot(&[csv], "fig.pdf");
    assert!(ok, "{err}");
    assert!(is_pdf("fig.pdf"));
    let (ok, err) = plot(&[csv, "--facet", "policy"], "facet.pdf");
    assert!(ok, "{err}");
    assert!(is_pdf("facet.policy-tft.pdf") && is_pdf("facet.policy-seniority.pdf"));
    let (ok, err) = plot(&["no-such.csv"], "fig.jpg");
    assert!(!ok);
    assert!(
        err.contains("fig.jpg: plot files must end in .svg, .png or .pdf"),
        "{err}"
    );
}

/// `bench --scale` resizes the last (leecher) group to each size and runs it in a child
/// process whose own CPU time and peak memory it reports; sizes it cannot make are refused.
#[test]
fn bench_scale_measures_each_size_in_a_child_process() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("crowd.toml");
    std::fs::write(&good, GOOD).unwrap();
    let bench = |file: &Path, sizes: &str| {
        sim()
            .args(["bench", "--flash"])
            .arg(file)
            .args(["--scale", sizes])
            .output()
            .unwrap()
    };
    let out = bench(&good, "5,12");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let rows: Vec<Vec<f64>> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().map(|c| c.parse().ok()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for (row, peers) in rows.iter().zip([5.0, 12.0]) {
        // peers, sim_s, wall_s, user_s, sim/wall, sim/user, events, Mev/user_s, rss_MiB, mean_s
        assert_eq!(row[0], peers, "{stdout}");
        assert!(row[1] > 0.0 && row[6] > 0.0 && row[8] > 0.0, "{stdout}");
        assert!(
            row[9] > 0.0 && row[9] <= row[1],
            "every leecher finished: {stdout}"
        );
    }
    let small = bench(&good, "1");
    assert!(!small.status.success());
    let seeders_last = dir.path().join("seeders-last.toml");
    std::fs::write(
        &seeders_last,
        GOOD.replace(
            "count = 3",
            "count = 3\n[[group]]\nrole = \"seeder\"\ncount = 1",
        ),
    )
    .unwrap();
    let out = bench(&seeders_last, "10");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("must be leechers"), "{stderr}");
}
