//! `load_runs`: one row per load, dry-run, failure and rollback — the audit trail and the handle for rollback.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use super::details::OrganizeRecord;
use super::{RunDetails, Store, StoreError, Tx, on_conn, on_pool};
use crate::domain::{Environment, RunKind, RunStatus};

/// What is known when a run starts.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct NewRun<'a> {
    /// What the run does.
    pub kind: RunKind,
    /// The files (or `run N` for a rollback).
    pub source: &'a str,
    /// `full`, `incremental`, `dry-run`.
    pub mode: &'a str,
    pub environment: Environment,
    /// MD5 of the input.
    pub checksum: Option<&'a str>,
    /// Whether post-load validation ran.
    pub validated: bool,
    /// The run this one rolls back.
    pub rollback_of: Option<i64>,
    /// Start time.
    pub started_at: DateTime<Utc>,
}

/// How a run ended.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct RunOutcome {
    /// How it ended.
    pub status: RunStatus,
    /// Memberships (or symbols) added.
    pub added: i64,
    pub removed: i64,
    /// Weight or metadata changed.
    pub changed: i64,
    pub unchanged: i64,
    /// Input rows skipped (non-equity lines) or rejected.
    pub rejected: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// Per-group summary and the state needed to roll the run back.
    pub details: Option<RunDetails>,
}

/// A stored run.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// What the run did.
    #[sqlx(try_from = "String")]
    pub kind: RunKind,
    /// Source files.
    pub source: String,
    pub mode: String,
    #[sqlx(try_from = "String")]
    pub environment: Environment,
    /// Input checksum.
    pub checksum: Option<String>,
    /// How it stands or ended.
    #[sqlx(try_from = "String")]
    pub status: RunStatus,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    pub unchanged: i64,
    /// Skipped or rejected input rows.
    pub rejected: i64,
    /// Whether structural validation ran.
    pub validated: bool,
    /// Error text for failed runs.
    pub error: Option<String>,
    /// Run this one rolled back.
    pub rollback_of: Option<i64>,
    /// Run that rolled this one back.
    pub rolled_back_by: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// What the run changed (per group, rollback state, organize's rows, a summary): read by [`RunRow::typed`]
    /// from the stored JSON, as the run's kind wrote it.
    #[serde(skip)]
    #[sqlx(skip)]
    pub details: Option<RunDetails>,
    /// The stored JSON, until [`RunRow::typed`] has read it.
    #[serde(skip)]
    #[sqlx(json(nullable), rename = "details")]
    stored_details: Option<Value>,
}

const RUN_COLUMNS: &str = "id, kind, source, mode, environment, checksum, status, added, removed, changed, unchanged, \
     rejected, validated, error, rollback_of, rolled_back_by, started_at, finished_at, details";

const INSERT_RUN: &str = "INSERT INTO load_runs (kind, source, mode, environment, checksum, status, validated, \
     rollback_of, started_at) VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8) RETURNING id";

const FINISH_RUN: &str = "UPDATE load_runs SET status = $2, added = $3, removed = $4, changed = $5, unchanged = $6, \
     rejected = $7, error = $8, details = $9, finished_at = $10 WHERE id = $1";

impl RunRow {
    /// Reads the stored details as the run's kind wrote them. Details that do not parse are logged and left out
    /// (`details` is `None`): a rollback then refuses the run instead of guessing.
    fn typed(mut self) -> RunRow {
        if let Some(v) = self.stored_details.take() {
            match RunDetails::from_stored(self.kind, v) {
                Ok(d) => self.details = Some(d),
                Err(e) => tracing::warn!(run_id = self.id, error = %e, "unreadable run details"),
            }
        }
        self
    }
}

impl RunOutcome {
    /// An outcome with this status and nothing counted yet.
    pub fn new(status: RunStatus) -> RunOutcome {
        RunOutcome { status, added: 0, removed: 0, changed: 0, unchanged: 0, rejected: 0, error: None, details: None }
    }

    /// A failed run's outcome.
    pub fn failed(error: String) -> RunOutcome {
        RunOutcome { error: Some(error), ..RunOutcome::new(RunStatus::Failed) }
    }
}

impl Store {
    /// Records a run that wrote nothing else (dry-run, skipped, failed), in its own short transaction.
    pub async fn record_run(&self, run: &NewRun<'_>, outcome: &RunOutcome) -> Result<i64, StoreError> {
        self.begin().await?.record(run, outcome).await
    }

    /// Records the start of a long run (status `running`) in its own transaction, so the row is visible while
    /// the run works; [`Store::end_run`] stores the outcome.
    pub async fn start_run(&self, run: &NewRun<'_>) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let id = tx.insert_run(run).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores the outcome of a run started with [`Store::start_run`].
    pub async fn end_run(&self, id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.finish_run(id, outcome).await?;
        tx.commit().await
    }

    /// Most recent runs first, without their `details` (which can be large; see [`Store::run`]).
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        let columns = RUN_COLUMNS.replace("details", "NULL AS details");
        let sql = format!("SELECT {columns} FROM load_runs ORDER BY id DESC LIMIT $1");
        let rows =
            on_pool!(self, p => sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(p).await?);
        Ok(rows.into_iter().map(RunRow::typed).collect())
    }

    /// One run.
    pub async fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM load_runs WHERE id = $1");
        let row = on_pool!(self, p => sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?);
        Ok(row.map(RunRow::typed))
    }

    /// Applied, not rolled back runs after `id` in the same environment (for rollback's safety check).
    pub async fn later_applied_runs(&self, id: i64, env: Environment) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM load_runs WHERE id > $1 AND environment = $2 AND status = 'applied' \
             AND rolled_back_by IS NULL ORDER BY id"
        );
        let rows = on_pool!(self, p => sqlx::query_as::<_, RunRow>(sqlx::AssertSqlSafe(sql))
            .bind(id).bind(env.as_str()).fetch_all(p).await?);
        Ok(rows.into_iter().map(RunRow::typed).collect())
    }

    /// Checksum of the last applied, not rolled back run of a kind (incremental skip for loads without groups).
    pub async fn last_applied_checksum(&self, kind: RunKind, env: Environment) -> Result<Option<String>, StoreError> {
        let row: Option<Option<String>> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT checksum FROM load_runs WHERE kind = $1 AND environment = $2 AND status = 'applied' \
             AND rolled_back_by IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(env.as_str())
        .fetch_optional(p)
        .await?);
        Ok(row.flatten())
    }
}

impl Tx {
    /// Id and details of the latest organize run that applied or found nothing to change, in an environment, with
    /// these definitions (checksum) and mode: what organize compares its inputs' fingerprint with.
    pub async fn last_organize_result(
        &mut self,
        env: Environment,
        checksum: &str,
        mode: &str,
    ) -> Result<Option<(i64, OrganizeRecord)>, StoreError> {
        let row: Option<(i64, Option<Json<Value>>)> = on_conn!(self, c => sqlx::query_as(
            "SELECT id, details FROM load_runs WHERE kind = 'organize' AND environment = $1 AND checksum = $2 \
             AND mode = $3 AND status IN ('applied', 'skipped') ORDER BY id DESC LIMIT 1",
        )
        .bind(env.as_str())
        .bind(checksum)
        .bind(mode)
        .fetch_optional(&mut *c)
        .await?);
        // Details that do not parse are as good as none: the run builds.
        Ok(row.and_then(|(id, d)| Some((id, serde_json::from_value(d?.0).ok()?))))
    }
}

impl Tx {
    /// Records a run and commits. A writer that found nothing to write records its run in the transaction that
    /// holds the lock: one connection for the whole command, where releasing it first and beginning anew makes
    /// the pool open another (its connection is returned only after a round trip).
    pub async fn record(self, run: &NewRun<'_>, outcome: &RunOutcome) -> Result<i64, StoreError> {
        self.commit_after(async |tx: &mut Tx| {
            let id = tx.insert_run(run).await?;
            tx.finish_run(id, outcome).await?;
            Ok(id)
        })
        .await
    }

    /// Inserts a run in state `running`; returns its id.
    pub async fn insert_run(&mut self, run: &NewRun<'_>) -> Result<i64, StoreError> {
        let id: i64 = on_conn!(self, c => sqlx::query_scalar(INSERT_RUN)
            .bind(run.kind.as_str())
            .bind(run.source)
            .bind(run.mode)
            .bind(run.environment.as_str())
            .bind(run.checksum)
            .bind(run.validated)
            .bind(run.rollback_of)
            .bind(run.started_at)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    /// Stores a run's outcome. An applied run also moves the data version on (see [`Tx::bump_data_version`]), in
    /// the same transaction: a change and the signal that it happened commit together or not at all.
    pub async fn finish_run(&mut self, id: i64, outcome: &RunOutcome) -> Result<(), StoreError> {
        if outcome.status.applied() {
            self.bump_data_version(Some(id)).await?;
        }
        on_conn!(self, c => {
            sqlx::query(FINISH_RUN)
            .bind(id)
            .bind(outcome.status.as_str())
            .bind(outcome.added)
            .bind(outcome.removed)
            .bind(outcome.changed)
            .bind(outcome.unchanged)
            .bind(outcome.rejected)
            .bind(outcome.error.as_deref())
            .bind(outcome.details.as_ref().map(Json))
            .bind(super::now())
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    /// Marks a run as rolled back by another.
    pub async fn mark_rolled_back(&mut self, id: i64, by: i64) -> Result<(), StoreError> {
        on_conn!(self, c => {
            sqlx::query("UPDATE load_runs SET rolled_back_by = $2, status = 'rolled_back' WHERE id = $1")
                .bind(id)
                .bind(by)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }
}
