//! `universe export` and `import`: everything this tool owns as one document, and back.

use anyhow::{Context, Result};

use super::print::{confirm, problems_error};
use super::{open, print_json};
use crate::config::Config;
use crate::transfer;

/// Export layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ExportFormat {
    /// One JSON document.
    Json,
    /// A folder of CSV files.
    Csv,
}

/// Where `universe export` writes and in which layout.
#[derive(clap::Args, Debug)]
pub(super) struct ExportArgs {
    /// Output file, or folder with `--format csv` (default: standard output for JSON).
    #[arg(long, short)]
    pub(super) output: Option<std::path::PathBuf>,
    /// json: one document; csv: a folder of CSV files (manifest.json, symbols.csv, groups.csv, …).
    #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
    pub(super) format: ExportFormat,
}

/// What `universe import` reads and how it applies it.
#[derive(clap::Args, Debug)]
pub(super) struct ImportArgs {
    /// The document: a JSON file or a folder written by `export --format csv`.
    pub(super) path: std::path::PathBuf,
    /// replace: the environment's data becomes the document's; merge: insert and update only.
    #[arg(long, value_enum, default_value_t = transfer::ImportMode::Replace)]
    pub(super) mode: transfer::ImportMode,
    /// Replace without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub(super) yes: bool,
}

/// Writes the document.
pub(super) async fn export(args: ExportArgs, config: &Config) -> Result<()> {
    let ExportArgs { output, format } = args;

    let store = open(config).await?;
    let doc = transfer::export(&store, config.environment).await;
    store.close().await;
    let doc = doc?;
    match (format, output) {
        (ExportFormat::Csv, Some(dir)) => {
            transfer::csv_folder::write(&doc, &dir).with_context(|| format!("writing {}", dir.display()))?;
        }
        (ExportFormat::Csv, None) => anyhow::bail!("--format csv writes a folder: give it with --output DIR"),
        (ExportFormat::Json, out) => {
            let text = serde_json::to_string_pretty(&doc)? + "\n";
            match out {
                Some(p) => std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?,
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}

/// Reads a document, validates all of it, then applies it in one transaction.
pub(super) async fn import(args: ImportArgs, config: &Config) -> Result<()> {
    let ImportArgs { path, mode, yes } = args;

    let doc = transfer::read(&path, config.max_input_bytes).map_err(|p| problems_error(config, &p, None))?;
    let source = path.display().to_string();
    if mode == transfer::ImportMode::Replace && !yes {
        confirm(&format!(
            "Replace the groups, history, symbols and universe cache rows of environment {} with {}?",
            config.environment,
            path.display()
        ))?;
    }
    let store = open(config).await?;
    let result = transfer::import(&store, &doc, &source, config.environment, mode).await;
    store.close().await;
    let run_id = result?;
    let members: usize = doc.groups.iter().map(|g| g.members.len()).sum();
    if config.json {
        return print_json(&serde_json::json!({ "run_id": run_id, "mode": mode, "symbols": doc.symbols.len(),
                "groups": doc.groups.len(), "memberships": members, "history": doc.history.len(),
                "cache_entries": doc.cache_entries.len() }));
    }
    println!(
        "Imported {} ({mode:?}, run {run_id}): {} symbols, {} groups, {members} memberships, {} history intervals, {} cache rows",
        source,
        doc.symbols.len(),
        doc.groups.len(),
        doc.history.len(),
        doc.cache_entries.len()
    );
    Ok(())
}
