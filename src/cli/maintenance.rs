//! `universe organize`, `validate` and `report`: building TickStock's cache rows, checking the data, and the
//! relationship breakdown.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::open;
use super::print::{confirm, print_organize, print_validation, problems_error};
use crate::config::Config;
use crate::organize;
use crate::quality::{self, Level};
use crate::store::Store;

/// What `universe organize` builds and how.
#[derive(clap::Args, Debug)]
pub(super) struct OrganizeArgs {
    /// Definitions file (default: the shipped data/organize.toml).
    #[arg(long)]
    pub(super) definitions: Option<std::path::PathBuf>,
    /// Only insert and update rows; remove nothing.
    #[arg(long)]
    pub(super) preserve: bool,
    /// Print the diff; write only the run record.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Replace without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub(super) yes: bool,
    /// Build and compare every row even when nothing organize reads has changed since its last run (which
    /// otherwise reports that run's result at once).
    #[arg(long)]
    pub(super) force: bool,
}

/// Thresholds of `universe validate`.
#[derive(clap::Args, Debug)]
pub(super) struct ValidateArgs {
    /// Count WARN as FAIL.
    #[arg(long)]
    pub(super) strict: bool,
    /// Largest acceptable share of classified stocks in `unknown`, in percent.
    #[arg(long, default_value_t = 13.5)]
    pub(super) unknown_max: f64,
    /// Rows not updated for more days than this are stale.
    #[arg(long, default_value_t = 30)]
    pub(super) stale_days: i64,
    /// Post what changed since the previous validation (the unknown-sector share rose, integrity dropped, a check
    /// newly fails) to this URL as Slack-compatible JSON. Exit 3 when the alerts could not be delivered (the next
    /// validation repeats them).
    #[arg(long, env = "UNIVERSE_ALERT_WEBHOOK", hide_env_values = true, value_name = "URL")]
    pub(super) alert_webhook: Option<String>,
}

/// What `universe report` shows and where.
#[derive(clap::Args, Debug)]
pub(super) struct ReportArgs {
    /// Summary only (the default).
    #[arg(long, conflicts_with = "detail")]
    pub(super) summary: bool,
    /// Add per-ETF and per-universe detail and coverage over time.
    #[arg(long)]
    pub(super) detail: bool,
    /// Output format (`--json` also selects JSON).
    #[arg(long, value_enum, default_value_t = crate::report::Format::Console)]
    pub(super) format: crate::report::Format,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub(super) output: Option<std::path::PathBuf>,
}

/// Builds the cache_entries universe rows (asking first in replace mode unless `--yes`).
pub(super) async fn organize(args: OrganizeArgs, config: &Config) -> Result<()> {
    let OrganizeArgs { definitions, preserve, dry_run, yes, force } = args;

    let defs = organize::definitions_from(definitions.as_deref(), config.max_input_bytes)
        .map_err(|p| problems_error(config, &p, None))?;
    if !preserve && !dry_run && !yes {
        confirm(&format!(
            "Replace the stock_universe / etf_universe / stock_stats rows of environment {} (and remove stock_etf_combo)?",
            config.environment
        ))?;
    }
    let store = open(config).await?;
    let req =
        organize::OrganizeRequest { definitions: defs, preserve, dry_run, environment: config.environment, force };
    let report = organize::run(&store, &req).await;
    store.close().await;
    print_organize(config, &report?)
}

/// `universe validate`: exit 0 when nothing fails, 1 when something does, 2 when validation could not run, 3 when
/// the alerts could not be delivered. Every run is stored, for the dashboard and the next run's comparison.
pub(super) async fn validate(args: ValidateArgs, config: &Config) -> Result<ExitCode> {
    let opts =
        quality::Options { unknown_max: args.unknown_max / 100.0, stale_days: args.stale_days, strict: args.strict };
    let hook = match args
        .alert_webhook
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .map(|u| quality::alerts::Webhook::new(u.trim()))
    {
        Some(Ok(hook)) => Some(hook),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
        None => None,
    };
    let outcome = match Store::open(&config.database_url).await {
        Ok(store) => {
            let o = quality::alerts::validate_and_alert(&store, config.environment, opts, hook.as_ref(), None).await;
            store.close().await;
            o.map_err(anyhow::Error::from)
        }
        Err(e) => Err(e.into()),
    };
    match outcome {
        // Only a scheduled run (with a slot) can find its run taken by another process.
        Ok(None) => {
            eprintln!("error: validation did not run: its slot was taken");
            Ok(ExitCode::from(2))
        }
        Ok(Some(o)) => {
            if let Some(why) = &o.not_stored {
                eprintln!("warning: the validation could not be stored ({why}); nothing was compared or posted");
            }
            print_validation(config, &o.validation, &o.alerts, o.delivery.as_ref())?;
            if let Some(Err(e)) = &o.delivery {
                eprintln!("error: alerts not delivered: {e}; the next validation repeats them");
                return Ok(ExitCode::from(3));
            }
            Ok(if o.validation.worst() == Level::Fail { ExitCode::from(1) } else { ExitCode::SUCCESS })
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

/// The relationship breakdown, to standard output or a file.
pub(super) async fn report(args: ReportArgs, config: &Config) -> Result<()> {
    let ReportArgs { summary: _, detail, format, output } = args;

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
