//! The bar loader: symbols × timeframes × a date range → tasks → a bar source → bulk upserts, with a summary
//! and a `load_runs` record. Shared by `universe bars load` and the jobs worker.
//!
//! One task is one symbol × timeframe (per-symbol strategy) or one trading day of the whole market (grouped
//! strategy, daily bars only). A task failing does not stop the others; its reason is kept. A failure every
//! further request would repeat (a rejected API key, a broken local file) stops the load. Each per-symbol task
//! commits its own bars, so a load that dies keeps what it finished and a re-run upserts the rest.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use tokio::task::JoinSet;

use super::Bar;
use super::calendar::{last_completed_session, today_new_york, trading_days};
use super::source::{BarSource, SourceError};
use crate::domain::{Environment, RunKind, RunStatus, Ticker, Timeframe};
use crate::store::{NewRun, RunOutcome, Store, StoreError};

/// Bars buffered from grouped-daily answers before they are written.
const GROUPED_FLUSH_ROWS: usize = 100_000;

/// How far back to load.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeSpec {
    /// The last N years (fractional allowed), ending at the timeframe's natural end.
    Years(f64),
    /// Explicit dates, both inclusive; `to` defaults to (and is capped at) the natural end.
    Dates {
        /// First date.
        from: NaiveDate,
        /// Last date.
        to: Option<NaiveDate>,
    },
}

/// How daily history is fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Whichever needs fewer requests.
    Auto,
    /// One aggregates walk per symbol.
    PerSymbol,
    /// One grouped-daily request per trading day, keeping the wanted symbols.
    Grouped,
}

impl Strategy {
    /// The flag's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Auto => "auto",
            Strategy::PerSymbol => "per-symbol",
            Strategy::Grouped => "grouped",
        }
    }
}

/// What to load.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct LoadRequest {
    /// Symbols (de-duplicated by the loader).
    pub symbols: Vec<Ticker>,
    pub timeframes: Vec<Timeframe>,
    pub range: RangeSpec,
    /// Daily strategy.
    pub strategy: Strategy,
    /// "Now", for range ends (injected so tests are reproducible).
    pub now: DateTime<Utc>,
    /// What the run is recorded as (`load_runs.source` gets the bar source appended).
    pub label: String,
    /// Tasks already done by an earlier attempt (`what`, timeframe): not run again.
    pub skip: HashSet<(String, Timeframe)>,
    /// Grouped-daily bars buffered before a write. A day is reported finished only once its bars are written,
    /// so a job resumed after a crash never skips a day whose bars were lost.
    pub flush_rows: usize,
    /// Point-in-time loads: each symbol's membership windows (first and last day, both included); its bars are
    /// loaded for those days of the range only. `None`: every symbol over the whole range.
    pub windows: Option<std::collections::HashMap<Ticker, Vec<(NaiveDate, NaiveDate)>>>,
}

impl LoadRequest {
    /// A request with no tasks to skip and the default write batching.
    pub fn new(
        symbols: Vec<Ticker>,
        timeframes: Vec<Timeframe>,
        range: RangeSpec,
        strategy: Strategy,
        label: String,
    ) -> Self {
        LoadRequest {
            symbols,
            timeframes,
            range,
            strategy,
            now: Utc::now(),
            label,
            skip: HashSet::new(),
            flush_rows: GROUPED_FLUSH_ROWS,
            windows: None,
        }
    }
}

/// A survivorship-free load (`bars load --point-in-time`, a job's `point_in_time`): every symbol that was a member
/// of the universe at any time from `from` to `to` (today when absent), each loaded for the days it was a member
/// plus `warmup_days` before (for indicators that need history).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct PointInTime {
    /// First day of the range.
    pub from: NaiveDate,
    /// Last day of the range (today when absent).
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// Days loaded before each membership window starts.
    #[serde(default)]
    pub warmup_days: i64,
}

/// What a point-in-time selection adds over today's members (the summary's `point_in_time`).
#[derive(Clone, Debug, Serialize)]
pub struct PointInTimeNote {
    /// Symbols that were members at some time in the range.
    pub members_in_range: usize,
    /// Members today.
    pub members_today: usize,
    /// Of those in the range, how many are not members today (what a load of today's members would miss).
    pub not_members_today: usize,
    /// Up to 20 of them, sorted.
    pub examples: Vec<String>,
}

impl std::fmt::Display for PointInTimeNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} symbols were members in the range, {} of them not today",
            self.members_in_range, self.not_members_today
        )?;
        if !self.examples.is_empty() {
            let more = if self.not_members_today > self.examples.len() { ", …" } else { "" };
            write!(f, " ({}{more})", self.examples.join(", "))?;
        }
        Ok(())
    }
}

impl PointInTime {
    /// A job's range, fixed when the job is submitted so an attempt resumed later selects the same members:
    /// `to` (default: today in New York), `from` (default: `years` before `to`) and the warm-up, checked (`from`
    /// not after `to` nor in the future, the warm-up within ten years). The error names the field.
    pub fn for_job(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        years: f64,
        warmup_days: i64,
    ) -> Result<PointInTime, (&'static str, String)> {
        let today = today_new_york(Utc::now());
        let to = to.unwrap_or(today);
        let from = from.unwrap_or_else(|| to - Duration::days((years * 365.25).round() as i64));
        if from > today {
            return Err(("from", format!("{from} is in the future")));
        }
        if to < from {
            return Err(("to", format!("{to} is before from ({from})")));
        }
        if !(0..=3650).contains(&warmup_days) {
            return Err(("warmup_days", format!("{warmup_days} is not a number of days from 0 to 3650")));
        }
        Ok(PointInTime { from, to: Some(to), warmup_days })
    }

    /// Turns `request` (whose symbols are the universe's members today) into this point-in-time load of universe
    /// `key`: its symbols become every member in the range, each with its windows, and its range reaches back by
    /// the warm-up. Errors when a part of the key has no history back to `from`.
    pub async fn select(
        &self,
        store: &Store,
        env: Environment,
        key: &str,
        request: &mut LoadRequest,
    ) -> Result<PointInTimeNote, crate::universes::ResolveError> {
        let last = self.to.unwrap_or_else(|| today_new_york(request.now));
        let windows = crate::universes::members_between(store, env, key, self.from, last, self.warmup_days).await?;
        let today: HashSet<&Ticker> = request.symbols.iter().collect();
        let mut gone: Vec<String> = windows.keys().filter(|t| !today.contains(t)).map(|t| t.to_string()).collect();
        gone.sort();
        let note = PointInTimeNote {
            members_in_range: windows.len(),
            members_today: request.symbols.len(),
            not_members_today: gone.len(),
            examples: gone.into_iter().take(20).collect(),
        };
        let mut symbols: Vec<Ticker> = windows.keys().cloned().collect();
        symbols.sort();
        request.symbols = symbols;
        request.windows = Some(windows);
        // The warm-up reaches before `from` for the symbols already members then.
        request.range =
            RangeSpec::Dates { from: self.from - chrono::Duration::days(self.warmup_days.max(0)), to: Some(last) };
        Ok(note)
    }
}

/// A failed task.
#[derive(Clone, Debug, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct TaskFailure {
    /// `AAPL` or, for a grouped day, the date.
    pub what: String,
    pub timeframe: Timeframe,
    pub reason: String,
}

/// Per-table counts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableCount {
    /// Bars received and upserted.
    pub bars: u64,
    /// Of those, rows inserted or changed (the rest were already stored with the same values).
    pub changed: u64,
}

/// The outcome of a load.
#[derive(Clone, Debug, Serialize)]
pub struct LoadSummary {
    /// `load_runs` id.
    pub run_id: i64,
    /// Bar source.
    pub source: String,
    /// Strategy used for daily bars.
    pub daily_strategy: Strategy,
    /// Date range per timeframe.
    pub ranges: BTreeMap<Timeframe, (NaiveDate, NaiveDate)>,
    /// Symbols asked for.
    pub symbols: usize,
    /// Tasks planned and run.
    pub tasks: usize,
    /// Tasks finished (successfully or not).
    pub tasks_done: usize,
    /// HTTP requests sent (0 for a folder).
    pub requests: u64,
    /// Per table.
    pub tables: BTreeMap<&'static str, TableCount>,
    /// `SYMBOL timeframe` pairs the source had no bars for, sorted (tasks finish in any order).
    pub no_data: Vec<String>,
    /// Failed tasks, sorted by what failed and its table.
    pub failures: Vec<TaskFailure>,
    /// The load stopped early (fatal error) with this reason.
    pub stopped: Option<String>,
    /// Cancelled by the observer.
    pub cancelled: bool,
}

impl LoadSummary {
    /// Whether every task succeeded and nothing stopped the load.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty() && self.stopped.is_none() && !self.cancelled
    }

    /// Bars upserted over all tables.
    pub fn total_bars(&self) -> u64 {
        self.tables.values().map(|t| t.bars).sum()
    }

    /// Symbols with at least one failed task.
    pub fn failed_symbols(&self) -> BTreeSet<&str> {
        self.failures.iter().map(|f| f.what.as_str()).collect()
    }
}

/// A finished task, as an observer sees it.
#[derive(Debug)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct TaskDone<'a> {
    /// Symbol, or a grouped day's date.
    pub what: &'a str,
    pub timeframe: Timeframe,
    /// Bars upserted by this task.
    pub bars: u64,
    /// Failure reason.
    pub error: Option<&'a str>,
}

/// Watches a load (progress bars, job status) and may cancel it between tasks.
pub trait LoadObserver: Send + Sync {
    /// The plan: how many tasks.
    fn planned(&self, _tasks: usize) {}
    /// A task started.
    fn started(&self, _what: &str, _timeframe: Timeframe) {}
    /// A task finished.
    fn finished(&self, _task: &TaskDone<'_>) {}
    /// Checked before each task starts: true stops the load at that boundary.
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Quiet;
impl LoadObserver for Quiet {}

/// A load that could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Bad request (no symbols, grouped with a folder, inverted range).
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The inclusive date range a timeframe loads: daily, weekly and monthly end at the last completed session,
/// minute and hourly at today (New York).
pub fn date_range(range: RangeSpec, tf: Timeframe, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let end = if tf.is_intraday() { today_new_york(now) } else { last_completed_session(now) };
    match range {
        RangeSpec::Years(y) => (end - Duration::days((y * 365.25).round() as i64), end),
        RangeSpec::Dates { from, to } => (from, to.map_or(end, |t| t.min(end))),
    }
}

/// Picks the daily strategy: grouped when the source has it and the range has fewer trading days than there are
/// symbols (each symbol's daily history fits one aggregates page of 50,000 bars).
pub fn choose_strategy(wanted: Strategy, source: &BarSource, symbols: usize, trading_days: usize) -> Strategy {
    match wanted {
        Strategy::Auto if source.has_grouped_daily() && trading_days < symbols => Strategy::Grouped,
        Strategy::Auto => Strategy::PerSymbol,
        other => other,
    }
}

enum Task {
    /// One symbol × timeframe over its spans (one, or a point-in-time load's membership windows): one task, so a
    /// job records it done once and a resumed job skips it whole.
    Symbol(Ticker, Timeframe, Vec<(NaiveDate, NaiveDate)>),
    Day(NaiveDate),
}

enum TaskResult {
    Symbol { symbol: Ticker, tf: Timeframe, outcome: Result<(u64, u64), SourceOrStore> },
    Day { date: NaiveDate, outcome: Result<Vec<Bar>, SourceOrStore> },
}

#[derive(Debug, thiserror::Error)]
enum SourceOrStore {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SourceOrStore {
    fn is_fatal(&self) -> bool {
        match self {
            SourceOrStore::Source(e) => e.is_fatal(),
            // The database being unreachable is not something the next task will fix.
            SourceOrStore::Store(_) => true,
        }
    }
}

async fn run_task(task: Task, store: Store, source: BarSource) -> TaskResult {
    match task {
        Task::Symbol(symbol, tf, spans) => {
            let outcome = async {
                let (mut n, mut changed) = (0, 0);
                for (from, to) in spans {
                    let bars = source.bars(&symbol, tf, from, to).await?;
                    n += bars.len() as u64;
                    changed += store.upsert_bars(tf, bars).await?;
                }
                Ok((n, changed))
            }
            .await;
            TaskResult::Symbol { symbol, tf, outcome }
        }
        Task::Day(date) => TaskResult::Day { date, outcome: source.grouped_daily(date).await.map_err(Into::into) },
    }
}

/// Runs a load. Errors only if it cannot start; task failures are in the summary.
pub async fn load_bars(
    store: &Store,
    source: &BarSource,
    request: &LoadRequest,
    observer: &dyn LoadObserver,
) -> Result<LoadSummary, LoadError> {
    let mut symbols = request.symbols.clone();
    symbols.sort();
    symbols.dedup();
    if symbols.is_empty() {
        return Err(LoadError::Invalid("no symbols to load".to_string()));
    }
    if request.timeframes.is_empty() {
        return Err(LoadError::Invalid("no timeframes to load".to_string()));
    }
    let mut ranges = BTreeMap::new();
    for &tf in &request.timeframes {
        let (from, to) = date_range(request.range, tf, request.now);
        if from > to {
            return Err(LoadError::Invalid(format!("{tf}: the range {from}..{to} is empty (from is after to)")));
        }
        ranges.insert(tf, (from, to));
    }
    if request.strategy == Strategy::Grouped && !source.has_grouped_daily() {
        return Err(LoadError::Invalid(
            "--strategy grouped needs the Massive source (a bar folder is read per symbol)".to_string(),
        ));
    }
    let days = ranges.get(&Timeframe::Day).map(|(f, t)| trading_days(*f, *t)).unwrap_or_default();
    let daily_strategy = choose_strategy(request.strategy, source, symbols.len(), days.len());

    let mut tasks = Vec::new();
    for (&tf, &(from, to)) in &ranges {
        if tf == Timeframe::Day && daily_strategy == Strategy::Grouped {
            tasks.extend(days.iter().filter(|d| !request.skip.contains(&(d.to_string(), tf))).map(|d| Task::Day(*d)));
        } else {
            for s in symbols.iter().filter(|s| !request.skip.contains(&(s.to_string(), tf))) {
                let spans: Vec<(NaiveDate, NaiveDate)> = match &request.windows {
                    None => vec![(from, to)],
                    Some(w) => w
                        .get(s)
                        .into_iter()
                        .flatten()
                        .map(|(a, b)| ((*a).max(from), (*b).min(to)))
                        .filter(|(a, b)| a <= b)
                        .collect(),
                };
                if !spans.is_empty() {
                    tasks.push(Task::Symbol(s.clone(), tf, spans));
                }
            }
        }
    }

    let mode = daily_strategy.as_str();
    let source_label = format!("{} via {}", request.label, source.describe());
    let run = NewRun {
        kind: RunKind::Bars,
        source: &source_label,
        mode,
        environment: Environment::Default,
        checksum: None,
        validated: false,
        rollback_of: None,
        started_at: crate::store::now(),
    };
    let run_id = store.start_run(&run).await?;
    let requests_before = source.requests_sent();
    tracing::info!(run_id, symbols = symbols.len(), tasks = tasks.len(), strategy = mode, source = %source.describe(), "bar load started");

    let mut summary = LoadSummary {
        run_id,
        source: source.describe(),
        daily_strategy,
        ranges: ranges.clone(),
        symbols: symbols.len(),
        tasks: tasks.len(),
        tasks_done: 0,
        requests: 0,
        tables: BTreeMap::new(),
        no_data: Vec::new(),
        failures: Vec::new(),
        stopped: None,
        cancelled: false,
    };
    observer.planned(tasks.len());

    let concurrency = match source {
        BarSource::Massive(c) => c.config().concurrency.max(1),
        BarSource::Local(_) => 2,
    };
    let wanted: HashSet<&Ticker> = symbols.iter().collect();
    let mut grouped_buffer: Vec<Bar> = Vec::new();
    // Grouped days fetched but not yet written: reported finished when their bars are.
    let mut pending_days: Vec<(String, u64)> = Vec::new();
    let mut writer = GroupedWriter::default();
    let mut grouped_seen: HashSet<Ticker> = HashSet::new();
    let mut pending = tasks.into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < concurrency && summary.stopped.is_none() && !summary.cancelled {
            if observer.cancelled() {
                summary.cancelled = true;
                break;
            }
            let Some(task) = pending.next() else { break };
            match &task {
                Task::Symbol(s, tf, ..) => observer.started(s.as_str(), *tf),
                Task::Day(d) => observer.started(&d.to_string(), Timeframe::Day),
            }
            running.spawn(run_task(task, store.clone(), source.clone()));
        }
        let Some(joined) = running.join_next().await else { break };
        summary.tasks_done += 1;
        let result = match joined {
            Ok(r) => r,
            Err(e) => {
                summary.stopped = Some(format!("a load task panicked: {e}"));
                continue;
            }
        };
        let (what, tf, bars, error) = match result {
            TaskResult::Symbol { symbol, tf, outcome } => match outcome {
                Ok((n, changed)) => {
                    let t = summary.tables.entry(tf.table()).or_default();
                    t.bars += n;
                    t.changed += changed;
                    if n == 0 {
                        summary.no_data.push(format!("{symbol} {tf}"));
                    }
                    (symbol.to_string(), tf, n, None)
                }
                Err(e) => {
                    if e.is_fatal() {
                        summary.stopped = Some(e.to_string());
                    }
                    (symbol.to_string(), tf, 0, Some(e.to_string()))
                }
            },
            TaskResult::Day { date, outcome } => match outcome {
                Ok(all) => {
                    let in_window = |b: &Bar| match &request.windows {
                        None => true,
                        Some(w) => w.get(&b.symbol).is_some_and(|v| v.iter().any(|(a, z)| (*a..=*z).contains(&date))),
                    };
                    let kept: Vec<Bar> =
                        all.into_iter().filter(|b| wanted.contains(&b.symbol) && in_window(b)).collect();
                    let n = kept.len() as u64;
                    grouped_seen.extend(kept.iter().map(|b| b.symbol.clone()));
                    grouped_buffer.extend(kept);
                    pending_days.push((date.to_string(), n));
                    if grouped_buffer.len() >= request.flush_rows.max(1) {
                        let (bars, days) = (std::mem::take(&mut grouped_buffer), std::mem::take(&mut pending_days));
                        writer.write(store, bars, days, &mut summary, observer).await;
                    }
                    continue;
                }
                Err(e) => {
                    if e.is_fatal() {
                        summary.stopped = Some(e.to_string());
                    }
                    (date.to_string(), Timeframe::Day, 0, Some(e.to_string()))
                }
            },
        };
        if let Some(reason) = &error {
            tracing::warn!(run_id, what = %what, timeframe = %tf, error = %reason, "bar task failed");
            summary.failures.push(TaskFailure { what: what.clone(), timeframe: tf, reason: reason.clone() });
        }
        observer.finished(&TaskDone { what: &what, timeframe: tf, bars, error: error.as_deref() });
    }
    writer.write(store, grouped_buffer, pending_days, &mut summary, observer).await;
    writer.finish(&mut summary, observer).await;
    if daily_strategy == Strategy::Grouped && ranges.contains_key(&Timeframe::Day) {
        summary.no_data.extend(symbols.iter().filter(|s| !grouped_seen.contains(*s)).map(|s| format!("{s} day")));
    }
    summary.requests = source.requests_sent() - requests_before;
    // Tasks run concurrently: sort what the operator reads, so two runs of one load print alike.
    summary.no_data.sort();
    summary.failures.sort_by(|a, b| (&a.what, a.timeframe.table()).cmp(&(&b.what, b.timeframe.table())));

    let status = if summary.cancelled {
        RunStatus::Cancelled
    } else if summary.stopped.is_some() {
        RunStatus::Failed
    } else if summary.failures.is_empty() {
        RunStatus::Loaded
    } else {
        RunStatus::Partial
    };
    let outcome = RunOutcome {
        added: summary.tables.values().map(|t| t.changed).sum::<u64>() as i64,
        unchanged: summary.tables.values().map(|t| t.bars - t.changed).sum::<u64>() as i64,
        rejected: summary.failures.len() as i64,
        error: summary
            .stopped
            .clone()
            .or_else(|| summary.failures.first().map(|f| format!("{}: {}", f.what, f.reason))),
        details: Some(crate::store::RunDetails::summary(&summary)),
        ..RunOutcome::new(status)
    };
    store.end_run(run_id, &outcome).await?;
    tracing::info!(
        run_id,
        status = status.as_str(),
        bars = summary.total_bars(),
        failures = summary.failures.len(),
        requests = summary.requests,
        "bar load finished"
    );
    Ok(summary)
}

/// Writes grouped-daily bars in the background, one batch at a time, so the next days are fetched and parsed
/// while a batch is stored. A day is reported finished only once its batch is written; a storage failure stops
/// the load (those bars stay unwritten, and a re-run fetches them again).
#[derive(Default)]
struct GroupedWriter {
    in_flight: Option<tokio::task::JoinHandle<Written>>,
    /// A batch failed to be written.
    failed: bool,
}

/// A written batch: rows changed (or why not), bars in it, and the days (with their bar counts) it completes.
type Written = (Result<u64, StoreError>, u64, Vec<(String, u64)>);

impl GroupedWriter {
    /// Waits for the batch being written, then starts writing `bars` (fetched for `days`).
    async fn write(
        &mut self,
        store: &Store,
        bars: Vec<Bar>,
        days: Vec<(String, u64)>,
        summary: &mut LoadSummary,
        observer: &dyn LoadObserver,
    ) {
        self.finish(summary, observer).await;
        // After a failed write nothing more is written (the load has stopped; those days stay unrecorded).
        if (bars.is_empty() && days.is_empty()) || self.failed {
            return;
        }
        let store = store.clone();
        self.in_flight = Some(tokio::spawn(async move {
            let n = bars.len() as u64;
            let written = if bars.is_empty() { Ok(0) } else { store.upsert_bars(Timeframe::Day, bars).await };
            (written, n, days)
        }));
    }

    /// Waits for the batch being written and accounts for it.
    async fn finish(&mut self, summary: &mut LoadSummary, observer: &dyn LoadObserver) {
        let Some(handle) = self.in_flight.take() else { return };
        let (written, n, days) = match handle.await {
            Ok(done) => done,
            Err(e) => {
                self.failed = true;
                summary.stopped.get_or_insert(format!("writing grouped daily bars: the task panicked: {e}"));
                return;
            }
        };
        match written {
            Ok(changed) => {
                let t = summary.tables.entry(Timeframe::Day.table()).or_default();
                t.bars += n;
                t.changed += changed;
                for (what, bars) in days {
                    observer.finished(&TaskDone { what: &what, timeframe: Timeframe::Day, bars, error: None });
                }
            }
            Err(e) => {
                self.failed = true;
                summary.stopped.get_or_insert(format!("writing grouped daily bars: {e}"));
            }
        }
    }
}
