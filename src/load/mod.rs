//! Loaders for ETF holdings, index universes, sector classifications, themes and symbol metadata.
//!
//! Every load follows the same gates:
//! 1. read and parse **all** inputs, collecting every [`Problem`] (file, line, field, reason); any problem stops
//!    the load before the first write;
//! 2. diff the input against the store ([`plan`]);
//! 3. `dry-run` records the run and stops; otherwise the whole change is applied in **one transaction**, with the
//!    `load_runs` row, every membership change and its `membership_history` interval committed together.
//!
//! Loads of one group per file (holdings, universes) stream: the first pass keeps each file's problems and notes
//! but not its rows (files parsed in parallel; an incremental load skips a file whose name and bytes match what a
//! stored group was loaded from), then the transaction re-reads, diffs and writes a chunk of files at a time, so a
//! market-scale load holds tens of thousands of rows rather than a million. Sectors and themes, whose checks span
//! files, are planned whole.
//!
//! A failed load still leaves a `load_runs` row saying why. [`rollback`] undoes an applied run.

mod all;
mod apply;
mod events;
mod holdings;
mod input;
mod parsed;
mod plan;
mod rollback;
mod sectors;
mod sic;
mod symbols;
mod themes;
mod universes;

use serde::Serialize;

pub use all::{LoadAllReport, Step, StepStatus, run as load_all};
pub use events::{EventsReport, EventsRequest, History, Interval, load_events};
pub use holdings::HoldingsFormat;
pub use input::{DEFAULT_MAX_INPUT_BYTES, Input, Problem};
pub use parsed::SkippedRow;
pub use plan::Action;
pub use rollback::rollback;
pub use sic::{Coverage, EnrichReport, SicAssignment, enrich_from_sic, enrich_sectors, unclassified_stocks};
pub(crate) use symbols::{ParsedSymbols, parse as parse_symbols};

use std::collections::HashMap;

use parsed::{GroupInput, GroupSource, Parsed, Reparse};

use crate::domain::{Environment, GroupKind, GroupName, RunKind, RunStatus};
use crate::store::{NewRun, RunOutcome, Store, StoreError};

/// What to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LoadKind {
    /// ETF holdings files (ETF groups).
    Holdings,
    /// Index membership files (UNIVERSE groups).
    Universes,
    /// Sector classification files (SECTOR groups).
    Sectors,
    /// Theme definition files (THEME groups).
    Themes,
    /// Symbol metadata (the `symbols` table).
    Symbols,
}

/// The group loads: each kind of file and the group kind it writes. A symbols load is the other kind of load, so
/// code that only handles groups takes this type and needs no case for symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupLoad {
    /// ETF holdings files.
    Holdings,
    /// Index membership files.
    Universes,
    /// Sector classification files.
    Sectors,
    /// Theme definitions.
    Themes,
}

impl GroupLoad {
    /// The kind of group it writes.
    pub fn group_kind(self) -> GroupKind {
        match self {
            GroupLoad::Holdings => GroupKind::Etf,
            GroupLoad::Universes => GroupKind::Universe,
            GroupLoad::Sectors => GroupKind::Sector,
            GroupLoad::Themes => GroupKind::Theme,
        }
    }
}

impl LoadKind {
    /// Groups of which kind it loads; `None` for symbol metadata.
    pub fn groups(self) -> Option<GroupLoad> {
        match self {
            LoadKind::Holdings => Some(GroupLoad::Holdings),
            LoadKind::Universes => Some(GroupLoad::Universes),
            LoadKind::Sectors => Some(GroupLoad::Sectors),
            LoadKind::Themes => Some(GroupLoad::Themes),
            LoadKind::Symbols => None,
        }
    }

    /// What its run is recorded as.
    pub fn run_kind(self) -> RunKind {
        match self {
            LoadKind::Holdings => RunKind::Holdings,
            LoadKind::Universes => RunKind::Universes,
            LoadKind::Sectors => RunKind::Sectors,
            LoadKind::Themes => RunKind::Themes,
            LoadKind::Symbols => RunKind::Symbols,
        }
    }

    /// The name recorded in `load_runs.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadKind::Holdings => "holdings",
            LoadKind::Universes => "universes",
            LoadKind::Sectors => "sectors",
            LoadKind::Themes => "themes",
            LoadKind::Symbols => "symbols",
        }
    }
}

/// How to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Reload every group in the input (applying only the membership diff).
    #[default]
    Full,
    /// Skip groups whose file checksum is unchanged; apply only the diff of the others.
    Incremental,
    /// Print the diff; write nothing but the run record.
    DryRun,
}

impl Mode {
    /// The name recorded in `load_runs.mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incremental => "incremental",
            Mode::DryRun => "dry-run",
        }
    }
}

/// A load to run.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct LoadRequest {
    /// What the inputs are.
    pub kind: LoadKind,
    /// The files.
    pub inputs: Vec<Input>,
    /// Files that could not be read (missing, unreadable, too large): the load fails on them, with its `failed`
    /// run record, after the readable ones are checked too.
    pub unreadable: Vec<Problem>,
    pub mode: Mode,
    /// Delete groups of this kind that are absent from the input.
    pub prune: bool,
    /// The ETF a single holdings file holds (else taken from the file).
    pub etf: Option<String>,
    /// The universe a single universe file defines (else taken from the file name).
    pub name: Option<String>,
    /// Environment of the groups.
    pub environment: Environment,
    /// Show a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
    /// Run the structural checks inside the load's transaction and roll back what breaks them.
    pub validate: bool,
    /// When the input's memberships took effect (holdings' effective date): membership history opens and closes
    /// then instead of at the load's time. Must not predate the group's stored history.
    pub effective_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Apply only while the store's data version is still this one (the version a preview was computed at):
    /// checked under the writers' lock, so a change since fails the load ([`LoadError::Changed`]), writing nothing.
    pub expect_version: Option<i64>,
}

impl LoadRequest {
    /// A full load of these inputs with structural validation and no progress bar; adjust the fields as needed.
    pub fn new(kind: LoadKind, inputs: Vec<Input>, environment: Environment) -> LoadRequest {
        LoadRequest {
            kind,
            inputs,
            unreadable: Vec::new(),
            mode: Mode::Full,
            prune: false,
            etf: None,
            name: None,
            environment,
            progress: false,
            validate: true,
            effective_at: None,
            expect_version: None,
        }
    }
}

pub use crate::store::Counts;

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.added += o.added;
        self.removed += o.removed;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.skipped += o.skipped;
    }

    fn outcome(&self, status: RunStatus) -> RunOutcome {
        RunOutcome {
            added: self.added as i64,
            removed: self.removed as i64,
            changed: self.changed as i64,
            unchanged: self.unchanged as i64,
            rejected: self.skipped as i64,
            ..RunOutcome::new(status)
        }
    }
}

/// One group's line in the report.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupReport {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// What happened to it.
    pub action: Action,
    #[serde(flatten)]
    pub counts: Counts,
    /// A dry run's sample of the members it would add, remove and change.
    #[serde(skip_serializing_if = "MemberDiff::is_empty")]
    pub diff: MemberDiff,
}

/// Members of one group a planned change touches, by ticker: at most [`MemberDiff::SAMPLE`] of each list (the
/// counts give the totals).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberDiff {
    /// Members it adds.
    pub added: Vec<String>,
    /// Members it removes.
    pub removed: Vec<String>,
    /// Members whose weight or metadata change.
    pub changed: Vec<String>,
}

impl MemberDiff {
    /// Tickers kept per list.
    pub const SAMPLE: usize = 200;

    fn of(p: &plan::GroupPlan) -> MemberDiff {
        let take = |it: &mut dyn Iterator<Item = String>| it.take(Self::SAMPLE).collect::<Vec<_>>();
        MemberDiff {
            added: take(&mut p.add.iter().map(|m| m.symbol.to_string())),
            removed: take(&mut p.remove.iter().map(ToString::to_string)),
            changed: take(&mut p.change.iter().map(|(m, _)| m.symbol.to_string())),
        }
    }

    /// Whether it holds nothing (not a dry run, or nothing changes).
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The result of a load, dry-run or rollback.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct LoadReport {
    /// The `load_runs` id.
    pub run_id: i64,
    pub kind: String,
    pub mode: String,
    /// `applied`, `dry_run` or `skipped`.
    pub status: RunStatus,
    pub environment: Environment,
    /// Per group.
    pub groups: Vec<GroupReport>,
    pub totals: Counts,
    /// Rows not loaded, with reasons.
    pub skipped_rows: Vec<SkippedRow>,
    /// Notes on what was detected.
    pub notes: Vec<String>,
    /// Checks that did not pass after the load (information only; filled in by the caller).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<crate::quality::Check>,
}

/// Why a load did not apply.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The input is invalid; nothing but the failed run record was written.
    #[error("{} problem(s) in the input; nothing was loaded", .problems.len())]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
        /// The failed run's id, when it could be recorded.
        run_id: Option<i64>,
    },
    /// The load would have broken a structural check; it was rolled back.
    #[error("the load was rolled back because it would break {}", describe_checks(.0))]
    BreaksValidation(Vec<crate::quality::Check>),
    /// The data changed since the preview the load was asked to match ([`LoadRequest::expect_version`]).
    #[error("the data changed since the preview (version {previewed}, now {now}); nothing was loaded: preview again")]
    Changed {
        /// The version the preview was computed at.
        previewed: i64,
        /// The version found under the writers' lock.
        now: i64,
    },
    /// The request itself cannot be carried out (unknown run, refused rollback).
    #[error("{0}")]
    Refused(String),
    /// Storage failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe_checks(checks: &[crate::quality::Check]) -> String {
    let parts: Vec<String> = checks
        .iter()
        .map(|c| {
            let items: Vec<&str> = c.items.iter().take(crate::quality::MAX_ITEMS).map(String::as_str).collect();
            format!("{} ({}: {})", c.id, c.title, items.join("; "))
        })
        .collect();
    parts.join(", ")
}

/// Parses a group load's input: a file at a time for kinds of one group per file, else all at once.
async fn group_source<'a>(
    store: &Store,
    req: &'a LoadRequest,
    load: GroupLoad,
    problems: &mut Vec<Problem>,
) -> GroupSource<'a> {
    let (flag, what, parse): (Option<&str>, &str, Reparse<'a>) = match load {
        GroupLoad::Sectors => return GroupSource::whole(sectors::parse(&req.inputs, problems)),
        GroupLoad::Themes => {
            let mut parsed = themes::parse(&req.inputs, problems);
            if themes::has_rules(&parsed) {
                match store.symbols().await {
                    Ok(symbols) => themes::resolve_rules(&mut parsed, &symbols, problems),
                    Err(e) => problems.push(Problem::file(
                        &req.inputs[0].name,
                        format!("reading the symbols for the theme rules: {e}"),
                    )),
                }
            }
            return GroupSource::whole(parsed);
        }
        GroupLoad::Holdings => {
            let etf = req.etf.as_deref();
            (etf, "--etf names one fund", Box::new(move |i: &[Input], p: &mut Vec<Problem>| holdings::parse(i, etf, p)))
        }
        GroupLoad::Universes => {
            let name = req.name.as_deref();
            (
                name,
                "--name names one universe",
                Box::new(move |i: &[Input], p: &mut Vec<Problem>| universes::parse(i, name, p)),
            )
        }
    };
    if flag.is_some() && req.inputs.len() > 1 {
        problems.push(Problem::file(&req.inputs[0].name, format!("{what}, but several files were given")));
        return GroupSource::whole(Parsed::default());
    }
    // An incremental load need not read a file it loaded before, unchanged (same name, same bytes).
    let mut known: HashMap<(String, String), GroupInput> = HashMap::new();
    if req.mode == Mode::Incremental && flag.is_none() {
        let stored = crate::store::Reader::Pool(store).groups_of_kind(req.environment, load.group_kind()).await;
        match stored {
            Ok(stored) => known.extend(stored.into_iter().filter_map(parsed::stub_of_stored)),
            Err(e) => tracing::warn!(error = %e, "could not read the stored groups; every file is read"),
        }
    }
    // Only when the file's name alone gives the stored group's name: a group named by `--etf`/`--name` (or by an
    // Invesco fund column) is parsed again rather than attached to a file by its name and bytes.
    let named_by_file = |input: &Input| -> Option<String> {
        let stem = input.stem();
        match load {
            GroupLoad::Holdings => holdings::etf_from_stem(&stem),
            _ => Some(universes::name_from_stem(&stem)),
        }
    };
    let unchanged = |input: &Input| {
        let stub = known.get(&(parsed::file_name(&input.name), input.checksum()))?;
        let name = GroupName::parse(load.group_kind(), &named_by_file(input)?).ok()?;
        (name == stub.name).then(|| stub.clone())
    };
    GroupSource::per_file(&req.inputs, parse, unchanged, problems)
}

/// How many problems go into the failed run's `error` text.
const ERROR_PROBLEMS: usize = 20;

/// Runs a load: parse and validate everything, diff, then apply in one transaction (or just record a dry-run).
#[tracing::instrument(skip_all, fields(kind = req.kind.as_str(), mode = req.mode.as_str(), files = req.inputs.len()))]
pub async fn run(store: &Store, req: &LoadRequest) -> Result<LoadReport, LoadError> {
    let started_at = crate::store::now();
    let source: Vec<&str> =
        req.inputs.iter().map(|i| i.name.as_str()).chain(req.unreadable.iter().map(|p| p.file.as_str())).collect();
    let source = source.join(", ");
    let checksum = sectors::combined_checksum(&req.inputs);
    let new_run = NewRun {
        kind: req.kind.run_kind(),
        source: &source,
        mode: req.mode.as_str(),
        environment: req.environment,
        checksum: Some(&checksum),
        validated: req.validate,
        rollback_of: None,
        started_at,
    };
    let mut problems = req.unreadable.clone();
    if req.prune && req.kind == LoadKind::Symbols {
        return Err(LoadError::Refused("--prune applies to group loads, not to symbols".into()));
    }
    if req.inputs.is_empty() && req.unreadable.is_empty() {
        return Err(LoadError::Refused("no input files given".into()));
    }
    let result = match req.kind.groups() {
        None => {
            let parsed = symbols::parse(&req.inputs, &mut problems);
            if problems.is_empty() { Some(apply::load_symbols(store, req, &new_run, parsed).await) } else { None }
        }
        Some(load) => {
            let source = group_source(store, req, load, &mut problems).await;
            if problems.is_empty() { Some(apply::load_groups(store, req, load, &new_run, source).await) } else { None }
        }
    };
    match result {
        Some(Ok(report)) => Ok(report),
        Some(Err(e)) => {
            // The transaction rolled back; record the failure if the database still answers.
            let outcome = RunOutcome::failed(e.to_string());
            if let Err(rec) = store.record_run(&new_run, &outcome).await {
                tracing::warn!(error = %rec, "could not record the failed run");
            }
            Err(e)
        }
        None => {
            let mut text: Vec<String> = problems.iter().take(ERROR_PROBLEMS).map(ToString::to_string).collect();
            if problems.len() > ERROR_PROBLEMS {
                text.push(format!("… and {} more", problems.len() - ERROR_PROBLEMS));
            }
            let outcome = RunOutcome::failed(text.join("\n"));
            let run_id = store.record_run(&new_run, &outcome).await.ok();
            Err(LoadError::Invalid { problems, run_id })
        }
    }
}
