//! `universe load all DIR`: the seeds' one-command reload. A folder laid out by convention — `symbols.csv`,
//! `universes/*.csv`, `sectors.csv`, `holdings/*.csv`, `themes.toml` (each optional) — is loaded in that order,
//! one transaction per step (incremental: files unchanged since they were loaded are skipped), then sectors are enriched from SIC codes, the cache rows organized and everything
//! validated. The first step that fails stops the run; the report says what was applied and what was not.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Input, LoadError, LoadKind, LoadRequest, Mode, Problem};
use crate::domain::{Environment, RunStatus};
use crate::organize;
use crate::quality::{self, Level};
use crate::store::Store;

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Changes written.
    Applied,
    /// Nothing to change.
    Unchanged,
    /// The checks passed (validate).
    Passed,
    /// Its file or folder is not in the directory.
    Absent,
    /// It failed; nothing of it was written.
    Failed,
    /// A step before it failed.
    NotRun,
}

/// One step of the reload.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `symbols`, `universes`, …, `enrich`, `organize`, `validate`.
    pub step: &'static str,
    /// How it ended.
    pub status: StepStatus,
    /// Its `load_runs` id, if it ran.
    pub run_id: Option<i64>,
    /// One line on what it did, or why it failed.
    pub detail: String,
}

/// The whole reload.
#[derive(Debug, Clone, Serialize)]
pub struct LoadAllReport {
    /// The folder.
    pub dir: String,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// The problems of the failed step's input, if that is why it failed.
    pub problems: Vec<Problem>,
}

impl LoadAllReport {
    /// Whether every step that ran succeeded.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.status != StepStatus::Failed)
    }
}

/// The files of a step: a file, or the `.csv` files of a folder (sorted), if present; a folder that cannot be
/// listed is an error, not an absence.
fn files(dir: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    let path = dir.join(name);
    if path.is_dir() {
        let cannot = |e: std::io::Error| format!("cannot list {}: {e}", path.display());
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(cannot)? {
            let p = entry.map_err(cannot)?.path();
            if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")) {
                found.push(p);
            }
        }
        found.sort();
        Ok(found)
    } else if path.is_file() {
        Ok(vec![path])
    } else {
        Ok(Vec::new())
    }
}

fn status_of(s: RunStatus) -> StepStatus {
    if s.applied() { StepStatus::Applied } else { StepStatus::Unchanged }
}

/// Runs the reload.
pub async fn run(store: &Store, dir: &Path, env: Environment, max_input_bytes: u64) -> LoadAllReport {
    const LOADS: [(&str, &str, LoadKind); 5] = [
        ("symbols", "symbols.csv", LoadKind::Symbols),
        ("universes", "universes", LoadKind::Universes),
        ("sectors", "sectors.csv", LoadKind::Sectors),
        ("holdings", "holdings", LoadKind::Holdings),
        ("themes", "themes.toml", LoadKind::Themes),
    ];
    let mut report = LoadAllReport { dir: dir.display().to_string(), steps: Vec::new(), problems: Vec::new() };
    let mut failed = false;
    let step = |report: &mut LoadAllReport, step: &'static str, status, run_id, detail: String| {
        report.steps.push(Step { step, status, run_id, detail });
    };
    for (name, file, kind) in LOADS {
        if failed {
            step(&mut report, name, StepStatus::NotRun, None, String::new());
            continue;
        }
        let paths = match files(dir, file) {
            Ok(p) => p,
            Err(why) => {
                failed = true;
                step(&mut report, name, StepStatus::Failed, None, why);
                continue;
            }
        };
        if paths.is_empty() {
            step(&mut report, name, StepStatus::Absent, None, format!("no {file}"));
            continue;
        }
        // Incremental: run again after fixing one file, only what changed is applied.
        let mut req = LoadRequest::new(kind, Vec::new(), env);
        req.mode = Mode::Incremental;
        for p in &paths {
            match Input::read(p, max_input_bytes) {
                Ok(i) => req.inputs.push(i),
                Err(problem) => req.unreadable.push(problem),
            }
        }
        match super::run(store, &req).await {
            Ok(r) => {
                let t = &r.totals;
                let detail = format!(
                    "{} file(s): {} added, {} removed, {} changed, {} unchanged",
                    paths.len(),
                    t.added,
                    t.removed,
                    t.changed,
                    t.unchanged
                );
                step(&mut report, name, status_of(r.status), Some(r.run_id), detail);
            }
            Err(e) => {
                failed = true;
                let run_id = match &e {
                    LoadError::Invalid { problems, run_id } => {
                        report.problems.clone_from(problems);
                        *run_id
                    }
                    _ => None,
                };
                step(&mut report, name, StepStatus::Failed, run_id, e.to_string());
            }
        }
    }
    if failed {
        for name in ["enrich", "organize", "validate"] {
            step(&mut report, name, StepStatus::NotRun, None, String::new());
        }
        return report;
    }
    match super::enrich_from_sic(store, env, Mode::Full).await {
        Ok(r) => {
            let (status, run_id) =
                r.load.as_ref().map_or((StepStatus::Unchanged, None), |l| (status_of(l.status), Some(l.run_id)));
            step(
                &mut report,
                "enrich",
                status,
                run_id,
                format!("{} stocks classified from SIC codes", r.assigned.len()),
            );
        }
        Err(e) => {
            step(&mut report, "enrich", StepStatus::Failed, None, e.to_string());
            step(&mut report, "organize", StepStatus::NotRun, None, String::new());
            step(&mut report, "validate", StepStatus::NotRun, None, String::new());
            return report;
        }
    }
    let req = organize::OrganizeRequest {
        definitions: organize::shipped_definitions(),
        preserve: false,
        dry_run: false,
        environment: env,
        force: false,
    };
    let organized = organize::run(store, &req).await.map_err(|e| e.to_string());
    match organized {
        Ok(r) => {
            let totals: Vec<String> = r.totals.iter().map(|(k, v)| format!("{v} {k}")).collect();
            step(&mut report, "organize", status_of(r.status), Some(r.run_id), totals.join(", "));
        }
        Err(e) => {
            step(&mut report, "organize", StepStatus::Failed, None, e);
            step(&mut report, "validate", StepStatus::NotRun, None, String::new());
            return report;
        }
    }
    match quality::validate(store, env, quality::Options::default()).await {
        Ok(v) => {
            let failing: Vec<&str> = v.checks.iter().filter(|c| c.level == Level::Fail).map(|c| c.id).collect();
            let warning = v.checks.iter().filter(|c| c.level == Level::Warn).count();
            let detail = if failing.is_empty() {
                format!("{} checks, {warning} warning(s), none failing", v.checks.len())
            } else {
                format!("failing: {}", failing.join(", "))
            };
            let status = if failing.is_empty() { StepStatus::Passed } else { StepStatus::Failed };
            step(&mut report, "validate", status, None, detail);
        }
        Err(e) => step(&mut report, "validate", StepStatus::Failed, None, e.to_string()),
    }
    report
}
