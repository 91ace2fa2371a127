//! Overrides as users give them (`sim run --set`, `sim sweep --set` and `--vary`): dotted
//! scenario keys or the short names of [`alias_overrides`], applied in order. An error names
//! the override it came from, never a line of the file (the lines an override adds are not the
//! user's), and an unknown key gets the nearest known one.

use std::path::Path;

use anyhow::{ensure, Context};

use crate::scenario::{Role, Scenario, ScenarioError};

/// The short names [`alias_overrides`] expands.
pub const ALIASES: &[&str] = &[
    "seeders",
    "leechers",
    "incentive",
    "size",
    "piece_length",
    "variant",
    "upload",
    "download",
    "seeder_upload",
];

/// Short names for the keys sweeps vary most, expanded to scenario overrides:
/// - `seeders=k`: first seeder group gets `k` nodes, the first leecher group gives or takes the
///   difference, so the swarm size stays fixed (thesis T1/T2/T3);
/// - `leechers=k`: first leecher group size;
/// - `incentive=none|seniority`: every group and the defaults;
/// - `size`, `piece_length`: the torrent's; `variant`: `engine.seniority`;
/// - `seeder_upload`, `upload`, `download`: seeder groups' / defaults' bandwidth.
///
/// Any other key is a dotted scenario path and passes through unchanged.
pub fn alias_overrides(base: &Scenario, key: &str, value: &str) -> anyhow::Result<Vec<String>> {
    let group_of = |role: Role| {
        base.groups
            .iter()
            .position(|g| g.role == role)
            .map(|i| i + 1)
            .with_context(|| format!("`{key}` needs a {role} group in the scenario"))
    };
    Ok(match key {
        "seeders" => {
            let k: i64 = value.parse().context("seeders must be a whole number")?;
            let (s, l) = (group_of(Role::Seeder)?, group_of(Role::Leecher)?);
            let total = (base.groups[s - 1].count.0 + base.groups[l - 1].count.0) as i64;
            ensure!(
                k >= 1 && k < total,
                "seeders={k} leaves no leechers in a swarm of {total}"
            );
            vec![
                format!("group.{s}.count={k}"),
                format!("group.{l}.count={}", total - k),
            ]
        }
        "leechers" => vec![format!("group.{}.count={value}", group_of(Role::Leecher)?)],
        "incentive" => {
            let mut v = vec![format!("defaults.incentive={value}")];
            v.extend((1..=base.groups.len()).map(|g| format!("group.{g}.incentive={value}")));
            v
        }
        "size" => vec![format!("torrent.size={value}")],
        "piece_length" => vec![format!("torrent.piece_length={value}")],
        "variant" => vec![format!("engine.seniority={value}")],
        "upload" | "download" => vec![format!("defaults.{key}={value}")],
        "seeder_upload" => base
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.role == Role::Seeder)
            .map(|(i, _)| format!("group.{}.upload={value}", i + 1))
            .collect(),
        other => vec![format!("{other}={value}")],
    })
}

/// One override as the user gave it: the flag it came with (`--set`, `--vary`) and `key=value`.
#[derive(Clone, Debug)]
pub struct Given {
    pub flag: &'static str,
    pub arg: String,
}

impl Given {
    pub fn set(arg: &str) -> Given {
        Given {
            flag: "--set",
            arg: arg.to_string(),
        }
    }
}

/// Reads `path` and resolves it with `--set` overrides (short names allowed).
pub fn load(path: &Path, sets: &[String]) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let given: Vec<Given> = sets.iter().map(|s| Given::set(s)).collect();
    parse(&path.display().to_string(), &text, &given)
}

/// The scenario `text` (from `origin`) with `given` applied in order; a short name expands
/// against the scenario as the overrides before it left it.
pub fn parse(origin: &str, text: &str, given: &[Given]) -> anyhow::Result<Scenario> {
    // Scenario overrides, each with the index of the given override it came from.
    let mut expanded: Vec<(usize, String)> = Vec::new();
    let sets = |e: &[(usize, String)]| e.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>();
    for (i, g) in given.iter().enumerate() {
        let alias = g
            .arg
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| ALIASES.contains(k));
        let Some((key, value)) = alias else {
            expanded.push((i, g.arg.clone()));
            continue;
        };
        let base = Scenario::parse(origin, text, &sets(&expanded))
            .map_err(|e| blame(e, origin, text, given, &expanded))?;
        let more =
            alias_overrides(&base, key, value).with_context(|| format!("{} {}", g.flag, g.arg))?;
        expanded.extend(more.into_iter().map(|s| (i, s)));
    }
    Scenario::parse(origin, text, &sets(&expanded))
        .map_err(|e| blame(e, origin, text, given, &expanded))
}

/// Names the given override behind an override error (with what it expanded to, if that
/// differs) and suggests the nearest known key for an unknown one.
fn blame(
    e: ScenarioError,
    origin: &str,
    text: &str,
    given: &[Given],
    expanded: &[(usize, String)],
) -> anyhow::Error {
    let ScenarioError::Override { arg, message } = &e else {
        return e.into();
    };
    let Some(g) = expanded
        .iter()
        .find(|(_, s)| s == arg)
        .map(|(i, _)| &given[*i])
    else {
        return e.into();
    };
    let who = if g.arg == *arg {
        format!("{} {arg}", g.flag)
    } else {
        format!("{} {} (as {arg})", g.flag, g.arg)
    };
    let key = g
        .arg
        .split_once('=')
        .map_or(g.arg.as_str(), |(k, _)| k.trim());
    // Only serde's "unknown field" is about the key; any other message is about the value.
    let hint = Scenario::parse(origin, text, &[])
        .ok()
        .filter(|_| message.starts_with("unknown field"))
        .and_then(|base| nearest_key(&base, key, message))
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    anyhow::anyhow!("{who}: {message}{hint}")
}

/// The known key closest to an unknown `key`: short names, every key of the resolved
/// scenario (`group.2.upload`), and the field names the parser said it expected.
fn nearest_key(base: &Scenario, key: &str, message: &str) -> Option<String> {
    let mut known: Vec<String> = ALIASES.iter().map(|a| a.to_string()).collect();
    if let Ok(table) = base.to_toml().parse::<toml::Table>() {
        flatten("", &table, &mut known);
    }
    let prefix = key.rsplit_once('.').map_or("", |(p, _)| p);
    if let Some((_, expected)) = message.split_once("expected") {
        known.extend(
            expected
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|f| match prefix {
                    "" => f.to_string(),
                    p => format!("{p}.{f}"),
                }),
        );
    }
    if known.iter().any(|k| k == key) {
        return None;
    }
    known
        .into_iter()
        .map(|k| (strsim::normalized_damerau_levenshtein(key, &k), k))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1)))
        .map(|(_, k)| k)
}

/// Dotted paths of every value in `table`; arrays of tables are numbered from 1.
fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&path, t, out),
            toml::Value::Array(items)
                if items.iter().all(|x| x.is_table()) && !items.is_empty() =>
            {
                for (i, item) in items.iter().enumerate() {
                    if let toml::Value::Table(t) = item {
                        flatten(&format!("{path}.{}", i + 1), t, out);
                    }
                }
            }
            _ => out.push(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name = \"t\"\n[torrent]\nsize = \"1MiB\"\n[[group]]\nrole = \"seeder\"\ncount = 1\n[[group]]\nrole = \"leecher\"\ncount = 3\n";

    fn err(sets: &[&str]) -> String {
        let given: Vec<Given> = sets.iter().map(|s| Given::set(s)).collect();
        format!("{:#}", parse("t.toml", BASE, &given).unwrap_err())
    }

    #[test]
    fn short_names_work_in_set() {
        let given = ["seeders=2", "size=4MiB", "upload=50KB/s"].map(Given::set);
        let sc = parse("t.toml", BASE, &given).unwrap();
        let counts: Vec<u32> = sc.groups.iter().map(|g| g.count.0).collect();
        assert_eq!(counts, [2, 2], "seeders keeps the swarm size");
        assert_eq!(sc.torrent.size.0, 4 << 20);
        assert_eq!(sc.defaults.upload.fixed(), Some(50_000.0));
        // A later short name sees the earlier overrides: 3 + 3 nodes, 2 of them seeders.
        let given = ["leechers=5", "seeders=2"].map(Given::set);
        let sc = parse("t.toml", BASE, &given).unwrap();
        let counts: Vec<u32> = sc.groups.iter().map(|g| g.count.0).collect();
        assert_eq!(counts, [2, 4]);
    }

    #[test]
    fn errors_name_the_override_and_suggest_a_key() {
        assert_eq!(
            err(&["group.2.upload=100kb/s"]),
            "--set group.2.upload=100kb/s: `100kb/s` is ambiguous: write `100KiB/s` (powers of \
             1024) or `100KB/s` (powers of 1000), or `100Kbit/s` for bits"
        );
        assert!(
            err(&["upload=100kb/s"]).starts_with(
                "--set upload=100kb/s (as defaults.upload=100kb/s): `100kb/s` is ambiguous"
            ),
            "{}",
            err(&["upload=100kb/s"])
        );
        let e = err(&["seeder=3"]);
        assert!(
            e.starts_with("--set seeder=3: unknown field `seeder`")
                && e.ends_with("(did you mean `seeders`?)"),
            "{e}"
        );
        let e = err(&["torrent.sise=1MiB"]);
        assert!(e.ends_with("(did you mean `torrent.size`?)"), "{e}");
        let e = err(&["group.2.polcy=tft"]);
        assert!(e.ends_with("(did you mean `group.2.policy`?)"), "{e}");
        // A bad value of a known key gets no suggestion.
        assert!(!err(&["torrent.size=big"]).contains("did you mean"));
        assert_eq!(
            err(&["seeders=4"]),
            "--set seeders=4: seeders=4 leaves no leechers in a swarm of 4"
        );
    }
}
