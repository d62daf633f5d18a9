//! `universe sync`: the daily sync from a ticker list, and `universe sync log`, its change log.

use std::path::PathBuf;

use anyhow::{Result, bail};
use chrono::NaiveDate;

use super::table::TextTable;
use super::{open, print_json, problems_error};
use crate::config::{Config, MarketArgs, RedisArgs};
use crate::jobs::redis::RedisBus;
use crate::market::MassiveClient;
use crate::sync::daily::{self, ListSource, SyncError, SyncMode, SyncRequest};

/// What `universe sync` runs.
#[derive(clap::Args, Debug)]
pub(super) struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    /// Which steps.
    #[arg(long, value_enum, default_value = "full")]
    mode: SyncMode,
    /// Deactivate even when the list would delist more than 5 % of the active symbols.
    #[arg(long)]
    force: bool,
    /// Print every change; write only the run record.
    #[arg(long)]
    dry_run: bool,
    /// The organize definitions the cache rebuild builds (default: the shipped ones); their thresholds are the
    /// market-cap bands.
    #[arg(long)]
    definitions: Option<PathBuf>,
    /// Where recent IPOs go (default: the shipped data/sync.toml, TickStock's rules).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Where to publish the sync's events (TickStock's channels), if anywhere.
    #[command(flatten)]
    redis: RedisArgs,
    /// The day's list: `--source DIR` (a folder with tickers.csv: symbol, and any of name, type, exchange,
    /// active, list_date, market_cap, shares_outstanding), `--source sample` (the bundled sample's next day) or
    /// Massive's reference tickers (`--source massive`,
    /// the default when an API key is set).
    #[command(flatten)]
    market: Box<MarketArgs>,
}

#[derive(clap::Subcommand, Debug)]
enum SyncCommand {
    /// The change log, newest first.
    Log {
        /// Changes on or after this day (YYYY-MM-DD).
        #[arg(long)]
        since: Option<NaiveDate>,
        /// Changes of this symbol.
        #[arg(long)]
        symbol: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

/// Runs `universe sync` or `universe sync log`.
pub(super) async fn sync(args: SyncArgs, config: &Config) -> Result<()> {
    if let Some(SyncCommand::Log { since, symbol, limit }) = args.command {
        let store = open(config).await?;
        let symbol = symbol.map(|s| s.to_ascii_uppercase());
        let rows = store.sync_changes(since, symbol.as_deref(), limit).await?;
        store.close().await;
        if config.json {
            return print_json(&rows);
        }
        let mut t = TextTable::new(&["when", "run", "change", "universe", "symbol", "action", "reason"], &[]);
        for r in &rows {
            t.row(vec![
                r.created_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default(),
                r.run_id.map(|i| i.to_string()).unwrap_or_default(),
                r.change_type.clone(),
                r.universe.clone().unwrap_or_default(),
                r.symbol.clone().unwrap_or_default(),
                r.action.clone(),
                r.reason.clone().unwrap_or_default(),
            ]);
        }
        print!("{}", t.render());
        return Ok(());
    }
    let source = match args.market.source.as_deref() {
        Some("sample") => ListSource::Input(crate::sample::next_day_list()),
        Some("massive") | None => match args.market.massive() {
            Some(c) => ListSource::Massive(Box::new(MassiveClient::new(c)?)),
            None => bail!(
                "no list to sync from: pass --source DIR (a folder with tickers.csv), or set MASSIVE_API_KEY to read \
                 Massive's reference tickers"
            ),
        },
        Some(dir) => ListSource::Dir(PathBuf::from(dir)),
    };
    let definitions = crate::organize::definitions_from(args.definitions.as_deref(), config.max_input_bytes)
        .map_err(|p| problems_error(config, &p, None))?;
    let rules = crate::sync::rules::from(args.rules.as_deref(), config.max_input_bytes)
        .map_err(|p| problems_error(config, &p, None))?;
    let store = open(config).await?;
    let req = SyncRequest {
        definitions,
        rules,
        force: args.force,
        dry_run: args.dry_run,
        ..SyncRequest::new(config.environment, source, args.mode)
    };
    // With Redis configured, TickStock hears of the sync on its channels; Redis down never fails a sync.
    let job_id = format!("cache_sync_{}", req.at.format("%Y%m%d_%H%M%S"));
    let bus = match args.redis.url() {
        Some(url) => match RedisBus::connect(&url, store.database_id().await?).await {
            Ok(bus) => Some(bus),
            Err(e) => {
                tracing::warn!(error = %e, "Redis unreachable: the sync's events are not published");
                None
            }
        },
        None => None,
    };
    if let Some(bus) = &bus
        && let Err(e) = crate::sync::events::publish_triggered(bus, &job_id, &req, "cli").await
    {
        tracing::warn!(error = %e, "could not publish cache_sync_triggered");
    }
    let started = std::time::Instant::now();
    let result = daily::run(&store, &req).await;
    if let Some(bus) = &bus
        && let Err(e) = crate::sync::events::publish_completed(bus, &job_id, &req, &result, started.elapsed()).await
    {
        tracing::warn!(error = %e, "could not publish the sync's events");
    }
    store.close().await;
    let report = match result {
        Ok(r) => r,
        Err(SyncError::Invalid(problems)) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            bail!("{}\n{} problem(s) in the ticker list; nothing was changed", lines.join("\n"), problems.len())
        }
        Err(e) => return Err(e.into()),
    };
    if config.json {
        return print_json(&report);
    }
    print_changes(&report);
    println!("{}", summary(&report));
    Ok(())
}

/// The run's one-line summary.
pub(super) fn summary(report: &daily::SyncReport) -> String {
    let cache: Vec<String> = report.cache.iter().filter(|(_, n)| **n > 0).map(|(a, n)| format!("{n} {a}")).collect();
    format!(
        "sync run {} ({}; steps: {}): {} listed, {} added, {} updated, {} listed again, {} delisted, {} memberships \
         closed, {} market caps, {} IPOs assigned, {} theme changes; cache rows: {}{}",
        report.run_id,
        report.status.as_str(),
        report.steps.join(", "),
        report.listed,
        report.added,
        report.updated,
        report.relisted,
        report.delisted,
        report.memberships_closed,
        report.market_caps,
        report.ipos,
        report.theme_changes,
        if cache.is_empty() { "none".to_string() } else { cache.join(", ") },
        if report.status == crate::domain::RunStatus::Skipped { " — nothing changed" } else { "" }
    )
}

/// The run's changes as a table (nothing when there are none).
pub(super) fn print_changes(report: &daily::SyncReport) {
    let mut t = TextTable::new(&["change", "universe", "symbol", "action", "reason"], &[]);
    for c in &report.changes {
        t.row(vec![
            c.change_type.clone(),
            c.universe.clone().unwrap_or_default(),
            c.symbol.clone().unwrap_or_default(),
            c.action.clone(),
            c.reason.clone(),
        ]);
    }
    if !report.changes.is_empty() {
        print!("{}", t.render());
    }
}
