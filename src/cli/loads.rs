//! `universe load`, `runs` and `rollback`: loading files, the audit trail, and undoing a run.

use crate::domain::RunStatus;
use anyhow::{Context, Result};

use super::print::{print_report, print_runs, problems_error};
use super::table::TextTable;
use super::{open, print_json};
use crate::config::Config;
use crate::load::{self, Input, LoadError, LoadKind, LoadRequest, Mode};
use crate::quality::{self, Level};

/// What `universe load` reads and how.
#[derive(clap::Args, Debug)]
pub(super) struct LoadArgs {
    /// What the files are; `all` takes one folder laid out as holdings/, universes/, sectors.csv, themes.toml,
    /// symbols.csv, loads each in order (one transaction each), then enriches, organizes and validates.
    #[arg(value_enum)]
    pub(super) kind: LoadWhat,
    /// The files (for `all`: the folder; none with `holdings --source massive`).
    pub(super) paths: Vec<std::path::PathBuf>,
    /// full: reload every group in the input; incremental: skip files whose checksum is unchanged;
    /// dry-run: print the diff and write nothing but the run record.
    #[arg(long, value_enum, default_value_t = Mode::Full)]
    pub(super) mode: Mode,
    /// Also delete groups of this kind that are absent from the input.
    #[arg(long)]
    pub(super) prune: bool,
    /// The ETF a single holdings file holds (default: from the file, e.g. spy_holdings.csv → SPY).
    #[arg(long)]
    pub(super) etf: Option<String>,
    /// The universe a single universe file defines (default: from the file name, e.g. sp500.csv → sp500).
    #[arg(long)]
    pub(super) name: Option<String>,
    /// Skip the structural checks run inside the load's transaction (recorded in the run).
    #[arg(long)]
    pub(super) no_validate: bool,
    /// `events`: the seed roster (`effective_date,ticker`) the changes start from.
    #[arg(long)]
    pub(super) seed: Option<std::path::PathBuf>,
    /// With `holdings --source massive --etf SPY`: the holdings' effective date (else the latest).
    #[arg(long, requires = "source")]
    pub(super) as_of: Option<chrono::NaiveDate>,
    /// `holdings --source massive --etf SPY`: the holdings from ETF Global's constituents (a dataset Massive
    /// entitles separately) instead of files, and how to reach Massive.
    #[command(flatten)]
    pub(super) market: Box<crate::config::MarketArgs>,
}

/// What `universe load` loads: one kind of file, or a whole folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum LoadWhat {
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
    /// A folder of all of them, in order, then enrich, organize and validate.
    All,
    /// An index's dated history: `load events CHANGES.csv --seed SEED.csv --name sp500` (a UNIVERSE group's
    /// membership intervals, for `--as-of`).
    Events,
}

impl LoadWhat {
    fn kind(self) -> Option<LoadKind> {
        match self {
            LoadWhat::Holdings => Some(LoadKind::Holdings),
            LoadWhat::Universes => Some(LoadKind::Universes),
            LoadWhat::Sectors => Some(LoadKind::Sectors),
            LoadWhat::Themes => Some(LoadKind::Themes),
            LoadWhat::Symbols => Some(LoadKind::Symbols),
            LoadWhat::All | LoadWhat::Events => None,
        }
    }
}

/// `universe load all DIR`.
async fn load_all(paths: &[std::path::PathBuf], config: &Config) -> Result<()> {
    let [dir] = paths else { anyhow::bail!("`load all` takes one folder") };
    if !dir.is_dir() {
        anyhow::bail!("{} is not a folder", dir.display());
    }
    let store = open(config).await?;
    let report = load::load_all(&store, dir, config.environment, config.max_input_bytes).await;
    store.close().await;
    if config.json {
        print_json(&report)?;
    } else {
        let mut t = TextTable::new(&["step", "status", "run", "detail"], &[false, false, true, false]);
        for s in &report.steps {
            let status = serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(str::to_string));
            t.row(vec![
                s.step.to_string(),
                status.unwrap_or_default(),
                s.run_id.map(|i| i.to_string()).unwrap_or_default(),
                s.detail.clone(),
            ]);
        }
        print!("{}", t.render());
        for p in report.problems.iter().take(50) {
            println!("{p}");
        }
    }
    match report.steps.iter().find(|s| s.status == load::StepStatus::Failed) {
        None => Ok(()),
        Some(s) if s.step == "validate" => anyhow::bail!("every step is applied, but validate found failing checks"),
        Some(s) => anyhow::bail!(
            "load all stopped at {}: the steps before it are applied, the ones after it were not run",
            s.step
        ),
    }
}

/// An ETF's holdings from ETF Global's constituents, as a holdings input (symbol, name, weight in percent) and
/// their effective date: the latest, or `as_of`'s.
async fn holdings_from_massive(
    etf: &str,
    as_of: Option<chrono::NaiveDate>,
    keys: &crate::config::MarketArgs,
) -> Result<(Input, chrono::NaiveDate)> {
    let config = keys.massive().context(
        "--source massive needs an API key: set MASSIVE_API_KEY (or POLYGON_API_KEY), or pass --massive-api-key",
    )?;
    let client = crate::market::MassiveClient::new(config)?;
    let etf = etf.to_ascii_uppercase();
    let rows = match client.etf_constituents(&etf, as_of).await {
        Ok(r) => r,
        Err(crate::market::MassiveError::NotEntitled { .. }) => anyhow::bail!(
            "Massive answered 403 for ETF Global's constituents of {etf}: your plan does not include that dataset \
             (Massive entitles it separately). Load the issuer's holdings file instead: universe load holdings FILE"
        ),
        Err(e) => return Err(e.into()),
    };
    let Some(day) = rows.iter().filter_map(|r| r.effective_date).max() else {
        anyhow::bail!(
            "ETF Global has no holdings of {etf}{}",
            as_of.map(|d| format!(" effective {d}")).unwrap_or_default()
        );
    };
    let mut csv = String::from("Symbol,Name,Weight (%)\n");
    let mut without_ticker = 0;
    for r in rows.iter().filter(|r| r.effective_date == Some(day)) {
        let Some(t) = r.constituent_ticker.as_deref().filter(|t| !t.trim().is_empty()) else {
            without_ticker += 1;
            continue;
        };
        let name = r.constituent_name.as_deref().unwrap_or("").replace('"', "'");
        let weight = r.weight.map(|w| format!("{}", w * 100.0)).unwrap_or_default();
        csv.push_str(&format!("{t},\"{name}\",{weight}\n"));
    }
    if without_ticker > 0 {
        eprintln!("{without_ticker} holdings of {etf} on {day} have no ticker (cash, futures, …) and are left out");
    }
    Ok((Input::from_bytes(format!("massive:etf-global/{etf}@{day}"), csv), day))
}

/// After a holdings load from Massive: the fund's profile from ETF Global (issuer, type, expense ratio, AUM) onto
/// its symbols row, where the plan has the dataset (the latest, or the latest on or before `--as-of`). Metadata
/// on the symbols row, as `symbols refresh` writes: not part of the holdings run, nor undone by its rollback.
/// Information, never a reason to fail the load.
async fn profile_from_massive(
    store: &crate::store::Store,
    etf: &str,
    as_of: Option<chrono::NaiveDate>,
    keys: &crate::config::MarketArgs,
) -> Result<String> {
    let config = keys.massive().context("--source massive needs an API key")?;
    let client = crate::market::MassiveClient::new(config)?;
    let etf = etf.to_ascii_uppercase();
    match client.etf_profile(&etf, as_of).await {
        Ok(Some(p)) => {
            store.set_etf_profile(&etf, &p, chrono::Utc::now().naive_utc()).await?;
            let part = |label: &str, v: Option<String>| v.map(|v| format!(", {label} {v}")).unwrap_or_default();
            Ok(format!(
                "ETF metadata of {etf} from ETF Global's profile{}{}{}{}{}",
                part("effective", p.effective_date.map(|d| d.to_string())),
                part("issuer", p.issuer.clone()),
                part("type", p.product_type.clone()),
                part(
                    "expense ratio",
                    match (p.net_expenses, p.expense_ratio_percent()) {
                        (_, Some(pct)) => Some(format!("{pct:.4} %")),
                        (Some(raw), None) => Some(format!("{raw} (not a plausible fraction: not stored)")),
                        (None, None) => None,
                    }
                ),
                part("AUM", p.aum.map(|a| format!("${:.0}M", a / 1e6))),
            ))
        }
        Ok(None) => Ok(format!("ETF Global has no profile of {etf}: its metadata is left as it was")),
        Err(crate::market::MassiveError::NotEntitled { .. }) => Ok(format!(
            "ETF Global's profiles are not in your plan (403): the issuer, expense ratio and AUM of {etf} are left \
             as they were"
        )),
        Err(e) => Ok(format!("could not read ETF Global's profile of {etf} ({e}): its metadata is left as it was")),
    }
}

/// `universe load events CHANGES.csv --seed SEED.csv --name NAME`.
async fn load_events(
    paths: &[std::path::PathBuf],
    seed: Option<&std::path::Path>,
    name: Option<&str>,
    mode: Mode,
    config: &Config,
) -> Result<()> {
    let [changes] = paths else { anyhow::bail!("`load events` takes one changes file (and --seed)") };
    let Some(seed) = seed else {
        anyhow::bail!("`load events` needs --seed SEED.csv, the roster the changes start from")
    };
    let name = match name {
        Some(n) => n.to_string(),
        // sp500_changes.csv → sp500
        None => changes
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.trim_end_matches("_changes").to_string())
            .context("give the universe with --name")?,
    };
    let name = crate::domain::GroupName::parse(crate::domain::GroupKind::Universe, &name)?;
    let read =
        |p: &std::path::Path| Input::read(p, config.max_input_bytes).map_err(|e| problems_error(config, &[e], None));
    let req = load::EventsRequest {
        seed: read(seed)?,
        changes: read(changes)?,
        name,
        environment: config.environment,
        dry_run: mode == Mode::DryRun,
    };
    let store = open(config).await?;
    let result = load::load_events(&store, &req).await;
    store.close().await;
    let report = match result {
        Ok(r) => r,
        Err(LoadError::Invalid { problems, run_id }) => return Err(problems_error(config, &problems, run_id)),
        Err(e) => return Err(e.into()),
    };
    if config.json {
        return print_json(&report);
    }
    println!(
        "run {} ({}): {} history from {} to {}: {} events, {} intervals ({} written, {} replaced), {} members now",
        report.run_id,
        report.status.as_str(),
        report.group,
        report.start,
        report.end,
        report.events,
        report.intervals,
        report.intervals_added,
        report.intervals_removed,
        report.roster
    );
    let list = |v: &[String]| {
        if v.len() > 20 { format!("{} … ({} in all)", v[..20].join(", "), v.len()) } else { v.join(", ") }
    };
    if !report.only_in_members.is_empty() {
        println!("  left the group (members before, not in the history's roster): {}", list(&report.only_in_members));
    }
    if !report.only_in_roster.is_empty() {
        println!("  joined the group (in the roster, not members before): {}", list(&report.only_in_roster));
    }
    if report.renames > 0 {
        println!(
            "  {} ticker changes in the file; {} securities' tickers recorded now (stock/FB/info finds META)",
            report.renames, report.securities_recorded
        );
    }
    for p in &report.skipped {
        println!("  {p}");
    }
    Ok(())
}

/// Which runs `universe runs` shows.
#[derive(clap::Args, Debug)]
pub(super) struct RunsArgs {
    /// Show this run in full.
    pub(super) id: Option<i64>,
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    pub(super) limit: i64,
}

/// Loads files of one kind, then reports coverage, orphans and staleness (information, never a failure).
pub(super) async fn load(args: LoadArgs, config: &Config) -> Result<()> {
    let LoadArgs { kind: what, paths, mode, prune, etf, name, no_validate, seed, as_of, market } = args;
    if what == LoadWhat::Events {
        return load_events(&paths, seed.as_deref(), name.as_deref(), mode, config).await;
    }
    let Some(kind) = what.kind() else { return load_all(&paths, config).await };

    let mut inputs = Vec::new();
    let mut unreadable = Vec::new();
    let mut effective_at = None;
    match market.source.as_deref() {
        Some("massive") => {
            let (Some(etf), LoadWhat::Holdings) = (&etf, what) else {
                anyhow::bail!(
                    "--source massive loads one ETF's holdings: universe load holdings --source massive --etf SPY"
                );
            };
            let (input, day) = holdings_from_massive(etf, as_of, &market).await?;
            inputs.push(input);
            effective_at = Some(day.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
        }
        Some(other) => anyhow::bail!("--source {other:?}: the one source besides files is massive"),
        None if paths.is_empty() => anyhow::bail!("give the files to load"),
        None => {}
    }
    for p in &paths {
        match Input::read(p, config.max_input_bytes) {
            Ok(i) => inputs.push(i),
            Err(e) => unreadable.push(e),
        }
    }
    let store = open(config).await?;
    if let (Some(at), Some(etf)) = (effective_at, &etf) {
        // History cannot run backwards: holdings older than what the group's history already records are refused.
        let etf = etf.to_ascii_uppercase();
        if let Some(latest) = store.history_latest(config.environment, crate::domain::GroupKind::Etf, &etf).await?
            && latest > at
        {
            store.close().await;
            anyhow::bail!(
                "the holdings of {etf} are effective {}, but its history already runs to {}: load a later date",
                at.date_naive(),
                latest.date_naive()
            );
        }
    }
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
        effective_at,
        expect_version: None,
    };
    let result = load::run(&store, &req).await;
    let profile = match (&result, market.source.as_deref(), &req.etf) {
        // The profile is refreshed on every load that was not a dry run (holdings unchanged or not).
        (Ok(r), Some("massive"), Some(etf)) if matches!(r.status, RunStatus::Applied | RunStatus::Skipped) => {
            let note = profile_from_massive(&store, etf, as_of, &market).await;
            Some(note.unwrap_or_else(|e| format!("could not record ETF Global's profile: {e:#}")))
        }
        _ => None,
    };
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
            report.notes.extend(profile);
            print_report(config, &report)
        }
        Err(LoadError::Invalid { problems, run_id }) => Err(problems_error(config, &problems, run_id)),
        Err(e) => Err(e.into()),
    }
}

/// Lists runs, newest first, or shows one in full.
pub(super) async fn runs(args: RunsArgs, config: &Config) -> Result<()> {
    match args.id {
        Some(id) => run(id, config).await,
        None => {
            let limit = args.limit;

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
    }
}

async fn run(id: i64, config: &Config) -> Result<()> {
    let store = open(config).await?;
    let run = store.run(id).await?.with_context(|| format!("there is no run {id}"))?;
    if config.json {
        let mut v = serde_json::to_value(&run)?;
        v["details"] = serde_json::to_value(&run.details)?;
        return print_json(&v);
    }
    print_runs(std::slice::from_ref(&run));
    if let Some(e) = &run.error {
        println!("\nerror:\n{e}");
    }
    if let Some(groups) = run.details.as_ref().map(|d| &d.groups).filter(|g| !g.is_empty()) {
        let mut t = TextTable::new(
            &["type", "group", "action", "added", "removed", "changed", "unchanged"],
            &[false, false, false, true, true, true, true],
        );
        for g in groups {
            let c = &g.counts;
            let action = serde_json::to_value(g.action)?.as_str().unwrap_or_default().to_string();
            t.row(vec![
                g.kind.to_string(),
                g.name.clone(),
                action,
                c.added.to_string(),
                c.removed.to_string(),
                c.changed.to_string(),
                c.unchanged.to_string(),
            ]);
        }
        println!("\n{}", t.render());
    }
    Ok(())
}

/// Undoes an applied run.
pub(super) async fn rollback(run_id: i64, config: &Config) -> Result<()> {
    let store = open(config).await?;
    let report = load::rollback(&store, run_id).await?;
    print_report(config, &report)
}
