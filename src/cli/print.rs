//! Human and JSON output of the commands: load and organize reports, run lists, validation, problems, and the
//! confirmation prompt of replacing commands.

use anyhow::Result;

use super::print_json;
use super::table::TextTable;
use crate::config::Config;
use crate::domain::RunStatus;
use crate::load::{self, LoadReport};
use crate::organize;
use crate::quality::{self, Level};
use crate::store::RunRow;

pub(super) fn level_label(l: Level) -> &'static str {
    match l {
        Level::Pass => "PASS",
        Level::Warn => "WARN",
        Level::Fail => "FAIL",
    }
}

pub(super) fn print_validation(
    config: &Config,
    v: &quality::Validation,
    alerts: &[String],
    delivery: Option<&Result<(), String>>,
) -> Result<()> {
    if config.json {
        let mut value = serde_json::to_value(v)?;
        value["result"] = serde_json::Value::from(level_label(v.worst()));
        value["alerts"] = serde_json::json!(alerts);
        if let Some(d) = delivery {
            value["alerts_delivered"] = serde_json::Value::from(d.is_ok());
        }
        return print_json(&value);
    }
    println!(
        "Validation, environment {}{}",
        v.environment,
        if v.strict { " (strict: WARN counts as FAIL)" } else { "" }
    );
    for c in &v.checks {
        println!("{:<5} {:<18} {} — {}", level_label(c.level), c.id, c.title, c.detail);
        if c.level != Level::Pass && !c.items.is_empty() {
            let more = if c.count > c.items.len() {
                format!(" … and {} more", c.count - c.items.len())
            } else {
                String::new()
            };
            println!("      {}{more}", c.items.join(", "));
        }
    }
    let n = |l| v.checks.iter().filter(|c| c.level == l).count();
    println!(
        "Result: {} ({} FAIL, {} WARN, {} PASS)",
        level_label(v.worst()),
        n(Level::Fail),
        n(Level::Warn),
        n(Level::Pass)
    );
    if !alerts.is_empty() {
        let sent = match delivery {
            Some(Ok(())) => " (posted to the webhook)",
            Some(Err(_)) => " (NOT delivered)",
            None => "",
        };
        println!("Since the previous validation{sent}:");
        for a in alerts {
            println!("  - {a}");
        }
    }
    Ok(())
}

/// An input rejected with its problems already printed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct ProblemsReported(String);

/// A replacing command asks on a terminal and refuses without `--yes` otherwise.
pub(super) fn confirm(question: &str) -> Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("this replaces data: pass --yes to confirm (stdin is not a terminal)");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
        Ok(())
    } else {
        anyhow::bail!("not confirmed; nothing was written")
    }
}

/// How a run's status reads in a headline.
pub(super) fn status_verb(status: RunStatus) -> &'static str {
    match status {
        RunStatus::DryRun => "Dry run (nothing written)",
        RunStatus::Skipped => "Nothing to change",
        _ => "Applied",
    }
}

pub(super) fn print_organize(config: &Config, r: &organize::OrganizeReport) -> Result<()> {
    if config.json {
        return print_json(r);
    }
    let verb = status_verb(r.status);
    println!("{verb}: organize {} (run {}, environment {})", r.mode, r.run_id, r.environment);
    if let Some(since) = r.unchanged_since {
        println!("nothing organize reads has changed since run {since}: its rows stand (--force rebuilds them)");
    }
    let mut t = TextTable::new(
        &["type", "name", "key", "action", "before", "after"],
        &[false, false, false, false, true, true],
    );
    let opt = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    for row in r.rows.iter().filter(|row| row.action != organize::RowAction::Unchanged) {
        let action = serde_json::to_value(row.action)?.as_str().unwrap_or_default().to_string();
        t.row(vec![row.kind.clone(), row.name.clone(), row.key.clone(), action, opt(row.before), opt(row.after)]);
    }
    println!("\n{}", t.render());
    let totals: Vec<String> = r.totals.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("rows: {}", totals.join(", "));
    for n in &r.notes {
        println!("  note: {n}");
    }
    Ok(())
}

pub(super) fn problems_error(config: &Config, problems: &[load::Problem], run_id: Option<i64>) -> anyhow::Error {
    const SHOWN: usize = 50;
    let recorded = run_id.map(|id| format!(" (recorded as failed run {id})")).unwrap_or_default();
    if config.json {
        let _ = print_json(&serde_json::json!({ "status": "failed", "run_id": run_id, "problems": problems }));
    } else {
        for p in problems.iter().take(SHOWN) {
            eprintln!("  {p}");
        }
        if problems.len() > SHOWN {
            eprintln!("  … and {} more", problems.len() - SHOWN);
        }
    }
    ProblemsReported(format!("{} problem(s) in the input; nothing was loaded{recorded}", problems.len())).into()
}

pub(super) fn print_runs(runs: &[RunRow]) {
    let mut t = TextTable::new(
        &[
            "id",
            "kind",
            "mode",
            "status",
            "env",
            "added",
            "removed",
            "changed",
            "unchanged",
            "skipped",
            "started (UTC)",
            "source",
        ],
        &[true, false, false, false, false, true, true, true, true, true, false, false],
    );
    for r in runs {
        let status = match r.rolled_back_by {
            Some(by) => format!("rolled back by {by}"),
            None => r.status.to_string(),
        };
        let mut source = r.source.clone();
        if source.len() > 60 {
            source = format!("{}…", &source[..source.floor_char_boundary(59)]);
        }
        t.row(vec![
            r.id.to_string(),
            r.kind.to_string(),
            r.mode.clone(),
            status,
            r.environment.to_string(),
            r.added.to_string(),
            r.removed.to_string(),
            r.changed.to_string(),
            r.unchanged.to_string(),
            r.rejected.to_string(),
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            source,
        ]);
    }
    print!("{}", t.render());
}

pub(super) fn print_report(config: &Config, r: &LoadReport) -> Result<()> {
    if config.json {
        return print_json(r);
    }
    let verb = status_verb(r.status);
    println!("{verb}: {} {} (run {}, environment {})", r.kind, r.mode, r.run_id, r.environment);
    for n in &r.notes {
        println!("  {n}");
    }
    let mut t = TextTable::new(
        &["type", "group", "action", "added", "removed", "changed", "unchanged", "skipped"],
        &[false, false, false, true, true, true, true, true],
    );
    let action =
        |a: load::Action| serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    for g in &r.groups {
        let c = &g.counts;
        t.row(vec![
            g.kind.clone(),
            g.name.clone(),
            action(g.action),
            c.added.to_string(),
            c.removed.to_string(),
            c.changed.to_string(),
            c.unchanged.to_string(),
            c.skipped.to_string(),
        ]);
    }
    let c = &r.totals;
    t.row(vec![
        "total".into(),
        String::new(),
        String::new(),
        c.added.to_string(),
        c.removed.to_string(),
        c.changed.to_string(),
        c.unchanged.to_string(),
        c.skipped.to_string(),
    ]);
    println!("\n{}", t.render());
    for c in &r.quality {
        println!("{:<5} {} — {}", level_label(c.level), c.title, c.detail);
    }
    if !r.quality.is_empty() {
        println!("(information after the load; `universe validate` lists the items)\n");
    }
    if !r.skipped_rows.is_empty() {
        println!("skipped rows (not equity positions):");
        for s in r.skipped_rows.iter().take(20) {
            println!("  {}:{}  {:<10} {}", s.file, s.line, s.ticker, s.reason);
        }
        if r.skipped_rows.len() > 20 {
            println!("  … and {} more (--json lists all)", r.skipped_rows.len() - 20);
        }
    }
    Ok(())
}
