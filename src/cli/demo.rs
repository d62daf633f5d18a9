//! `universe demo`: a fresh embedded database with the bundled sample data, organized and validated.

use anyhow::{Context, Result};

use super::print::level_label;
use super::print_json;
use super::table::TextTable;
use crate::config::{Config, ServeArgs};
use crate::domain::{GroupKind, Timeframe};
use crate::load::{self, LoadError, LoadRequest};
use crate::organize;
use crate::quality::{self, Level};
use crate::store::Store;

pub(super) async fn demo(db: &std::path::Path, config: &Config, serve: Option<ServeArgs>) -> Result<()> {
    // A fresh database each time: remove the file and its WAL companions.
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("removing the old demo database {}", db.display()));
            }
        }
    }
    let url = format!("sqlite://{}", db.display());
    let store = Store::open(&url).await?;
    let mut reports = Vec::new();
    for (kind, inputs) in crate::sample::demo_loads() {
        let req = LoadRequest::new(kind, inputs, config.environment);
        let report = load::run(&store, &req).await.map_err(|e| match e {
            LoadError::Invalid { problems, .. } => anyhow::anyhow!(
                "bundled sample {} did not load: {}",
                kind.as_str(),
                problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            ),
            other => other.into(),
        })?;
        reports.push(report);
    }
    let defs = organize::shipped_definitions();
    let organized = organize::run(
        &store,
        &organize::OrganizeRequest {
            definitions: defs,
            preserve: false,
            dry_run: false,
            environment: config.environment,
            force: false,
        },
    )
    .await?;
    let validation = quality::validate(&store, config.environment, quality::Options::default()).await?;
    // Bars for the Dow 30 from the bundled sample, loaded the way production loads them: a data-load job, queued
    // and run by a worker (here in this process), offline.
    let spec = crate::jobs::JobSpec {
        job_id: crate::jobs::new_job_id(),
        job_type: crate::jobs::JobType::CsvUniverseLoad,
        target: crate::jobs::Target::UniverseKey("dow30".to_string()),
        timeframes: vec![Timeframe::Day, Timeframe::Week, Timeframe::Month],
        years: 10.0,
        requested_by: Some("demo".to_string()),
        point_in_time: None,
    };
    let submitted = crate::jobs::submit(&store, config.environment, spec, None).await?;
    let worker = crate::jobs::Worker::new(
        store.clone(),
        crate::bars::BarSource::sample(),
        crate::jobs::WorkerOptions::new(config.environment),
    );
    while worker.run_one().await?.is_some() {}
    let job = store.job(&submitted.job_id).await?.context("the demo job vanished")?;
    let mut bars = std::collections::BTreeMap::new();
    for tf in [Timeframe::Day, Timeframe::Week, Timeframe::Month] {
        bars.insert(tf.table(), store.count_bars(tf).await?);
    }
    // Twenty years of the S&P 500's membership, so `--as-of` answers the past.
    let (seed, changes) = crate::sample::sp500_history();
    let history = crate::load::load_events(
        &store,
        &crate::load::EventsRequest {
            seed,
            changes,
            name: crate::domain::GroupName::parse(GroupKind::Universe, "sp500")?,
            environment: config.environment,
            dry_run: false,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("bundled S&P 500 history did not load: {e}"))?;
    let on = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .expect("a date")
            .and_hms_opt(23, 59, 59)
            .expect("a time")
            .and_utc()
    };
    let lehman_before =
        store.group_symbols_as_of(config.environment, GroupKind::Universe, "sp500", on("2008-09-12")).await?;
    let lehman_after =
        store.group_symbols_as_of(config.environment, GroupKind::Universe, "sp500", on("2008-09-16")).await?;
    let has_leh = |v: &[String]| v.iter().any(|s| s == "LEH");
    // The next day: the sample's list without the companies acquired or renamed since, with one new listing.
    let req = crate::sync::daily::SyncRequest::new(
        config.environment,
        crate::sync::daily::ListSource::Input(crate::sample::next_day_list()),
        crate::sync::daily::SyncMode::Full,
    );
    let synced = crate::sync::daily::run(&store, &req).await?;
    let groups = store.group_summaries(config.environment, &[]).await?;
    let symbols = store.count_rows("symbols").await?;
    let memberships = store.count_rows("group_memberships").await?;
    if serve.is_none() {
        store.close().await;
    }
    if config.json {
        print_json(&serde_json::json!({
            "database": db.display().to_string(), "database_url": url, "loads": reports, "groups": groups,
            "symbols": symbols, "memberships": memberships, "organize": organized, "validation": validation,
            "bars_job": { "job_id": job.id, "status": job.status, "bars": bars }, "sync": synced,
            "history": history,
        }))?;
        return serve_demo(store, db, config, serve).await;
    }
    println!("TickStock Universe demo: loaded the bundled sample data (S&P 500, Nasdaq-100, Dow 30; GICS sectors;");
    println!("SPY, DIA, QQQ and the eleven sector SPDRs built from the constituents; 20 themes; symbol metadata).\n");
    let mut t = TextTable::new(&["load", "run", "groups", "added", "skipped rows"], &[false, true, true, true, true]);
    for r in &reports {
        t.row(vec![
            r.kind.clone(),
            r.run_id.to_string(),
            r.groups.len().to_string(),
            r.totals.added.to_string(),
            r.totals.skipped.to_string(),
        ]);
    }
    println!("{}", t.render());
    let mut by_kind = TextTable::new(&["type", "groups", "memberships"], &[false, true, true]);
    for k in GroupKind::ALL {
        let gs: Vec<_> = groups.iter().filter(|g| g.kind == k.as_str()).collect();
        if !gs.is_empty() {
            by_kind.row(vec![
                k.to_string(),
                gs.len().to_string(),
                gs.iter().map(|g| g.member_count).sum::<i64>().to_string(),
            ]);
        }
    }
    println!("{}", by_kind.render());
    println!("{symbols} symbols, {memberships} memberships in {}\n", db.display());
    println!(
        "Organized cache_entries: {} universe rows written (run {}); {} left out for lack of data (e.g. market caps)",
        organized.rows.len(),
        organized.run_id,
        organized.notes.len()
    );
    let n = |l| validation.checks.iter().filter(|c| c.level == l).count();
    println!(
        "Validation: {} ({} PASS, {} WARN, {} FAIL)",
        level_label(validation.worst()),
        n(Level::Pass),
        n(Level::Warn),
        n(Level::Fail)
    );
    for c in validation.checks.iter().filter(|c| c.level != Level::Pass) {
        println!("  {:<5} {} — {}", level_label(c.level), c.title, c.detail);
    }
    println!(
        "Bars: job {} {}: {} daily, {} weekly, {} monthly bars for the Dow 30 from the bundled sample \
         (2017-02-08 .. 2018-02-07)",
        job.id, job.status, bars["ohlcv_daily"], bars["ohlcv_weekly"], bars["ohlcv_monthly"],
    );
    println!(
        "S&P 500 history: {} events from {} to {} ({} membership intervals); as of 2008-09-12 {} members{}, as of \
         2008-09-16 {}{}",
        history.events,
        history.start,
        history.end,
        history.intervals,
        lehman_before.len(),
        if has_leh(&lehman_before) { " including Lehman Brothers (LEH)" } else { "" },
        lehman_after.len(),
        if has_leh(&lehman_after) { ", LEH still among them" } else { ", without LEH" },
    );
    println!(
        "\nDaily sync of the sample's next day (the companies acquired or renamed in 2025-26 leave, Honeywell's \
         spin-off Solstice arrives; the sample has no market caps, so no band moves):"
    );
    super::sync::print_changes(&synced);
    println!("{}", super::sync::summary(&synced));
    println!();
    println!("Try:");
    println!("  universe --database-url {url} universes list");
    println!("  universe --database-url {url} universes show XLK");
    println!("  universe --database-url {url} universes resolve nasdaq100:dow30");
    println!("  universe --database-url {url} universes resolve stock_universe:index_dow30");
    println!("  universe --database-url {url} validate");
    println!("  universe --database-url {url} runs");
    println!("  universe --database-url {url} bars load --universe dow30 --source sample --timeframes day,week");
    println!("  universe --database-url {url} jobs list");
    println!("  universe --database-url {url} sync log --symbol HOLX");
    println!("  universe --database-url {url} universes show sp500 --as-of 2008-09-12");
    println!("  universe --database-url {url} sync --source sample --dry-run");
    serve_demo(store, db, config, serve).await
}

/// Serves the API on the demo database, with a key made up for this run when none is configured.
async fn serve_demo(store: Store, db: &std::path::Path, config: &Config, serve: Option<ServeArgs>) -> Result<()> {
    let Some(mut args) = serve else { return Ok(()) };
    let mut intro = String::new();
    if args.api_key.is_none() {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).context("the operating system's random source")?;
        let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        intro = format!(
            "\nAdmin key for this demo: {key}\n  (log in to the console with it; the admin API takes it as X-API-Key; \
             set UNIVERSE_API_KEY to choose one)"
        );
        args.api_key = Some(key);
    }
    let config = Config { database_url: format!("sqlite://{}", db.display()), ..config.clone() };
    super::serve_api(store, &config, &args, Some(&intro)).await
}
