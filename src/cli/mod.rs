//! The command line: clap definitions, dispatch, and human/JSON output. The only place `anyhow` is used.

mod bars;
mod demo;
mod jobs;
mod print;
mod serve;
mod table;

use demo::demo;
use print::*;
use serve::{serve_api, shutdown_signal};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::config::{Config, GlobalArgs, ServeArgs};
use crate::domain::{GroupKind, Sector};
use crate::load::{self, Input, LoadError, LoadKind, LoadRequest, Mode};
use crate::organize;
use crate::quality::{self, Level};
use crate::store::Store;
use crate::transfer;
use table::TextTable;

/// TickStock Universe: reference data (symbols, index universes, ETF holdings with weights, sectors, themes) on
/// an embedded SQLite file or PostgreSQL, compatible with TickStock's tables.
#[derive(Parser, Debug)]
#[command(name = "universe", version, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  universe demo                                   load the bundled sample data into universe-demo.db
  universe load holdings spy_holdings.csv --mode dry-run
  universe load universes sp500.csv nasdaq100.csv
  universe universes resolve nasdaq100:dow30
  universe runs && universe rollback 7
  DATABASE_URL=postgres://user@host/tickstock universe db migrate";

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a fresh embedded database and load the bundled sample data into it.
    #[command(after_help = "Example:\n  universe demo --db /tmp/demo.db")]
    Demo {
        /// The SQLite file to (re)create.
        #[arg(long, default_value = "universe-demo.db")]
        db: PathBuf,
        /// Stop after loading (for scripts); by default the demo then serves the HTTP API on the sample data.
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Serve the HTTP API (relationships, universes, TickStock's routes, admin, OpenAPI docs, metrics) from the
    /// relationship cache, kept fresh as loads commit. Stops gracefully on SIGINT or SIGTERM.
    #[command(after_help = "Examples:
  universe serve                                            http://127.0.0.1:8080/api/docs/
  UNIVERSE_API_KEY=secret universe serve --bind 0.0.0.0:8080
  DATABASE_URL=postgres://app@db/tickstock universe serve --cache-max-age 600")]
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// OHLCV bars: load from Massive (or CSV folders) and import CSV files.
    Bars {
        #[command(subcommand)]
        command: bars::BarsCommand,
    },
    /// Symbol metadata from the market API.
    Symbols {
        #[command(subcommand)]
        command: bars::SymbolsCommand,
    },
    /// Sector classification from other sources (SIC codes).
    Enrich {
        #[command(subcommand)]
        command: bars::EnrichCommand,
    },
    /// Data-load jobs: submit, watch, list, cancel.
    Jobs {
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
    /// Run data-load jobs from the queue (embedded mode: the database's jobs table).
    #[command(after_help = "Examples:
  universe worker --source sample            offline, from the bundled sample bars
  MASSIVE_API_KEY=… universe worker --rate 100/s
  universe worker --once                     run what is queued, then exit")]
    Worker {
        #[command(flatten)]
        args: jobs::WorkerArgs,
    },
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Load files of one kind: holdings, universes, sectors, themes or symbols.
    #[command(after_help = "Examples:
  universe load holdings data/spy_holdings.csv data/QQQ.csv
  universe load holdings export.csv --etf IWM --mode dry-run
  universe load universes sp500_constituents.csv --name sp500
  universe load sectors classification.csv --mode incremental
  universe load themes data/themes.toml --prune
  universe load symbols symbols.csv")]
    Load {
        /// What the files are.
        #[arg(value_enum)]
        kind: LoadKind,
        /// The files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// full: reload every group in the input; incremental: skip files whose checksum is unchanged;
        /// dry-run: print the diff and write nothing but the run record.
        #[arg(long, value_enum, default_value_t = Mode::Full)]
        mode: Mode,
        /// Also delete groups of this kind that are absent from the input.
        #[arg(long)]
        prune: bool,
        /// The ETF a single holdings file holds (default: from the file, e.g. spy_holdings.csv → SPY).
        #[arg(long)]
        etf: Option<String>,
        /// The universe a single universe file defines (default: from the file name, e.g. sp500.csv → sp500).
        #[arg(long)]
        name: Option<String>,
        /// Skip the structural checks run inside the load's transaction (recorded in the run).
        #[arg(long)]
        no_validate: bool,
    },
    /// Build TickStock's cache_entries universe rows (stock_universe, etf_universe, stock_stats) from the groups
    /// and symbol metadata. Replace mode (default) makes those rows exactly what the definitions describe, in one
    /// transaction; other row types are never touched.
    #[command(after_help = "Examples:
  universe organize --dry-run                      show what would change
  universe organize --yes                          replace the universe rows (no prompt)
  universe organize --preserve --definitions my.toml")]
    Organize {
        /// Definitions file (default: the shipped data/organize.toml).
        #[arg(long)]
        definitions: Option<PathBuf>,
        /// Only insert and update rows; remove nothing.
        #[arg(long)]
        preserve: bool,
        /// Print the diff; write only the run record.
        #[arg(long)]
        dry_run: bool,
        /// Replace without asking (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Build and compare every row even when nothing organize reads has changed since its last run (which
        /// otherwise reports that run's result at once).
        #[arg(long)]
        force: bool,
    },
    /// The relationship breakdown: counts, sector distribution, data quality, load activity; with --detail also
    /// per-ETF top holdings, universes and sector coverage over time.
    #[command(after_help = "Examples:
  universe report
  universe report --detail --format html --output report.html
  universe report --format json")]
    Report {
        /// Summary only (the default).
        #[arg(long, conflicts_with = "detail")]
        summary: bool,
        /// Add per-ETF and per-universe detail and coverage over time.
        #[arg(long)]
        detail: bool,
        /// Output format (`--json` also selects JSON).
        #[arg(long, value_enum, default_value_t = crate::report::Format::Console)]
        format: crate::report::Format,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write everything this tool owns (symbols, groups, memberships with weights, history, the managed
    /// cache_entries rows) as one versioned JSON document.
    #[command(
        after_help = "Examples:\n  universe export --output universe.json\n  universe --environment TEST export > test.json"
    )]
    Export {
        /// Output file, or folder with `--format csv` (default: standard output for JSON).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// json: one document; csv: a folder of CSV files (manifest.json, symbols.csv, groups.csv, …).
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
    },
    /// Read a document written by `export` (a JSON file or a CSV folder): validate all of it, then apply it in one
    /// transaction.
    #[command(
        after_help = "Examples:\n  universe import universe.json --yes\n  universe import extra.json --mode merge"
    )]
    Import {
        /// The document: a JSON file or a folder written by `export --format csv`.
        path: PathBuf,
        /// replace: the environment's data becomes the document's; merge: insert and update only.
        #[arg(long, value_enum, default_value_t = transfer::ImportMode::Replace)]
        mode: transfer::ImportMode,
        /// Replace without asking (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Check the data's integrity: each check PASS, WARN or FAIL with the offending items.
    /// Exit code 0 when nothing fails, 1 when something does, 2 when validation could not run.
    #[command(after_help = "Examples:\n  universe validate\n  universe validate --strict --stale-days 7 --json")]
    Validate {
        /// Count WARN as FAIL.
        #[arg(long)]
        strict: bool,
        /// Largest acceptable share of classified stocks in `unknown`, in percent.
        #[arg(long, default_value_t = 13.5)]
        unknown_max: f64,
        /// Rows not updated for more days than this are stale.
        #[arg(long, default_value_t = 30)]
        stale_days: i64,
    },
    /// List load runs, newest first, or show one.
    #[command(after_help = "Examples:\n  universe runs --limit 5\n  universe runs 12")]
    Runs {
        /// Show this run in full.
        id: Option<i64>,
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Undo an applied run: restore the memberships it replaced (itself a recorded run).
    #[command(after_help = "Example:\n  universe rollback 12")]
    Rollback {
        /// The run to undo.
        run_id: i64,
    },
    /// List, show and resolve universes and other groups.
    Universes {
        #[command(subcommand)]
        command: UniversesCommand,
    },
    /// Write the deterministic peer-scale benchmark data set (24 ETFs, 11,778 holdings; 4 universes).
    #[command(hide = true)]
    BenchData {
        /// Output folder.
        dir: PathBuf,
        /// Non-zero: change a few weights (an incremental-change data set).
        #[arg(long, default_value_t = 0)]
        variant: u32,
    },
}

/// Export layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    /// One JSON document.
    Json,
    /// A folder of CSV files.
    Csv,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Create or upgrade the schema (safe on an existing TickStock PostgreSQL database).
    Migrate,
}

#[derive(Subcommand, Debug)]
enum UniversesCommand {
    /// Groups with their type and member count.
    #[command(after_help = "Example:\n  universe universes list --type UNIVERSE --type ETF")]
    List {
        /// Only these types.
        #[arg(long = "type", value_enum, ignore_case = true)]
        kinds: Vec<GroupKind>,
    },
    /// Members of one group with weight and sector.
    #[command(
        after_help = "Examples:\n  universe universes show SPY\n  universe universes show nasdaq100 --as-of 2026-01-31"
    )]
    Show {
        /// Group name (case-insensitive where unambiguous).
        name: String,
        /// The group's type, when the name is used by several.
        #[arg(long = "type", value_enum, ignore_case = true)]
        kind: Option<GroupKind>,
        /// Members as of this date (UTC end of day), from membership history.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Resolve a universe key (`nasdaq100:dow30:SPY`) to its sorted, de-duplicated symbols.
    #[command(
        after_help = "Examples:\n  universe universes resolve nasdaq100\n  universe universes resolve SPY:QQQ:dow30 --json"
    )]
    Resolve {
        /// The key.
        key: String,
    },
}

/// Entry point for `main.rs`: parse, run, map the outcome to an exit code (0 only on success).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let config = Config::load(&cli.global);
    // The server uses every core; one-shot commands are sequential and start faster on one thread.
    let runtime = match &cli.command {
        Command::Serve { .. } | Command::Demo { no_serve: false, .. } | Command::Worker { .. } => {
            tokio::runtime::Builder::new_multi_thread()
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, &config)) {
        Ok(code) => code,
        Err(e) => {
            // Problems were already printed as JSON data; everything else becomes {"error": …}.
            if config.json && e.downcast_ref::<ProblemsReported>().is_none() {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

async fn open(config: &Config) -> Result<Store> {
    Ok(Store::open(&config.database_url).await?)
}

async fn run(command: Command, config: &Config) -> Result<ExitCode> {
    match command {
        Command::Validate { strict, unknown_max, stale_days } => {
            let opts = quality::Options { unknown_max: unknown_max / 100.0, stale_days, strict };
            validate_command(config, opts).await
        }
        Command::Bars { command } => bars::run(command, config).await,
        Command::Symbols { command } => bars::symbols(command, config).await,
        Command::Enrich { command } => bars::enrich(command, config).await,
        Command::Jobs { command } => jobs::run(command, config).await,
        Command::Worker { args } => jobs::worker(args, config).await,
        other => run_command(other, config).await.map(|()| ExitCode::SUCCESS),
    }
}

/// `universe validate`: exit 0 when nothing fails, 1 when something does, 2 when validation could not run.
async fn validate_command(config: &Config, opts: quality::Options) -> Result<ExitCode> {
    let validation = match Store::open(&config.database_url).await {
        Ok(store) => {
            let v = quality::validate(&store, config.environment, opts).await;
            store.close().await;
            v.map_err(anyhow::Error::from)
        }
        Err(e) => Err(e.into()),
    };
    match validation {
        Ok(v) => {
            print_validation(config, &v)?;
            Ok(if v.worst() == Level::Fail { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Err(e) => {
            if config.json {
                println!("{}", serde_json::json!({ "error": format!("validation could not run: {e:#}") }));
            }
            eprintln!("error: validation could not run: {e:#}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn run_command(command: Command, config: &Config) -> Result<()> {
    match command {
        Command::Demo { db, no_serve, serve } => demo(&db, config, (!no_serve).then_some(serve)).await,
        Command::Serve { serve } => {
            let store = open(config).await?;
            serve_api(store, config, &serve, None).await
        }
        Command::Db { command: DbCommand::Migrate } => {
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            if !config.json {
                println!("schema is up to date ({})", crate::store::redact_url(&config.database_url));
            }
            Ok(())
        }
        Command::Load { kind, paths, mode, prune, etf, name, no_validate } => {
            let mut inputs = Vec::new();
            let mut unreadable = Vec::new();
            for p in &paths {
                match Input::read(p, config.max_input_bytes) {
                    Ok(i) => inputs.push(i),
                    Err(e) => unreadable.push(e),
                }
            }
            let store = open(config).await?;
            let req = LoadRequest {
                kind,
                inputs,
                unreadable,
                mode,
                prune,
                etf,
                name,
                environment: config.environment,
                progress: !config.json,
                validate: !no_validate,
            };
            let result = load::run(&store, &req).await;
            // Coverage, orphans and staleness after a load: information, never a reason to fail it.
            let quality = match &result {
                Ok(r) if r.status.applied() => {
                    quality::after_load(&store, config.environment, quality::Options::default()).await.ok()
                }
                _ => None,
            };
            store.close().await;
            match result {
                Ok(mut report) => {
                    report.quality =
                        quality.map(|q| q.into_iter().filter(|c| c.level != Level::Pass).collect()).unwrap_or_default();
                    print_report(config, &report)
                }
                Err(LoadError::Invalid { problems, run_id }) => Err(problems_error(config, &problems, run_id)),
                Err(e) => Err(e.into()),
            }
        }
        Command::Runs { id: Some(id), .. } => {
            let store = open(config).await?;
            let run = store.run(id).await?.with_context(|| format!("there is no run {id}"))?;
            if config.json {
                let mut v = serde_json::to_value(&run)?;
                v["details"] = run.details.as_ref().map(|d| d.0.clone()).unwrap_or_default();
                return print_json(&v);
            }
            print_runs(std::slice::from_ref(&run));
            if let Some(e) = &run.error {
                println!("\nerror:\n{e}");
            }
            if let Some(groups) = run.details.as_ref().and_then(|d| d.0.get("groups")).and_then(|g| g.as_array()) {
                let mut t = TextTable::new(
                    &["type", "group", "action", "added", "removed", "changed", "unchanged"],
                    &[false, false, false, true, true, true, true],
                );
                for g in groups {
                    let s = |k: &str| {
                        g.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default()
                    };
                    let c = |k: &str| g["counts"].get(k).map(ToString::to_string).unwrap_or_default();
                    t.row(vec![
                        s("type"),
                        s("name"),
                        s("action"),
                        c("added"),
                        c("removed"),
                        c("changed"),
                        c("unchanged"),
                    ]);
                }
                println!("\n{}", t.render());
            }
            Ok(())
        }
        Command::Runs { id: None, limit } => {
            let store = open(config).await?;
            let runs = store.runs(limit).await?;
            if config.json {
                return print_json(&runs);
            }
            if runs.is_empty() {
                println!("no runs yet");
            } else {
                print_runs(&runs);
            }
            Ok(())
        }
        Command::Rollback { run_id } => {
            let store = open(config).await?;
            let report = load::rollback(&store, run_id).await?;
            print_report(config, &report)
        }
        Command::Universes { command } => universes(command, config).await,
        Command::Validate { .. }
        | Command::Bars { .. }
        | Command::Symbols { .. }
        | Command::Enrich { .. }
        | Command::Jobs { .. }
        | Command::Worker { .. } => {
            unreachable!("dispatched by run")
        }
        Command::Report { summary: _, detail, format, output } => {
            let format = if config.json { crate::report::Format::Json } else { format };
            let store = open(config).await?;
            let report = crate::report::gather(&store, config.environment, detail).await;
            store.close().await;
            let text = crate::report::render(&report?, format);
            match output {
                Some(p) => {
                    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
                    eprintln!("wrote {}", p.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::Export { output, format } => {
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
        Command::Import { path, mode, yes } => {
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
        Command::Organize { definitions, preserve, dry_run, yes, force } => {
            let input = match &definitions {
                Some(p) => Input::read(p, config.max_input_bytes).map_err(|p| problems_error(config, &[p], None))?,
                None => Input::from_bytes(organize::DEFAULT_DEFINITIONS.0, organize::DEFAULT_DEFINITIONS.1),
            };
            let defs = organize::definitions::parse(&input).map_err(|p| problems_error(config, &p, None))?;
            if !preserve && !dry_run && !yes {
                confirm(&format!(
                    "Replace the stock_universe / etf_universe / stock_stats rows of environment {} (and remove stock_etf_combo)?",
                    config.environment
                ))?;
            }
            let store = open(config).await?;
            let req = organize::OrganizeRequest {
                definitions: defs,
                preserve,
                dry_run,
                environment: config.environment,
                force,
            };
            let report = organize::run(&store, &req).await;
            store.close().await;
            print_organize(config, &report?)
        }
        Command::BenchData { dir, variant } => {
            crate::sample::write_peer_dataset(&dir, variant).with_context(|| format!("writing {}", dir.display()))?;
            println!("wrote the peer-scale data set to {}", dir.display());
            Ok(())
        }
    }
}

async fn universes(command: UniversesCommand, config: &Config) -> Result<()> {
    let store = open(config).await?;
    let env = config.environment;
    match command {
        UniversesCommand::List { kinds } => {
            let groups = store.group_summaries(env, &kinds).await?;
            if config.json {
                return print_json(&groups);
            }
            let mut t = TextTable::new(&["type", "name", "members", "description"], &[false, false, true, false]);
            for g in &groups {
                t.row(vec![
                    g.kind.clone(),
                    g.name.clone(),
                    g.member_count.to_string(),
                    g.description.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
            println!("{} groups", groups.len());
        }
        UniversesCommand::Show { name, kind, as_of } => {
            let found = store.find_groups_named(env, &name).await?;
            let exact: Vec<_> = found.iter().filter(|(k, n)| *n == name && kind.is_none_or(|kk| kk == *k)).collect();
            let any: Vec<_> = found.iter().filter(|(k, _)| kind.is_none_or(|kk| kk == *k)).collect();
            let pick = if exact.is_empty() { any } else { exact };
            let (kind, name) = match pick.as_slice() {
                [] => anyhow::bail!("no group named {name:?} in environment {env}"),
                [one] => (*one).clone(),
                many => anyhow::bail!(
                    "{name:?} names several groups ({}); add --type",
                    many.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
                ),
            };
            if let Some(date) = as_of {
                let at = date.and_hms_opt(23, 59, 59).expect("valid time").and_utc();
                let syms = store.group_symbols_as_of(env, kind, &name, at).await?;
                if config.json {
                    return print_json(
                        &serde_json::json!({ "type": kind, "name": name, "as_of": date, "symbols": syms }),
                    );
                }
                println!("{kind} {name} as of {date}: {} members", syms.len());
                println!("{}", syms.join(" "));
                return Ok(());
            }
            let members = store.group_member_details(env, kind, &name).await?;
            if config.json {
                return print_json(&serde_json::json!({ "type": kind, "name": name, "members": members }));
            }
            println!("{kind} {name}: {} members", members.len());
            let mut t = TextTable::new(
                &["symbol", "weight", "sector", "industry", "name"],
                &[false, true, false, false, false],
            );
            for m in &members {
                let sector = m.sector.as_deref().map_or_else(String::new, |k| {
                    Sector::from_key(k).map_or_else(|| k.to_string(), |s| s.display_name().to_string())
                });
                t.row(vec![
                    m.symbol.clone(),
                    m.weight.map(|w| format!("{:.2}%", w * 100.0)).unwrap_or_default(),
                    sector,
                    m.industry.clone().unwrap_or_default(),
                    m.name.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
        }
        UniversesCommand::Resolve { key } => {
            let symbols = crate::universes::resolve(&store, env, &key).await?;
            if config.json {
                return print_json(&serde_json::json!({ "key": key, "count": symbols.len(), "symbols": symbols }));
            }
            println!("{key}: {} symbols", symbols.len());
            println!("{}", symbols.join(" "));
        }
    }
    Ok(())
}
