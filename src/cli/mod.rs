//! The command line: clap definitions, dispatch, and human/JSON output. The only place `anyhow` is used.

mod bars;
mod demo;
mod jobs;
mod loads;
mod maintenance;
mod print;
mod serve;
mod sync;
mod table;
mod transfer;
mod universes;

use demo::demo;
use print::*;
use serve::{serve_api, shutdown_signal};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::config::{Config, GlobalArgs, ServeArgs};
use crate::store::Store;

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
    Load(loads::LoadArgs),
    /// Build TickStock's cache_entries universe rows (stock_universe, etf_universe, stock_stats) from the groups
    /// and symbol metadata. Replace mode (default) makes those rows exactly what the definitions describe, in one
    /// transaction; other row types are never touched.
    #[command(after_help = "Examples:
  universe organize --dry-run                      show what would change
  universe organize --yes                          replace the universe rows (no prompt)
  universe organize --preserve --definitions my.toml")]
    Organize(maintenance::OrganizeArgs),
    /// The relationship breakdown: counts, sector distribution, data quality, load activity; with --detail also
    /// per-ETF top holdings, universes and sector coverage over time.
    #[command(after_help = "Examples:
  universe report
  universe report --detail --format html --output report.html
  universe report --format json")]
    Report(maintenance::ReportArgs),
    /// The daily sync from a ticker list: new and changed symbols, delistings (leaving their groups, history
    /// closed), all in one transaction with a change log; `sync log` reads the log.
    #[command(after_help = "Examples:
  universe sync --source next-day/ --dry-run
  universe sync --source next-day/
  universe sync log --symbol XYZ")]
    Sync(sync::SyncArgs),
    /// Write everything this tool owns (symbols, groups, memberships with weights, history, the managed
    /// cache_entries rows) as one versioned JSON document.
    #[command(
        after_help = "Examples:\n  universe export --output universe.json\n  universe --environment TEST export > test.json"
    )]
    Export(transfer::ExportArgs),
    /// Read a document written by `export` (a JSON file or a CSV folder): validate all of it, then apply it in one
    /// transaction.
    #[command(
        after_help = "Examples:\n  universe import universe.json --yes\n  universe import extra.json --mode merge"
    )]
    Import(transfer::ImportArgs),
    /// Check the data's integrity: each check PASS, WARN or FAIL with the offending items.
    /// Exit code 0 when nothing fails, 1 when something does, 2 when validation could not run.
    #[command(after_help = "Examples:\n  universe validate\n  universe validate --strict --stale-days 7 --json")]
    Validate(maintenance::ValidateArgs),
    /// List load runs, newest first, or show one.
    #[command(after_help = "Examples:\n  universe runs --limit 5\n  universe runs 12")]
    Runs(loads::RunsArgs),
    /// Undo an applied run: restore the memberships it replaced (itself a recorded run).
    #[command(after_help = "Example:\n  universe rollback 12")]
    Rollback {
        /// The run to undo.
        run_id: i64,
    },
    /// List, show and resolve universes and other groups.
    Universes {
        #[command(subcommand)]
        command: universes::UniversesCommand,
    },
    /// Write the deterministic peer-scale benchmark data set (24 ETFs, 11,778 holdings; 4 universes).
    #[command(hide = true)]
    BenchData {
        /// Output folder.
        dir: PathBuf,
        /// Non-zero: change a few weights (an incremental-change data set; at market scale, in one file only).
        #[arg(long, default_value_t = 0)]
        variant: u32,
        /// peer: TickStock's size (24 ETFs, 11,778 holdings); market: every US ETF (3,000 funds, ~1,000,000
        /// holdings over 12,000 stocks); sync: 10,000 stocks with a next day of 20 IPOs, 15 delistings and caps
        /// moved ±5 %.
        #[arg(long, value_enum, default_value_t = Scale::Peer)]
        scale: Scale,
    },
}

/// Size of the benchmark data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scale {
    /// TickStock's production size.
    Peer,
    /// The whole US ETF market.
    Market,
    /// The daily sync's benchmark: 10,000 stocks and the next day's list and closes.
    Sync,
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Create or upgrade the schema (safe on an existing TickStock PostgreSQL database).
    Migrate,
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

/// Runs one command: each command (or group of commands) has its function, in the file of its group.
async fn run(command: Command, config: &Config) -> Result<ExitCode> {
    let done = |r: Result<()>| r.map(|()| ExitCode::SUCCESS);
    match command {
        Command::Demo { db, no_serve, serve } => done(demo(&db, config, (!no_serve).then_some(serve)).await),
        Command::Serve { serve } => done(serve_api(open(config).await?, config, &serve, None).await),
        Command::Bars { command } => bars::run(command, config).await,
        Command::Symbols { command } => bars::symbols(command, config).await,
        Command::Enrich { command } => bars::enrich(command, config).await,
        Command::Jobs { command } => jobs::run(command, config).await,
        Command::Worker { args } => jobs::worker(args, config).await,
        Command::Db { command: DbCommand::Migrate } => done(migrate(config).await),
        Command::Load(args) => done(loads::load(args, config).await),
        Command::Runs(args) => done(loads::runs(args, config).await),
        Command::Rollback { run_id } => done(loads::rollback(run_id, config).await),
        Command::Universes { command } => done(universes::run(command, config).await),
        Command::Organize(args) => done(maintenance::organize(args, config).await),
        Command::Validate(args) => maintenance::validate(args, config).await,
        Command::Report(args) => done(maintenance::report(args, config).await),
        Command::Sync(args) => done(sync::sync(args, config).await),
        Command::Export(args) => done(transfer::export(args, config).await),
        Command::Import(args) => done(transfer::import(args, config).await),
        Command::BenchData { dir, variant, scale } => {
            let (write, name): (fn(&std::path::Path, u32) -> std::io::Result<()>, _) = match scale {
                Scale::Peer => (crate::sample::write_peer_dataset, "peer"),
                Scale::Market => (crate::sample::write_market_dataset, "market"),
                Scale::Sync => (crate::sample::write_sync_dataset, "daily-sync"),
            };
            write(&dir, variant).with_context(|| format!("writing {}", dir.display()))?;
            println!("wrote the {name}-scale data set to {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `universe db migrate`: creates or upgrades the schema, always running the full migration check.
async fn migrate(config: &Config) -> Result<()> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    if !config.json {
        println!("schema is up to date ({})", crate::store::redact_url(&config.database_url));
    }
    Ok(())
}
