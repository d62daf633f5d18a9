//! `universe bars import`: a CSV file of bars into one OHLCV table, in one transaction, for offline use.
//!
//! The whole file is parsed before anything is written: a malformed value refuses the file (nothing written);
//! rows with a missing price are left out, counted and listed by line (or, with `strict`, refuse the file).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::csv::{CsvBarsError, Rejected, read_bars};
use crate::domain::{Environment, RunKind, RunStatus, Timeframe};
use crate::store::{NewRun, RunOutcome, Store, StoreError, dedupe_bars};

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// `load_runs` id.
    pub run_id: i64,
    /// The file.
    pub file: PathBuf,
    /// Timeframe (table).
    pub timeframe: Timeframe,
    /// Data rows in the file.
    pub rows: u64,
    /// Bars upserted.
    pub imported: u64,
    /// Of those, rows inserted or changed.
    pub changed: u64,
    /// Rows that repeated an earlier (symbol, time); the last one wins.
    pub duplicates: u64,
    /// Distinct symbols.
    pub symbols: usize,
    /// Rows left out for missing values, with their lines.
    pub rejected: Vec<Rejected>,
}

/// An import that wrote nothing.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub enum ImportError {
    /// The file is unreadable or has a malformed value.
    #[error(transparent)]
    Csv(#[from] CsvBarsError),
    /// `strict` and some rows have missing values.
    #[error(
        "{file}: {count} rows have missing values (first at line {first_line}: {first_reason}); nothing imported (drop --strict to import the rest)"
    )]
    Rejected {
        file: PathBuf,
        /// Rejected rows.
        count: usize,
        /// First rejected line.
        first_line: u64,
        /// Its reason.
        first_reason: String,
    },
    /// Storage failed (nothing committed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The parser thread died.
    #[error("reading {0} failed unexpectedly")]
    Panicked(PathBuf),
}

/// Imports `path` into `tf`'s table.
pub async fn import_file(store: &Store, path: &Path, tf: Timeframe, strict: bool) -> Result<ImportReport, ImportError> {
    let owned = path.to_path_buf();
    let parsed = tokio::task::spawn_blocking(move || read_bars(&owned, tf, None))
        .await
        .map_err(|_| ImportError::Panicked(path.to_path_buf()))??;
    if strict && let Some(first) = parsed.rejected.first() {
        return Err(ImportError::Rejected {
            file: path.to_path_buf(),
            count: parsed.rejected.len(),
            first_line: first.line,
            first_reason: first.reason.clone(),
        });
    }
    let mut bars = parsed.bars;
    let duplicates = dedupe_bars(&mut bars) as u64;
    let imported = bars.len() as u64;
    let mut symbols: Vec<&str> = bars.iter().map(|b| b.symbol.as_str()).collect();
    symbols.dedup();
    let symbols = symbols.len();
    let source = path.display().to_string();
    let started_at = crate::store::now();
    let mut tx = store.begin().await?;
    let changed = tx.upsert_bars(tf, bars).await?;
    let run = NewRun {
        kind: RunKind::Bars,
        source: &source,
        mode: "import",
        environment: Environment::Default,
        checksum: None,
        validated: false,
        rollback_of: None,
        started_at,
    };
    let run_id = tx.insert_run(&run).await?;
    let mut report = ImportReport {
        run_id,
        file: path.to_path_buf(),
        timeframe: tf,
        rows: parsed.rows,
        imported,
        changed,
        duplicates,
        symbols,
        rejected: parsed.rejected,
    };
    let outcome = RunOutcome {
        added: changed as i64,
        unchanged: (imported - changed) as i64,
        rejected: report.rejected.len() as i64,
        details: Some(crate::store::RunDetails::summary(&report)),
        ..RunOutcome::new(RunStatus::Loaded)
    };
    tx.finish_run(run_id, &outcome).await?;
    tx.commit().await?;
    report.run_id = run_id;
    Ok(report)
}
