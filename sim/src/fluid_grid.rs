//! `sim fluid`: open swarms against the Qiu–Srikant fluid model ([`crate::fluid`]). Each
//! regime is a scenario with one arrival group; the grid varies its arrival rate λ and mean
//! seeding time 1/γ, runs every point once, and compares the steady state — the time-averaged
//! leechers x̄ and seeds ȳ after a warm-up, and the mean download time of the leechers that
//! arrived in the window — with the model's.
//!
//! η, the fraction of a leecher's upload capacity in use, is the one parameter the model
//! leaves open. We measure it per run: in the model μηx is exactly the leechers' aggregate
//! upload, so η = (leechers' upload over the window) / (Σ x · upload capacity). With η taken
//! from the run, the upload-bound x̄ is the model's flow balance λ = μ(ηx̄ + ȳ + s) and T its
//! Little's law, so agreement there checks that the swarm's upload is spent as the model
//! says (seeds fully used, nothing wasted); the download-bound T = 1/c needs no η at all.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use rayon::prelude::*;
use reports::plot::{Reference, XyChart, XyPoint, XySeries};
use reports::table::fmt_f64;
use scenario::result::SeriesPoint;
use scenario::{Role, Scenario};
use serde::Serialize;

use crate::fluid::Fluid;

/// One regime: a scenario and the seeding means (seconds) to try in it.
#[derive(Clone, Debug)]
pub struct Regime {
    pub scenario: PathBuf,
    pub seeding_s: Vec<f64>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Grid {
    pub regimes: Vec<Regime>,
    /// Arrival rates λ, per second.
    pub rates: Vec<f64>,
    /// Time before the steady-state window opens, seconds.
    pub warmup_s: f64,
    /// Overrides applied to every point (`--set`).
    pub sets: Vec<String>,
}

/// One point of the grid: what the simulator measured and what the model says.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub regime: String,
    pub lambda: f64,
    pub seeding_s: f64,
    pub bound: &'static str,
    pub x_sim: f64,
    pub x_model: f64,
    pub y_sim: f64,
    pub y_model: f64,
    pub t_sim: f64,
    pub t_model: f64,
    /// This run's leecher upload utilisation, the model's η.
    pub eta: f64,
    /// Leechers that arrived in the window, and those of them not finished by the end.
    pub window_arrivals: u32,
    pub unfinished: u32,
    /// The model with this run's η, and the run's leechers and seeds over time `(t, x, y)`,
    /// for the trajectory figure.
    #[serde(skip)]
    pub model: Fluid,
    #[serde(skip)]
    pub trajectory: Vec<(f64, f64, f64)>,
}

impl Row {
    /// The largest relative error of x̄, ȳ and T against the model.
    pub fn worst_error(&self) -> f64 {
        [
            (self.x_sim, self.x_model),
            (self.y_sim, self.y_model),
            (self.t_sim, self.t_model),
        ]
        .iter()
        .map(|(s, m)| (s / m - 1.0).abs())
        .fold(0.0, f64::max)
    }
}

/// One run's steady-state measurements.
struct Measured {
    x: f64,
    y: f64,
    t: f64,
    /// Σ leecher upload (bytes/s) and Σ x over the window's points, for η.
    leecher_upload: f64,
    leecher_points: f64,
    window_arrivals: u32,
    unfinished: u32,
    trajectory: Vec<(f64, f64, f64)>,
}

/// The model's rates for a scenario at one point: μ and c from the open group's fixed
/// upload and download (files/s), the seeders' upload in leecher units.
fn model_of(sc: &Scenario, eta: f64) -> anyhow::Result<Fluid> {
    let (gi, g) = open_group(sc)?;
    let rate = |b: &Option<scenario::BandwidthSpec>, d: &scenario::BandwidthSpec, what| {
        b.as_ref()
            .unwrap_or(d)
            .fixed()
            .with_context(|| format!("group {}: the model needs one {what} rate", gi + 1))
    };
    let file = sc.torrent.size.0 as f64;
    let up = rate(&g.upload, &sc.defaults.upload, "upload")?;
    let down = rate(&g.download, &sc.defaults.download, "download")?;
    let seeders: f64 = sc
        .nodes()
        .iter()
        .filter(|n| n.role == Role::Seeder)
        .map(|n| n.upload / up)
        .sum();
    let mean = |d: Option<scenario::Leave>, what| match d.and_then(|l| l.seeding_time()) {
        Some(d) if d.0 .0 > 0 => Ok(1.0 / d.0.as_secs_f64()),
        _ => bail!("group {}: the model needs a seeding time ({what})", gi + 1),
    };
    let theta = match g.abort {
        None => 0.0,
        Some(scenario::Abort::Exponential(m)) => 1.0 / m.0.as_secs_f64(),
        Some(scenario::Abort::After(_)) => bail!("the model's aborts are exponential"),
    };
    Ok(Fluid {
        lambda: g
            .arrivals
            .as_ref()
            .and_then(|a| a.rate)
            .context("no rate")?,
        theta,
        gamma: mean(g.leave.or(Some(sc.defaults.leave)), "leave")?,
        mu: up / file,
        c: down / file,
        eta,
        s: seeders,
    })
}

/// The first group with Poisson arrivals.
fn open_group(sc: &Scenario) -> anyhow::Result<(usize, &scenario::Group)> {
    sc.groups
        .iter()
        .enumerate()
        .find(|(_, g)| g.arrivals.as_ref().is_some_and(|a| a.rate.is_some()))
        .context("no group with arrivals = { rate = ... }")
}

/// Time averages over the points at or after `warmup_s`, and the download times of the
/// leechers that joined in `[warmup_s, end − warmup_s]` (early enough to finish).
fn measure(r: &crate::RunResult, warmup_s: f64) -> anyhow::Result<Measured> {
    let window: Vec<&SeriesPoint> = r.series.iter().filter(|p| p.time_s >= warmup_s).collect();
    ensure!(
        window.len() >= 2,
        "the run ends before its warm-up of {warmup_s} s is over"
    );
    let n = window.len() as f64;
    let sum = |f: fn(&SeriesPoint) -> f64| window.iter().map(|p| f(p)).sum::<f64>();
    let end = r.stats.sim_time_s;
    let joined: Vec<_> = r
        .nodes
        .iter()
        .filter(|n| n.role == Role::Leecher)
        .filter(|n| {
            n.join_s
                .is_some_and(|j| j >= warmup_s && j <= end - warmup_s)
        })
        .collect();
    let times: Vec<f64> = joined.iter().filter_map(|n| n.completion_s).collect();
    ensure!(!times.is_empty(), "no leecher of the window finished");
    Ok(Measured {
        x: sum(|p| p.leechers as f64) / n,
        y: sum(|p| p.seeds as f64) / n,
        t: times.iter().sum::<f64>() / times.len() as f64,
        leecher_upload: sum(|p| p.leecher_upload_bps),
        leecher_points: sum(|p| p.leechers as f64),
        window_arrivals: joined.len() as u32,
        unfinished: (joined.len() - times.len()) as u32,
        trajectory: r
            .series
            .iter()
            .map(|p| (p.time_s, p.leechers as f64, p.seeds as f64))
            .collect(),
    })
}

/// The scenario of one point.
fn point(
    regime: &Regime,
    sets: &[String],
    lambda: f64,
    seeding_s: f64,
) -> anyhow::Result<Scenario> {
    let base = Scenario::load(&regime.scenario, sets)?;
    let (gi, _) = open_group(&base)?;
    let mut all = sets.to_vec();
    all.push(format!("group.{}.arrivals={{ rate = {lambda} }}", gi + 1));
    all.push(format!(
        "group.{}.leave={{ mean = \"{seeding_s}s\" }}",
        gi + 1
    ));
    Ok(Scenario::load(&regime.scenario, &all)?)
}

/// Runs the grid (points in parallel on the current rayon pool, rows in grid order).
pub fn run(grid: &Grid) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for regime in &grid.regimes {
        let points: Vec<(f64, f64)> = regime
            .seeding_s
            .iter()
            .flat_map(|&s| grid.rates.iter().map(move |&l| (l, s)))
            .collect();
        let scenarios = points
            .iter()
            .map(|&(l, s)| point(regime, &grid.sets, l, s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let measured = scenarios
            .par_iter()
            .map(|sc| measure(&crate::run(sc), grid.warmup_s))
            .collect::<Vec<_>>()
            .into_iter()
            .zip(&points)
            .map(|(m, (l, s))| m.with_context(|| format!("λ = {l}/s, 1/γ = {s} s")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let name = scenarios[0].name.clone();
        for ((sc, m), &(lambda, seeding_s)) in scenarios.iter().zip(&measured).zip(&points) {
            let up = model_of(sc, 1.0)?.mu * sc.torrent.size.0 as f64;
            let eta = m.leecher_upload / (up * m.leecher_points);
            let model = model_of(sc, eta)?;
            let s = model.steady();
            rows.push(Row {
                regime: name.clone(),
                lambda,
                seeding_s,
                bound: if model.download_bound() {
                    "download"
                } else {
                    "upload"
                },
                x_sim: m.x,
                x_model: s.x,
                y_sim: m.y,
                y_model: s.y,
                t_sim: m.t,
                t_model: s.t,
                eta,
                window_arrivals: m.window_arrivals,
                unfinished: m.unfinished,
                model,
                trajectory: m.trajectory.clone(),
            });
        }
    }
    Ok(rows)
}

/// The Markdown table of the grid, errors in percent.
pub fn table(rows: &[Row]) -> String {
    let headers = [
        "regime",
        "λ (/s)",
        "1/γ (s)",
        "bound",
        "x̄ sim",
        "x̄ model",
        "ȳ sim",
        "ȳ model",
        "T sim (s)",
        "T model (s)",
        "η",
        "worst error",
    ];
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.regime.clone(),
                fmt_f64(r.lambda, 2),
                fmt_f64(r.seeding_s, 0),
                r.bound.to_string(),
                fmt_f64(r.x_sim, 1),
                fmt_f64(r.x_model, 1),
                fmt_f64(r.y_sim, 1),
                fmt_f64(r.y_model, 1),
                fmt_f64(r.t_sim, 1),
                fmt_f64(r.t_model, 1),
                fmt_f64(r.eta, 2),
                format!("{}%", fmt_f64(100.0 * r.worst_error(), 1)),
            ]
        })
        .collect();
    reports::table::render_table(&headers, &body)
}

/// Writes `grid.csv`, `report.md` and per regime `REGIME-leechers.svg` (x̄ against λ, one
/// line per seeding time, the model's x̄ dashed) and `REGIME-time.svg` (T likewise).
pub fn write(rows: &[Row], out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    reports::table::write_csv(out.join("grid.csv"), rows)?;
    let mut regimes: Vec<&str> = rows.iter().map(|r| r.regime.as_str()).collect();
    regimes.dedup();
    for regime in regimes {
        let of: Vec<&Row> = rows.iter().filter(|r| r.regime == regime).collect();
        for (what, sim, model, y_label) in [
            (
                "leechers",
                (|r: &Row| r.x_sim) as fn(&Row) -> f64,
                (|r: &Row| r.x_model) as fn(&Row) -> f64,
                "mean leechers x̄",
            ),
            (
                "time",
                |r: &Row| r.t_sim,
                |r: &Row| r.t_model,
                "mean download time T (s)",
            ),
        ] {
            let mut seedings: Vec<f64> = of.iter().map(|r| r.seeding_s).collect();
            seedings.dedup();
            let series: Vec<XySeries> = seedings
                .iter()
                .map(|&s| XySeries {
                    name: format!("sim, 1/γ = {s} s"),
                    points: of
                        .iter()
                        .filter(|r| r.seeding_s == s)
                        .map(|r| XyPoint {
                            x: r.lambda,
                            y: sim(r),
                            ci: None,
                        })
                        .collect(),
                })
                .collect();
            let refs: Vec<Reference> = seedings
                .iter()
                .map(|&s| Reference {
                    name: format!("model, 1/γ = {s} s"),
                    points: of
                        .iter()
                        .filter(|r| r.seeding_s == s)
                        .map(|r| (r.lambda, model(r)))
                        .collect(),
                })
                .collect();
            let title = format!("{regime}: simulated vs fluid model");
            XyChart {
                title: &title,
                x_label: "arrival rate λ (1/s)",
                y_label,
                log_x: true,
                log_y: false,
            }
            .draw(out.join(format!("{regime}-{what}.svg")), &series, &refs)?;
        }
    }
    for r in trajectory_points(rows) {
        trajectory(r, &out.join(format!("{}-trajectory.svg", r.regime)))?;
    }
    let worst = rows.iter().map(Row::worst_error).fold(0.0, f64::max);
    let md = format!(
        "# Open swarms against the Qiu–Srikant fluid model\n\n\
         Steady state after the warm-up; η measured per run (see `sim::fluid_grid`).\n\
         Largest error: {}%.\n\n{}",
        fmt_f64(100.0 * worst, 1),
        table(rows)
    );
    std::fs::write(out.join("report.md"), md)?;
    Ok(())
}

/// Options of `sim fluid`.
#[derive(Clone, Debug, clap::Args)]
pub struct FluidArgs {
    /// A regime: `SCENARIO=SEEDING,...` (mean seeding times, e.g.
    /// `scenarios/open/fluid-upload.toml=4s,8s,16s`), repeatable [default: the two shipped
    /// regimes, upload-bound 16/24/32 s and download-bound 32/64/128 s].
    #[arg(long = "regime", value_name = "SCENARIO=TIMES")]
    pub regimes: Vec<String>,
    /// Arrival rates λ per second.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,1,2")]
    pub rates: Vec<f64>,
    /// Warm-up before the steady-state window.
    #[arg(long, default_value = "400s")]
    pub warmup: scenario::units::Dur,
    /// Overrides for every point (`key=value`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output folder.
    #[arg(long, default_value = "out/fluid")]
    pub out: PathBuf,
    /// Worker threads [default: all cores]. Output does not depend on it.
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
}

/// `sim fluid`: runs the grid, writes its files and prints the table.
pub fn cli(a: FluidArgs) -> anyhow::Result<()> {
    let regimes = if a.regimes.is_empty() {
        vec![
            "scenarios/open/fluid-upload.toml=16s,24s,32s".to_string(),
            "scenarios/open/fluid-download.toml=32s,64s,128s".to_string(),
        ]
    } else {
        a.regimes.clone()
    };
    let regimes = regimes
        .iter()
        .map(|r| {
            let (file, times) = r
                .split_once('=')
                .with_context(|| format!("--regime {r}: expected SCENARIO=TIMES"))?;
            let seeding_s = times
                .split(',')
                .map(|t| t.parse::<scenario::units::Dur>().map(|d| d.0.as_secs_f64()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--regime {r}: {e}"))?;
            Ok(Regime {
                scenario: PathBuf::from(file),
                seeding_s,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let grid = Grid {
        regimes,
        rates: a.rates,
        warmup_s: a.warmup.0.as_secs_f64(),
        sets: a.set,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.jobs.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let rows = pool.install(|| run(&grid))?;
    write(&rows, &a.out)?;
    println!("{}", table(&rows));
    println!("wrote {}", a.out.display());
    Ok(())
}

/// Per regime, the point whose trajectory is drawn: the largest λ at the middle seeding time.
fn trajectory_points(rows: &[Row]) -> Vec<&Row> {
    let mut out: Vec<&Row> = Vec::new();
    for r in rows {
        if out.last().is_some_and(|o| o.regime == r.regime) {
            continue;
        }
        let of: Vec<&Row> = rows.iter().filter(|o| o.regime == r.regime).collect();
        let mut seedings: Vec<f64> = of.iter().map(|o| o.seeding_s).collect();
        seedings.dedup();
        let middle = seedings[seedings.len() / 2];
        let at = of
            .into_iter()
            .filter(|o| o.seeding_s == middle)
            .max_by(|a, b| a.lambda.total_cmp(&b.lambda));
        out.extend(at);
    }
    out
}

/// One run's leechers and seeds over time beside the model's trajectory from an empty swarm
/// (RK4, 0.1 s steps; the run starts with its origin seed, as the model's `s` does).
fn trajectory(r: &Row, path: &Path) -> anyhow::Result<()> {
    let end = r.trajectory.last().map_or(0.0, |p| p.0);
    let model = r.model.trajectory(0.0, 0.0, 0.1, end);
    let every = 10.max(model.len() / 500);
    let pick = |f: fn(&(f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        model.iter().step_by(every).map(|p| (p.0, f(p))).collect()
    };
    let sim = |name: &str, f: fn(&(f64, f64, f64)) -> f64| XySeries {
        name: name.to_string(),
        points: r
            .trajectory
            .iter()
            .map(|p| XyPoint {
                x: p.0,
                y: f(p),
                ci: None,
            })
            .collect(),
    };
    let title = format!(
        "{}: λ = {}/s, 1/γ = {} s, η = {:.2}",
        r.regime, r.lambda, r.seeding_s, r.eta
    );
    XyChart {
        title: &title,
        x_label: "time (s)",
        y_label: "peers",
        log_x: false,
        log_y: false,
    }
    .draw(
        path,
        &[
            sim("leechers x (sim)", |p| p.1),
            sim("seeds y (sim)", |p| p.2),
        ],
        &[
            Reference {
                name: "x (fluid model)".into(),
                points: pick(|p| p.1),
            },
            Reference {
                name: "y (fluid model)".into(),
                points: pick(|p| p.2),
            },
        ],
    )
}
