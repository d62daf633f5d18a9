//! `cache_sync` jobs: the daily sync run by a worker, queued by the trigger route or the schedule. Progress is the sync's steps (list, reference, delistings, market caps, IPOs, themes, cache) as the
//! job's tasks, stored and mirrored like a bar load's; the report's summary is the job's `result`. A worker that
//! dies mid-sync leaves nothing applied (one transaction), and the next worker runs the job again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Ending, JobEnd, Submitted, Worker};
use crate::bars::BarSource;
use crate::domain::{JobStatus, RunStatus};
use crate::store::{JobProgress, JobRow, Store, StoreError};
use crate::sync::daily::{self, ListSource, SyncError, SyncMode, SyncReport, SyncRequest};

/// The job type in the `jobs` table and on the API.
pub const CACHE_SYNC: &str = "cache_sync";

/// A queued sync.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncJobSpec {
    /// The job's id.
    pub job_id: String,
    /// Always [`CACHE_SYNC`].
    pub job_type: String,
    /// The steps.
    pub mode: SyncMode,
    /// Apply even past the delisting safety limit.
    #[serde(default)]
    pub force: bool,
    /// `api`, `scheduler`, `cli`, `console`, …
    pub triggered_by: String,
    /// Report the changes and write only the run record (the console's preview).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// The schedule's jobs, with Redis: how the wait for TickStock's end-of-day signal ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eod: Option<String>,
}

/// Where a worker's syncs read the day's list and their rules.
#[derive(Debug, Clone, Default)]
pub struct SyncSettings {
    /// A folder with `tickers.csv` (else Massive's reference tickers, when the worker loads from Massive).
    pub source: Option<PathBuf>,
    /// Organize definitions for the cache rebuild (else the shipped ones).
    pub definitions: Option<PathBuf>,
    /// IPO rules (else the shipped ones).
    pub rules: Option<PathBuf>,
}

/// Queues a sync.
pub async fn submit(store: &Store, mode: SyncMode, force: bool, triggered_by: &str) -> Result<Submitted, StoreError> {
    submit_with_id(store, &super::new_job_id(), mode, force, triggered_by, None).await
}

/// Queues a dry run of a sync: the worker reports what would change and writes only the run record.
pub async fn submit_dry_run(
    store: &Store,
    mode: SyncMode,
    force: bool,
    triggered_by: &str,
) -> Result<Submitted, StoreError> {
    let job_id = super::new_job_id();
    let spec = SyncJobSpec {
        job_id: job_id.clone(),
        job_type: CACHE_SYNC.into(),
        mode,
        force,
        triggered_by: triggered_by.into(),
        dry_run: true,
        eod: None,
    };
    insert(store, &spec).await
}

/// Queues a sync under a given id (the schedule's, one per day, so a second worker's attempt is a no-op).
pub async fn submit_with_id(
    store: &Store,
    job_id: &str,
    mode: SyncMode,
    force: bool,
    triggered_by: &str,
    eod: Option<String>,
) -> Result<Submitted, StoreError> {
    let spec = SyncJobSpec {
        job_id: job_id.to_string(),
        job_type: CACHE_SYNC.into(),
        mode,
        force,
        triggered_by: triggered_by.into(),
        dry_run: false,
        eod,
    };
    insert(store, &spec).await
}

async fn insert(store: &Store, spec: &SyncJobSpec) -> Result<Submitted, StoreError> {
    let value = serde_json::to_value(spec).expect("a sync spec serializes");
    let what = if spec.dry_run { "dry run" } else { "synchronization" };
    let message = format!("Cache {what} ({}) queued", spec.mode.as_str());
    let created = store.insert_job(&spec.job_id, CACHE_SYNC, &value, JobStatus::Queued, &message, 0).await?;
    Ok(Submitted { job_id: spec.job_id.clone(), symbol_count: 0, created })
}

/// The job's result: the report without its change list (that is in `sync_changes_log`, by run).
pub fn result_of(report: &SyncReport) -> Value {
    let mut v = serde_json::to_value(report).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("changes");
        o.insert("total_changes".into(), json!(report.changes.len()));
    }
    v
}

/// The sync's steps as the job's progress.
struct Steps {
    all: Vec<&'static str>,
    current: &'static str,
    done: usize,
}

impl Steps {
    fn progress(&self) -> (JobProgress, String) {
        let total = self.all.len();
        let progress = JobProgress {
            progress: (self.done * 100 / total.max(1)) as i32,
            current_symbol: Some(self.current.to_string()),
            tasks_total: total as i32,
            tasks_done: self.done as i32,
            ..JobProgress::default()
        };
        (progress, format!("Step {} of {total}: {}", (self.done + 1).min(total), self.current))
    }
}

impl Worker {
    /// Runs a claimed `cache_sync` job.
    pub(super) async fn run_sync_job(&self, job: JobRow) -> Result<JobEnd, StoreError> {
        let id = job.id.clone();
        let worker = self.options.id.clone();
        let end = |status: JobStatus| JobEnd { job_id: id.clone(), status: Ending::Ended(status) };
        let fail = async |message: String| -> Result<JobEnd, StoreError> {
            self.store.finish_job(&id, &worker, JobStatus::Failed, &message, &json!([]), None).await?;
            Ok(end(JobStatus::Failed))
        };
        let spec: SyncJobSpec = match serde_json::from_value(job.spec.clone()) {
            Ok(s) => s,
            Err(e) => return fail(format!("stored job is unreadable: {e}")).await,
        };
        if job.cancel_requested {
            self.store
                .finish_job(&id, &worker, JobStatus::Cancelled, "cancelled before it started", &json!([]), None)
                .await?;
            return Ok(end(JobStatus::Cancelled));
        }
        let req = match self.sync_request(&spec) {
            Ok(r) => r,
            Err(why) => return fail(why).await,
        };
        let mut all = vec!["list"];
        all.extend_from_slice(spec.mode.steps());
        let steps = Arc::new(Mutex::new(Steps { all, current: "list", done: 0 }));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let on_step = {
            let steps = steps.clone();
            move |step: &'static str| {
                let mut s = steps.lock().expect("steps lock");
                if let Some(i) = s.all.iter().position(|x| *x == step) {
                    s.done = i;
                }
                s.current = step;
                let _ = tx.send(());
            }
        };
        // Store the step (and renew the lease) as each starts and every tick, off the sync's path: on SQLite the
        // write waits for the sync's transaction, which holds the file's write lock.
        let saver = {
            let (store, steps, bus) = (self.store.clone(), steps.clone(), self.bus.clone());
            let (id, worker, tick, lease) = (id.clone(), worker.clone(), self.options.tick, self.options.lease);
            let started_at = job.started_at;
            tokio::spawn(async move {
                loop {
                    let more = tokio::select! {
                        m = rx.recv() => m.is_some(),
                        () = tokio::time::sleep(tick) => true,
                    };
                    if !more {
                        return;
                    }
                    let (progress, message) = steps.lock().expect("steps lock").progress();
                    if let Err(e) = store.save_job_progress(&id, &worker, &progress, &message, &[], lease).await {
                        tracing::warn!(job_id = %id, error = %e, "could not store the sync's progress");
                    }
                    super::mirror_progress(bus.as_ref(), &id, JobStatus::Running, &message, &progress, started_at)
                        .await;
                }
            })
        };
        if let Some(bus) = &self.bus
            && let Err(e) = crate::sync::events::publish_triggered(bus, &id, &req, &spec.triggered_by).await
        {
            tracing::warn!(job_id = %id, error = %e, "could not publish cache_sync_triggered");
        }
        let eod = spec.eod.clone();
        let started = std::time::Instant::now();
        let result = daily::run_observed(&self.store, &req, &on_step).await;
        drop(on_step);
        let _ = saver.await;
        if let Some(bus) = &self.bus
            && let Err(e) = crate::sync::events::publish_completed(bus, &id, &req, &result, started.elapsed()).await
        {
            tracing::warn!(job_id = %id, error = %e, "could not publish the sync's events");
        }
        let (status, message, value) = match &result {
            Ok(r) => {
                let line = if r.status == RunStatus::Skipped {
                    format!("Sync run {}: nothing changed", r.run_id)
                } else {
                    format!(
                        "Sync run {}: {} changes, {} universes updated",
                        r.run_id,
                        r.changes.len(),
                        r.universes_updated.len()
                    )
                };
                let line = match &eod {
                    Some(note) => format!("{line} ({note})"),
                    None => line,
                };
                let mut value = result_of(r);
                value["eod"] = json!(eod);
                (JobStatus::Completed, line, Some(value))
            }
            Err(SyncError::Invalid(problems)) => {
                let lines: Vec<String> = problems.iter().take(20).map(ToString::to_string).collect();
                (
                    JobStatus::Failed,
                    format!("the ticker list is invalid; nothing was changed: {}", lines.join("; ")),
                    None,
                )
            }
            Err(e) => {
                // The database's own words stay in the log: the job's message is served and published.
                if let SyncError::Store(inner) = e {
                    tracing::error!(job_id = %id, error = %inner, "the sync's transaction failed; nothing was changed");
                }
                (JobStatus::Failed, daily::public_reason(e), None)
            }
        };
        let (progress, _) = {
            let mut s = steps.lock().expect("steps lock");
            if status == JobStatus::Completed {
                s.done = s.all.len();
            }
            s.progress()
        };
        if self.store.save_job_progress(&id, &worker, &progress, &message, &[], self.options.lease).await?.is_none()
            || !self.store.finish_job(&id, &worker, status, &message, &json!([]), value.as_ref()).await?
        {
            return Ok(JobEnd { job_id: id.clone(), status: Ending::Lost });
        }
        Ok(end(status))
    }

    /// The sync a job asks for, with this worker's list source, definitions and rules.
    fn sync_request(&self, spec: &SyncJobSpec) -> Result<SyncRequest, String> {
        let settings = &self.options.sync;
        let source = match (&settings.source, &self.source) {
            (Some(dir), _) => ListSource::Dir(dir.clone()),
            (None, BarSource::Massive(client)) => ListSource::Massive(client.clone()),
            (None, BarSource::Local(_)) => {
                return Err("no list to sync from: start the worker with --sync-source DIR (a folder with \
                            tickers.csv), or load from Massive (MASSIVE_API_KEY)"
                    .into());
            }
        };
        let problems = |what: &str, p: Vec<crate::load::Problem>| {
            let lines: Vec<String> = p.iter().map(ToString::to_string).collect();
            format!("{what}: {}", lines.join("; "))
        };
        let max = crate::load::DEFAULT_MAX_INPUT_BYTES;
        let definitions = crate::organize::definitions_from(settings.definitions.as_deref(), max)
            .map_err(|p| problems("the organize definitions", p))?;
        let rules =
            crate::sync::rules::from(settings.rules.as_deref(), max).map_err(|p| problems("the sync rules", p))?;
        Ok(SyncRequest {
            force: spec.force,
            dry_run: spec.dry_run,
            definitions,
            rules,
            ..SyncRequest::new(self.options.environment, source, spec.mode)
        })
    }
}
