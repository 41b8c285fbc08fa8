//! `songrec models`: list, inspect, promote, roll back and prune registered model versions.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use songrec_registry::{Pruned, Registry, VersionInfo};

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ModelsCommand,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Every registered version, oldest first; `*` marks the champion.
    List {
        /// The metric shown as a column (all metrics are in `show` and `--json`).
        #[arg(long, default_value = songrec_model::PRIMARY_METRIC)]
        metric: String,
    },
    /// One version's params, metrics, timings, data size and checksum.
    Show {
        /// Version number.
        version: u64,
    },
    /// Make a version the champion, whatever its metrics (the previous one is kept for rollback).
    Promote {
        /// Version number.
        version: u64,
    },
    /// Make the previous champion the champion again.
    Rollback,
    /// Remove old versions: all but the N newest, the champion and the previous champion
    /// (which rollback returns to). A local registry loses their files; with MLflow, which
    /// keeps every version, only their downloaded model files are removed.
    Prune {
        /// Newest versions to keep besides the champion and its rollback target.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        keep: u64,
    },
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let registry = settings.open_registry()?;
    let json = args.json;
    match args.command {
        ModelsCommand::List { metric } => {
            let versions = registry
                .list()
                .await
                .context("cannot list model versions")?;
            if json {
                print_json(&versions)?;
            } else if versions.is_empty() {
                println!("no model versions in {}", registry.location());
            } else {
                print!("{}", version_table(&versions, &metric));
            }
        }
        ModelsCommand::Show { version } => {
            let info = registry
                .get(version)
                .await
                .with_context(|| format!("cannot read model version {version}"))?;
            if json {
                print_json(&info)?;
            } else {
                print!("{}", version_details(&info));
            }
        }
        ModelsCommand::Promote { version } => {
            let previous = champion_version(&registry).await?;
            registry
                .promote(version)
                .await
                .with_context(|| format!("cannot promote model version {version}"))?;
            let info = registry.get(version).await?;
            if json {
                print_json(&info)?;
            } else {
                println!("{}", change_line(version, previous));
            }
        }
        ModelsCommand::Rollback => {
            let previous = champion_version(&registry).await?;
            let info = registry
                .rollback()
                .await
                .context("cannot roll the champion back")?;
            if json {
                print_json(&info)?;
            } else {
                println!("{}", change_line(info.version, previous));
            }
        }
        ModelsCommand::Prune { keep } => {
            let pruned = registry
                .prune(usize::try_from(keep)?)
                .await
                .with_context(|| format!("cannot prune {}", registry.location()))?;
            if json {
                print_json(&pruned)?;
            } else {
                println!("{}", prune_line(&pruned));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn champion_version(registry: &Registry) -> anyhow::Result<Option<u64>> {
    Ok(registry
        .champion()
        .await
        .context("cannot read the champion")?
        .map(|v| v.version))
}

fn change_line(now: u64, before: Option<u64>) -> String {
    match before {
        Some(b) if b == now => format!("version {now} is already the champion"),
        Some(b) => format!("version {now} is now the champion (was {b})"),
        None => format!("version {now} is now the champion"),
    }
}

fn prune_line(pruned: &Pruned) -> String {
    let list = |versions: &[u64]| {
        versions
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let removed = if pruned.removed.is_empty() {
        "nothing to remove".to_string()
    } else {
        format!("removed {}", list(&pruned.removed))
    };
    let mut line = format!("{removed}; kept {}", list(&pruned.kept));
    if let Some(champion) = pruned.champion {
        line.push_str(&format!(" (champion {champion}"));
        if let Some(rollback) = pruned.rollback {
            line.push_str(&format!(", rollback {rollback}"));
        }
        line.push(')');
    }
    line
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn version_table(versions: &[VersionInfo], metric: &str) -> String {
    let header = [
        String::new(),
        "VERSION".into(),
        "CREATED".into(),
        "SONGS".into(),
        "SIZE".into(),
        metric.to_uppercase(),
        "CHECKSUM".into(),
    ];
    let rows: Vec<[String; 7]> = versions
        .iter()
        .map(|v| {
            [
                if v.is_champion { "*" } else { "" }.into(),
                v.version.to_string(),
                v.created_at.clone(),
                v.songs.to_string(),
                human_bytes(v.model_bytes),
                v.metrics
                    .get(metric)
                    .map_or_else(|| "-".into(), |m| format!("{m:.4}")),
                v.checksum.chars().take(12).collect(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn version_details(v: &VersionInfo) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: String| out.push_str(&format!("{key:<12} {value}\n"));
    line("version", v.version.to_string());
    line("champion", if v.is_champion { "yes" } else { "no" }.into());
    line("created_at", v.created_at.clone());
    line("songs", v.songs.to_string());
    line("model size", human_bytes(v.model_bytes));
    line("checksum", v.checksum.clone());
    if let Some(run) = &v.run_id {
        line("mlflow run", run.clone());
    }
    let mut section = |title: &str, entries: Vec<(String, String)>| {
        out.push_str(&format!("{title}:\n"));
        for (k, val) in entries {
            out.push_str(&format!("  {k:<30} {val}\n"));
        }
    };
    section(
        "params",
        v.params
            .iter()
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect(),
    );
    section(
        "metrics",
        v.metrics
            .iter()
            .map(|(k, m)| (k.clone(), format!("{m:.6}")))
            .collect(),
    );
    section(
        "timings (s)",
        v.timings
            .iter()
            .map(|(k, t)| (k.clone(), format!("{t:.3}")))
            .collect(),
    );
    out
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn info(version: u64, champion: bool, hit: Option<f64>) -> VersionInfo {
        VersionInfo {
            version,
            created_at: "2024-01-02T03:04:05.000Z".into(),
            params: BTreeMap::from([("k".into(), "100".into())]),
            metrics: hit
                .map(|h| BTreeMap::from([("hit".to_string(), h)]))
                .unwrap_or_default(),
            timings: BTreeMap::from([("total".into(), 2.5)]),
            checksum: "ab".repeat(32),
            songs: 5000,
            model_bytes: 3 * 1024 * 1024,
            is_champion: champion,
            run_id: None,
        }
    }

    #[test]
    fn the_table_marks_the_champion_and_shows_the_chosen_metric() {
        let table = version_table(&[info(1, false, Some(0.5)), info(2, true, None)], "hit");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            vec![
                "   VERSION  CREATED                   SONGS  SIZE     HIT     CHECKSUM",
                "   1        2024-01-02T03:04:05.000Z  5000   3.0 MiB  0.5000  abababababab",
                "*  2        2024-01-02T03:04:05.000Z  5000   3.0 MiB  -       abababababab",
            ]
        );
    }

    #[test]
    fn details_list_params_metrics_and_timings() {
        let text = version_details(&info(7, true, Some(0.25)));
        assert!(text.contains("version      7\n"), "{text}");
        assert!(text.contains("champion     yes\n"), "{text}");
        assert!(
            text.contains("  hit                            0.250000\n"),
            "{text}"
        );
        assert!(
            text.contains("  total                          2.500\n"),
            "{text}"
        );
    }

    #[test]
    fn sizes_are_readable() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
