//! The market-data commands: `bars load`, `bars import`, `symbols refresh`, `enrich sectors --from-sic`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::print_json;
use super::table::TextTable;
use crate::bars::load::{LoadObserver, TaskDone};
use crate::bars::{self, BarSource, LoadRequest, LoadSummary, RangeSpec, Strategy};
use crate::config::{Config, MarketArgs};
use crate::domain::{Ticker, Timeframe};
use crate::market::MassiveClient;
use crate::store::Store;

/// Which symbols and timeframes (`bars load`, `jobs submit`).
#[derive(clap::Args, Debug)]
pub(super) struct Selection {
    /// Universe key (`dow30`, `nasdaq100:SPY`, `stock_universe:…`).
    #[arg(long, required_unless_present = "symbols", conflicts_with = "symbols")]
    pub universe: Option<String>,
    /// Comma-separated symbols.
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Comma-separated: 1min, hour, day, week, month.
    #[arg(long, default_value = "day")]
    pub timeframes: String,
}

impl Selection {
    /// The parsed symbols (empty when a universe is given).
    pub fn tickers(&self) -> Result<Vec<Ticker>> {
        self.symbols.iter().map(|s| Ticker::parse(s).with_context(|| format!("--symbols: {s:?}"))).collect()
    }
}

#[derive(Subcommand, Debug)]
pub(super) enum BarsCommand {
    /// Load OHLCV bars for a universe or a list of symbols from Massive (or a folder of CSV bars) into the
    /// five OHLCV tables. Idempotent: loading a range again changes nothing. Exit code 1 if any symbol failed
    /// (unless --allow-partial).
    #[command(after_help = "Examples:
  MASSIVE_API_KEY=… universe bars load --universe dow30 --years 1
  MASSIVE_API_KEY=… universe bars load --universe sp500 --years 1 --strategy grouped --rate 100/s
  universe bars load --symbols AAPL,MSFT --timeframes 1min,hour --from 2026-11-01 --rate 100/s
  universe bars load --universe dow30 --source sample --timeframes day,week,month   (offline)
  universe bars load --symbols AAPL --source ./my-bars --from 2017-01-01 --to 2017-12-31
  universe bars load --universe sp500 --from 2008-01-01 --to 2009-12-31 --point-in-time   (LEH included)")]
    Load {
        #[command(flatten)]
        selection: Selection,
        /// How many years back (fractional allowed) [default: 1 unless --from is given].
        #[arg(long, conflicts_with = "from")]
        years: Option<f64>,
        /// First date (YYYY-MM-DD).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last date [default: the last completed session for day/week/month, today for 1min/hour].
        #[arg(long, requires = "from")]
        to: Option<chrono::NaiveDate>,
        /// Daily bars: per symbol, one grouped-daily request per trading day, or whichever needs fewer requests.
        #[arg(long, value_enum, default_value_t = Strategy::Auto)]
        strategy: Strategy,
        /// Exit 0 even if some symbols failed (they are still listed).
        #[arg(long)]
        allow_partial: bool,
        /// Survivorship-free: every symbol that was a member of the --universe group(s) at any time in the range
        /// (from their history), each for the days it was a member (needs --from).
        #[arg(long, requires_all = ["from"])]
        point_in_time: bool,
        /// With --point-in-time: this many days of bars before each membership starts (indicator warm-up).
        #[arg(long, default_value_t = 0, requires = "point_in_time")]
        warmup_days: i64,
        #[command(flatten)]
        market: Box<MarketArgs>,
    },
    /// Import a CSV file of bars (`symbol,date|timestamp,open,high,low,close,volume`, or the shared S&P 500
    /// file's `date,open,high,low,close,volume,Name`) in one transaction. Rows with a missing price are left out
    /// and listed by line; a malformed value refuses the whole file.
    #[command(after_help = "Examples:
  universe bars import sp500_daily_ohlcv_2013-2018_all_stocks_5yr.csv
  universe bars import aapl_minutes.csv --timeframe 1min --strict")]
    Import {
        /// The file.
        file: PathBuf,
        /// Which table: 1min, hour, day, week or month.
        #[arg(long, default_value = "day")]
        timeframe: Timeframe,
        /// Refuse the file if any row has a missing value.
        #[arg(long)]
        strict: bool,
    },
}

/// The bar source the flags ask for. With no key and no `--source`, the bundled sample — said on stderr.
/// The note goes to stderr, so it never mixes with `--json` data on stdout.
pub(super) fn bar_source(market: &MarketArgs) -> Result<BarSource> {
    match market.source.as_deref() {
        Some("massive") => {
            let config = market.massive().context(
                "--source massive needs an API key: set MASSIVE_API_KEY (or POLYGON_API_KEY), or pass --massive-api-key",
            )?;
            Ok(BarSource::massive(MassiveClient::new(config)?))
        }
        Some("sample") => Ok(BarSource::sample()),
        Some(dir) => {
            let path = PathBuf::from(dir);
            if !path.is_dir() {
                bail!("--source {dir}: not a folder (use massive, sample, or a folder of CSV bar files)");
            }
            Ok(BarSource::local(path))
        }
        None => match market.massive() {
            Some(config) => Ok(BarSource::massive(MassiveClient::new(config)?)),
            None => {
                eprintln!(
                    "note: no MASSIVE_API_KEY configured, so bars come from the bundled sample (Dow 30, daily, \
                     2017-02-08..2018-02-07); set MASSIVE_API_KEY for real data or --source DIR for your files"
                );
                Ok(BarSource::sample())
            }
        },
    }
}

/// A progress bar over tasks (hidden when stderr is not a terminal or output is JSON).
struct Progress(ProgressBar);

impl LoadObserver for Progress {
    fn planned(&self, tasks: usize) {
        self.0.set_length(tasks as u64);
    }
    fn started(&self, what: &str, timeframe: Timeframe) {
        self.0.set_message(format!("{what} {timeframe}"));
    }
    fn finished(&self, task: &TaskDone<'_>) {
        self.0.inc(1);
        if let Some(e) = task.error {
            self.0.suspend(|| eprintln!("failed: {} {}: {e}", task.what, task.timeframe));
        }
    }
}

pub(super) async fn run(command: BarsCommand, config: &Config) -> Result<ExitCode> {
    match command {
        BarsCommand::Load {
            selection,
            years,
            from,
            to,
            strategy,
            allow_partial,
            point_in_time,
            warmup_days,
            market,
        } => {
            let timeframes = Timeframe::parse_list(&selection.timeframes)?;
            let range = match (years, from) {
                (Some(y), _) if !(y > 0.0 && y <= 100.0) => bail!("--years must be between 0 and 100, got {y}"),
                (Some(y), _) => RangeSpec::Years(y),
                (None, Some(from)) => RangeSpec::Dates { from, to },
                (None, None) => RangeSpec::Years(1.0),
            };
            let source = bar_source(&market)?;
            let store = Store::open(&config.database_url).await?;
            let (tickers, label) = match &selection.universe {
                Some(key) => {
                    let resolved = crate::universes::resolve(&store, config.environment, key).await?;
                    let tickers = resolved.iter().filter_map(|s| Ticker::parse(s).ok()).collect::<Vec<_>>();
                    (tickers, format!("universe {key}"))
                }
                None => (selection.tickers()?, format!("symbols {}", selection.symbols.join(","))),
            };
            let mut request = LoadRequest::new(tickers, timeframes, range, strategy, label);
            let mut pit_note = None;
            if point_in_time {
                let (Some(key), Some(from)) = (&selection.universe, from) else {
                    bail!("--point-in-time needs --universe (a group with history) and --from");
                };
                let pit = bars::PointInTime { from, to, warmup_days };
                pit_note = Some(pit.select(&store, config.environment, key, &mut request).await?);
                let last = to.unwrap_or_else(|| request.now.date_naive());
                request.label = format!("universe {key} point-in-time {from}..{last}");
            }
            let bar = if config.json { ProgressBar::hidden() } else { ProgressBar::new(0) };
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} tasks {msg}")
                    .expect("static template"),
            );
            let progress = Progress(bar);
            let summary = bars::load_bars(&store, &source, &request, &progress).await;
            progress.0.finish_and_clear();
            store.close().await;
            let summary = summary?;
            if config.json {
                let mut v = serde_json::to_value(&summary)?;
                if let Some(note) = &pit_note {
                    v["point_in_time"] = serde_json::to_value(note)?;
                }
                print_json(&v)?;
            } else {
                print_load_summary(&summary);
                if let Some(n) = &pit_note {
                    println!("point in time: {n}");
                }
            }
            let ok = summary.stopped.is_none() && !summary.cancelled && (summary.failures.is_empty() || allow_partial);
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        BarsCommand::Import { file, timeframe, strict } => {
            let store = Store::open(&config.database_url).await?;
            let report = bars::import::import_file(&store, &file, timeframe, strict).await;
            store.close().await;
            let report = report?;
            if config.json {
                print_json(&report)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "Imported {} into {} (run {}): {} rows read, {} bars upserted ({} new or changed) for {} symbols",
                report.file.display(),
                report.timeframe.table(),
                report.run_id,
                report.rows,
                report.imported,
                report.changed,
                report.symbols
            );
            if report.duplicates > 0 {
                println!("{} rows repeated an earlier symbol and time; the last one was kept", report.duplicates);
            }
            if !report.rejected.is_empty() {
                println!("{} rows rejected for missing values:", report.rejected.len());
                for r in report.rejected.iter().take(50) {
                    println!("  line {}: {}", r.line, r.reason);
                }
                if report.rejected.len() > 50 {
                    println!("  … and {} more (--json lists all)", report.rejected.len() - 50);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_load_summary(s: &LoadSummary) {
    println!(
        "Bar load (run {}) from {}: {} symbols, {} of {} tasks, {} requests, daily strategy {}",
        s.run_id,
        s.source,
        s.symbols,
        s.tasks_done,
        s.tasks,
        s.requests,
        s.daily_strategy.as_str()
    );
    for (tf, (from, to)) in &s.ranges {
        println!("  {tf}: {from} .. {to}");
    }
    let mut t = TextTable::new(&["table", "bars", "new or changed"], &[false, true, true]);
    for (table, c) in &s.tables {
        t.row(vec![table.to_string(), c.bars.to_string(), c.changed.to_string()]);
    }
    print!("{}", t.render());
    if !s.no_data.is_empty() {
        println!("no data ({}): {}", s.no_data.len(), s.no_data.join(", "));
    }
    if !s.failures.is_empty() {
        println!("failed ({}):", s.failures.len());
        for f in &s.failures {
            println!("  {} {}: {}", f.what, f.timeframe, f.reason);
        }
    }
    if let Some(reason) = &s.stopped {
        println!("stopped early: {reason}");
    }
    if s.cancelled {
        println!("cancelled");
    }
}

#[derive(Subcommand, Debug)]
pub(super) enum SymbolsCommand {
    /// Refresh symbol metadata from Massive's reference tickers: name, type, exchange, active, list date,
    /// delisting, market cap, shares outstanding, SIC code and description, CIK, FIGIs. Values Massive leaves out
    /// never erase stored ones.
    #[command(after_help = "Examples:
  universe symbols refresh                       update every stored symbol from the active-tickers list
  universe symbols refresh --symbols AAPL,MSFT   full overview (SIC, market cap, …), one request each
  universe symbols refresh --all                 also add every active stock and fund Massive lists")]
    Refresh {
        /// Only these symbols, from the ticker overview endpoint (includes SIC code and market cap).
        #[arg(long, value_delimiter = ',', conflicts_with = "all")]
        symbols: Vec<String>,
        /// Insert every active listed stock and fund, not only update the stored ones.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        market: Box<MarketArgs>,
    },
    /// Record the tickers each security has had (Massive's ticker events, keyed by composite FIGI), so a lookup
    /// by an old ticker (FB) finds the security under its current one (META).
    #[command(after_help = "Example:\n  universe symbols events META")]
    Events {
        /// Tickers (any of the security's, or its composite FIGI).
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        market: Box<MarketArgs>,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum EnrichCommand {
    /// Give stocks without a sector (or in `unknown`) a sector from a classification file, or from their SIC
    /// code (from `symbols refresh`). Never moves a stock that already has one; prints coverage before and after,
    /// and for a file how each of its labels maps to a sector.
    #[command(
        after_help = "Examples:\n  universe enrich sectors --from ../shared/data/financedatabase_us_equities_2023-03.csv --dry-run\n  \
                      universe enrich sectors --from-sic --dry-run\n  universe enrich sectors --from-sic\n  \
                      MASSIVE_API_KEY=… universe enrich sectors --from-sic --unknown"
    )]
    Sectors {
        /// Use SIC codes.
        #[arg(long, required_unless_present = "from", conflicts_with = "from")]
        from_sic: bool,
        /// Use a classification file: `symbol` (or `ticker`), `sector`, optionally `industry` columns; Yahoo,
        /// Morningstar or GICS sector names (FinanceDatabase's tables work as they are). Repeat for several
        /// files: in order, the first that knows a stock wins; coverage is reported after each.
        #[arg(long, value_name = "FILE")]
        from: Vec<PathBuf>,
        /// With --from-sic: first fetch SIC codes from Massive (ticker overviews, rate-limited) for the stocks
        /// still unclassified, and only for those. The fetched metadata is stored (a `symbols refresh` run) even
        /// with --dry-run, which holds back only the sector change.
        #[arg(long, requires = "from_sic")]
        unknown: bool,
        /// Where --unknown reaches Massive.
        #[command(flatten)]
        market: Box<MarketArgs>,
        /// Show what would change; write only the run record.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(super) async fn symbols(command: SymbolsCommand, config: &Config) -> Result<ExitCode> {
    let (symbols, all, market) = match command {
        SymbolsCommand::Refresh { symbols, all, market } => (symbols, all, market),
        SymbolsCommand::Events { ids, market } => return symbol_events(&ids, &market, config).await,
    };
    let massive = market.massive().context(
        "symbols refresh needs a Massive API key: set MASSIVE_API_KEY (or POLYGON_API_KEY), or pass --massive-api-key",
    )?;
    let client = MassiveClient::new(massive)?;
    let scope = if all {
        crate::sync::Scope::All
    } else if symbols.is_empty() {
        crate::sync::Scope::Stored
    } else {
        crate::sync::Scope::Symbols(
            symbols
                .iter()
                .map(|s| Ticker::parse(s).with_context(|| format!("--symbols: {s:?}")))
                .collect::<Result<Vec<_>>>()?,
        )
    };
    let store = Store::open(&config.database_url).await?;
    let report = crate::sync::refresh_symbols(&store, &client, &scope).await;
    store.close().await;
    let report = report?;
    if config.json {
        print_json(&report)?;
    } else {
        println!(
            "Refreshed symbols (run {}): {} records from Massive in {} requests, {} rows written ({} new)",
            report.run_id, report.received, report.requests, report.written, report.inserted
        );
        if !report.not_found.is_empty() {
            println!("not found at Massive ({}): {}", report.not_found.len(), report.not_found.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn enrich(command: EnrichCommand, config: &Config) -> Result<ExitCode> {
    let EnrichCommand::Sectors { from_sic: _, from, unknown, market, dry_run } = command;
    let mode = if dry_run { crate::load::Mode::DryRun } else { crate::load::Mode::Full };
    if unknown {
        let massive = market.massive().context(
            "--unknown fetches SIC codes from Massive: set MASSIVE_API_KEY (or POLYGON_API_KEY), or pass --massive-api-key",
        )?;
        let client = MassiveClient::new(massive)?;
        let store = Store::open(&config.database_url).await?;
        let todo: Vec<Ticker> = crate::load::unclassified_stocks(&store, config.environment)
            .await?
            .iter()
            .filter_map(|s| Ticker::parse(s).ok())
            .collect();
        if !todo.is_empty() {
            let refreshed = crate::sync::refresh_symbols(&store, &client, &crate::sync::Scope::Symbols(todo)).await;
            store.close().await;
            let r = refreshed?;
            if !config.json {
                println!(
                    "Fetched the overviews of {} unclassified stocks ({} requests; {} not found at Massive)",
                    r.received,
                    r.requests,
                    r.not_found.len()
                );
            }
        } else {
            store.close().await;
        }
    }
    let files = from
        .iter()
        .map(|p| crate::load::Input::read(p, config.max_input_bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| super::print::problems_error(config, &[e], None))?;
    let store = Store::open(&config.database_url).await?;
    let report = crate::load::enrich_sectors(&store, config.environment, mode, &files).await;
    store.close().await;
    let report = report?;
    if config.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let cov = |c: &crate::load::Coverage| format!("{} of {} stocks ({:.2} %)", c.classified, c.stocks, c.percent);
    println!("Sector coverage before: {}", cov(&report.before));
    for s in report.sources.iter().filter(|_| report.sources.len() > 1) {
        println!("  after {}: +{} → {}", s.source, s.assigned, cov(&s.after));
    }
    println!(
        "Sector coverage after:  {}{}",
        cov(&report.after),
        if dry_run { " (dry run: nothing written)" } else { "" }
    );
    let mut by_sector: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for a in &report.assigned {
        *by_sector.entry(a.sector).or_default() += 1;
    }
    for (sector, n) in by_sector {
        println!("  {sector}: +{n}");
    }
    if !report.mapping.is_empty() {
        println!(
            "Labels of {} and the sectors they map to:",
            from.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
        for (label, sector, n) in &report.mapping {
            println!("  {label:?} → {sector}: {n} stocks");
        }
    }
    if let Some(load) = &report.load {
        println!("run {} ({})", load.run_id, load.status);
    }
    if !report.unmapped.is_empty() {
        println!("no sector for ({}): {}", report.unmapped.len(), report.unmapped.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `universe symbols events ID...`: each security's tickers from Massive's ticker events, into `symbol_aliases`.
async fn symbol_events(ids: &[String], market: &MarketArgs, config: &Config) -> Result<ExitCode> {
    let massive = market.massive().context(
        "symbols events needs a Massive API key: set MASSIVE_API_KEY (or POLYGON_API_KEY), or pass --massive-api-key",
    )?;
    let client = MassiveClient::new(massive)?;
    let mut found = Vec::new();
    for id in ids {
        match client.ticker_events(id).await? {
            Some(e) => found.push((id.clone(), e)),
            None => eprintln!("{id}: Massive has no ticker events for it"),
        }
    }
    let store = Store::open(&config.database_url).await?;
    let mut written = Vec::new();
    let mut tx = store.begin_write().await?;
    for (id, e) in &found {
        let Some(figi) = e.composite_figi.clone() else {
            eprintln!("{id}: no composite FIGI, so no security to key its tickers by; skipped");
            continue;
        };
        let mut changes: Vec<(chrono::NaiveDate, String)> = e
            .events
            .iter()
            .filter(|ev| ev.kind == "ticker_change")
            .filter_map(|ev| ev.ticker_change.as_ref().map(|c| (ev.date, c.ticker.clone())))
            .collect();
        changes.sort();
        let rows: Vec<crate::store::Alias> = changes
            .iter()
            .enumerate()
            .map(|(i, (from, symbol))| crate::store::Alias {
                security_id: figi.clone(),
                symbol: symbol.clone(),
                valid_from: Some(*from),
                valid_to: changes.get(i + 1).map(|(d, _)| *d),
                name: e.name.clone(),
                source: "massive ticker events".into(),
            })
            .collect();
        tx.replace_aliases(&figi, &rows).await?;
        written.push(rows);
    }
    tx.commit().await?;
    store.close().await;
    if config.json {
        print_json(&written)?;
        return Ok(ExitCode::SUCCESS);
    }
    for rows in &written {
        let names: Vec<String> = rows
            .iter()
            .map(|a| format!("{} from {}", a.symbol, a.valid_from.map(|d| d.to_string()).unwrap_or_default()))
            .collect();
        println!(
            "{} ({}): {}",
            rows.first().map_or("", |a| a.security_id.as_str()),
            rows.first().and_then(|a| a.name.as_deref()).unwrap_or(""),
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
