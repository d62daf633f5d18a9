//! `universe jobs submit|status|list|cancel` and `universe worker` (embedded mode: the queue is the `jobs` table).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::bars::{Selection, bar_source};
use super::print_json;
use super::table::TextTable;
use crate::config::{Config, MarketArgs};
use crate::domain::JobStatus;
use crate::domain::Timeframe;
use crate::jobs::{self, JobSpec, JobType, Target, Worker, WorkerOptions};
use crate::store::{JobRow, Store};

#[derive(Subcommand, Debug)]
pub(super) enum JobsCommand {
    /// Queue a data-load job (symbols × timeframes × years) for a worker.
    #[command(after_help = "Examples:
  universe jobs submit --universe dow30 --timeframes day,week --years 1 --follow
  universe jobs submit --symbols AAPL,MSFT --timeframes 1min --years 0.02")]
    Submit {
        #[command(flatten)]
        selection: Selection,
        /// Years of history (fractional allowed).
        #[arg(long, default_value_t = 1.0)]
        years: f64,
        /// Survivorship-free, as `bars load --point-in-time`: every symbol that was a member of the --universe
        /// group(s) at any time from --from to --to, each for the days it was a member.
        #[arg(long, requires_all = ["from"])]
        point_in_time: bool,
        /// With --point-in-time: first date (YYYY-MM-DD).
        #[arg(long, requires = "point_in_time")]
        from: Option<chrono::NaiveDate>,
        /// With --point-in-time: last date [default: today].
        #[arg(long, requires = "point_in_time")]
        to: Option<chrono::NaiveDate>,
        /// With --point-in-time: this many days of bars before each membership starts (indicator warm-up).
        #[arg(long, default_value_t = 0, requires = "point_in_time")]
        warmup_days: i64,
        /// Show a live progress bar until the job ends.
        #[arg(long)]
        follow: bool,
    },
    /// One job's status, counts and failures.
    Status {
        /// Job id.
        id: String,
        /// Show a live progress bar until the job ends.
        #[arg(long)]
        follow: bool,
    },
    /// Jobs, newest first.
    List {
        /// Only jobs in this status (queued, running, cancelling, completed, completed_with_errors, failed,
        /// cancelled).
        #[arg(long)]
        status: Option<JobStatus>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Cancel a job: a queued one at once, a running one at its next task boundary.
    Cancel {
        /// Job id.
        id: String,
    },
}

/// `universe worker` options.
#[derive(clap::Args, Debug)]
pub(super) struct WorkerArgs {
    /// Exit when no job is waiting (for scripts), instead of polling for more.
    #[arg(long)]
    once: bool,
    /// Folder of legacy universe CSV files (`sp_500.csv`) that `csv_file` jobs name.
    #[arg(long, env = "UNIVERSE_CSV_DIR")]
    csv_dir: Option<PathBuf>,
    /// How long a claimed job stays this worker's without a renewal, in seconds.
    #[arg(long, default_value_t = 30, hide = true)]
    lease_secs: u64,
    /// Redis mode: how long a stream entry may sit idle before another worker takes it over, in seconds.
    #[arg(long, default_value_t = 60, hide = true)]
    visibility_secs: u64,
    #[command(flatten)]
    redis: crate::config::RedisArgs,
    #[command(flatten)]
    market: Box<MarketArgs>,
    /// The daily cache sync this worker schedules and runs.
    #[command(flatten)]
    sync: crate::config::SyncScheduleArgs,
    /// Scheduled validation with data-quality alerts.
    #[command(flatten)]
    alerts: crate::config::AlertArgs,
}

pub(super) async fn worker(args: WorkerArgs, config: &Config) -> Result<ExitCode> {
    let source = bar_source(&args.market)?;
    let store = Store::open(&config.database_url).await?;
    let mut options = WorkerOptions::new(config.environment);
    options.csv_dir = args.csv_dir;
    options.lease = Duration::from_secs(args.lease_secs.max(2));
    options.sync = args.sync.settings();
    let massive = matches!(source, crate::bars::BarSource::Massive(_));
    // A one-shot worker runs what is queued; it schedules nothing.
    let schedule = if args.once { None } else { args.sync.schedule(massive, args.redis.url().is_some()) };
    if let Some(s) = &schedule {
        eprintln!("daily sync at {} New York time on trading days", s.at.format("%H:%M"));
    }
    // Stopped by aborting: between checks it only sleeps, and queueing is one insert.
    let bus = match (&schedule, args.redis.url()) {
        (Some(_), Some(url)) => Some(
            crate::jobs::redis::RedisBus::connect(&url, store.database_id().await?)
                .await
                .with_context(|| format!("cannot reach Redis at {}", crate::store::redact_url(&url)))?,
        ),
        _ => None,
    };
    let scheduler =
        schedule.map(|s| tokio::spawn(crate::sync::schedule::run(store.clone(), s, bus, std::future::pending())));
    // Scheduled validation (not for a one-shot worker); stopped by aborting like the sync's scheduler.
    let alerts = match args.alerts.schedule().map_err(anyhow::Error::msg)? {
        Some((hook, every)) if !args.once => {
            eprintln!("validation every {} min, alerts to {}", every.as_secs() / 60, hook.redacted());
            let env = config.environment;
            Some(tokio::spawn(crate::quality::alerts::schedule(
                store.clone(),
                env,
                hook,
                every,
                std::future::pending(),
            )))
        }
        _ => None,
    };
    let stop_scheduler = || {
        for s in scheduler.iter().chain(alerts.iter()) {
            s.abort();
        }
    };
    eprintln!(
        "worker {} on {} (embedded queue), bars from {}",
        options.id,
        crate::store::redact_url(&config.database_url),
        source.describe()
    );
    if let Some(url) = args.redis.url() {
        if args.once {
            bail!("--once is for the embedded queue; with Redis the worker runs until stopped");
        }
        // Workers sharing a Redis share the plan's rate too.
        let source =
            source.share_rate(&url).with_context(|| format!("invalid Redis URL {}", crate::store::redact_url(&url)))?;
        let bus = crate::jobs::redis::RedisBus::connect(&url, store.database_id().await?)
            .await
            .with_context(|| format!("cannot reach Redis at {}", crate::store::redact_url(&url)))?;
        eprintln!(
            "worker {} in Redis mode ({}): listening on {}",
            options.id,
            crate::store::redact_url(&url),
            crate::jobs::redis::DATA_LOAD_CHANNEL
        );
        let visibility = Duration::from_secs(args.visibility_secs.max(1));
        crate::jobs::redis::run(store.clone(), source, options, bus, visibility, super::shutdown_signal()).await;
        stop_scheduler();
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let worker = Worker::new(store.clone(), source, options);
    if args.once {
        while let Some(end) = worker.run_one().await? {
            eprintln!("job {} ended {}", end.job_id, end.status);
        }
    } else {
        worker.run(super::shutdown_signal()).await;
    }
    stop_scheduler();
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn run(command: JobsCommand, config: &Config) -> Result<ExitCode> {
    let store = Store::open(&config.database_url).await?;
    let result = run_with(&store, command, config).await;
    store.close().await;
    result
}

async fn run_with(store: &Store, command: JobsCommand, config: &Config) -> Result<ExitCode> {
    match command {
        JobsCommand::Submit { selection, years, point_in_time, from, to, warmup_days, follow } => {
            if !(years > 0.0 && years <= 100.0) {
                bail!("--years must be between 0 and 100, got {years}");
            }
            let target = match &selection.universe {
                Some(key) => Target::UniverseKey(key.clone()),
                None => Target::Symbols(selection.tickers()?),
            };
            let point_in_time = match point_in_time {
                true => Some(
                    crate::bars::PointInTime::for_job(from, to, years, warmup_days)
                        .map_err(|(field, why)| anyhow::anyhow!("--{}: {why}", field.replace('_', "-")))?,
                ),
                false => None,
            };
            let spec = JobSpec {
                job_id: jobs::new_job_id(),
                job_type: JobType::MultiTimeframeLoad,
                target,
                timeframes: Timeframe::parse_list(&selection.timeframes)?,
                years,
                requested_by: Some("cli".to_string()),
                point_in_time,
            };
            let submitted = jobs::submit(store, config.environment, spec, None).await?;
            if config.json && !follow {
                print_json(&submitted)?;
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("queued job {} ({} symbols)", submitted.job_id, submitted.symbol_count);
            if follow {
                return follow_job(store, &submitted.job_id, config).await;
            }
            println!("{}", submitted.job_id);
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Status { id, follow } => {
            if follow {
                return follow_job(store, &id, config).await;
            }
            let job = store.job(&id).await?.with_context(|| format!("there is no job {id}"))?;
            show_job(&job, config)?;
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::List { status, limit } => {
            let jobs = store.jobs(status, limit).await?;
            if config.json {
                print_json(&jobs)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = TextTable::new(
                &["job", "type", "status", "progress", "symbols", "bars", "created", "message"],
                &[false, false, false, true, true, true, false, false],
            );
            for j in &jobs {
                t.row(vec![
                    j.id.clone(),
                    j.job_type.clone(),
                    j.status.to_string(),
                    format!("{}%", j.counts.progress),
                    j.counts.total_symbols.to_string(),
                    j.counts.bars_loaded.to_string(),
                    j.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    j.message.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
            println!("{} jobs", jobs.len());
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Cancel { id } => {
            let job = store.cancel_job(&id).await?.with_context(|| format!("there is no job {id}"))?;
            if config.json {
                print_json(&job)?;
            } else {
                println!("job {id}: {}", job.status);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn show_job(job: &JobRow, config: &Config) -> Result<()> {
    if config.json {
        let mut v = serde_json::to_value(job)?;
        v["failures"] = job.failures.clone().unwrap_or_default();
        return print_json(&v);
    }
    println!("job {} ({}): {}, {}%", job.id, job.job_type, job.status, job.counts.progress);
    println!(
        "  symbols {} (processed {}, failed {}), tasks {}/{}, bars {}",
        job.counts.total_symbols,
        job.counts.processed_symbols,
        job.counts.failed_symbols,
        job.counts.tasks_done,
        job.counts.tasks_total,
        job.counts.bars_loaded
    );
    if let Some(m) = &job.message {
        println!("  {m}");
    }
    if let Some(f) = job.failures.as_ref().and_then(|f| f.as_array()) {
        for x in f {
            println!(
                "  failed: {} {}: {}",
                x["what"].as_str().unwrap_or(""),
                x["timeframe"].as_str().unwrap_or(""),
                x["reason"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// Polls a job with a progress bar until it ends; exit 0 only for `completed`.
async fn follow_job(store: &Store, id: &str, config: &Config) -> Result<ExitCode> {
    let bar = if config.json { ProgressBar::hidden() } else { ProgressBar::new(100) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}% {msg}").expect("static template"),
    );
    loop {
        let job = store.job(id).await?.with_context(|| format!("there is no job {id}"))?;
        bar.set_position(job.counts.progress.clamp(0, 100) as u64);
        bar.set_message(format!("{} {}", job.status, job.counts.current_symbol.clone().unwrap_or_default()));
        if job.status.is_final() {
            bar.finish_and_clear();
            show_job(&job, config)?;
            return Ok(if job.status == JobStatus::Completed { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
