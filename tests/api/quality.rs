//! `universe validate`: every check shown passing and failing, the structural checks inside loads, exit codes.

use std::process::Command;

use universe::domain::Environment;
use universe::load::{LoadError, LoadKind, Mode};
use universe::quality::{self, Level, Options};

use crate::helpers::{TestDb, contract};

async fn levels(db: &TestDb) -> Vec<(&'static str, Level)> {
    let v = quality::validate(&db.store, Environment::Default, Options::default()).await.unwrap();
    v.checks.iter().map(|c| (c.id, c.level)).collect()
}

async fn level(db: &TestDb, id: &str) -> (Level, Vec<String>) {
    let v = quality::validate(&db.store, Environment::Default, Options::default()).await.unwrap();
    let c = v.checks.into_iter().find(|c| c.id == id).unwrap();
    (c.level, c.items)
}

async fn group_id(db: &TestDb, kind: &str, name: &str) -> i32 {
    let sql = "SELECT id FROM definition_groups WHERE type = $1 AND name = $2";
    match &db.store {
        universe::store::Store::Sqlite(p) => sqlx::query_scalar(sql).bind(kind).bind(name).fetch_one(p).await.unwrap(),
        universe::store::Store::Postgres(p) => {
            sqlx::query_scalar(sql).bind(kind).bind(name).fetch_one(p).await.unwrap()
        }
    }
}

/// A consistent data set passes every check; then each problem is introduced and its check fails (or warns).
async fn every_check_passes_then_fails(db: &TestDb) {
    db.load_ok(LoadKind::Symbols, &[("s.csv", "symbol,name\nAAPL,Apple\nMSFT,Microsoft\nXOM,Exxon\n")], Mode::Full)
        .await;
    db.load_ok(
        LoadKind::Sectors,
        &[("s.csv", "symbol,sector\nAAPL,Technology\nMSFT,Technology\nXOM,Energy\n")],
        Mode::Full,
    )
    .await;
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\nMSFT\nXOM\n")], Mode::Full).await;
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\n")], Mode::Full).await;
    db.load_ok(
        LoadKind::Themes,
        &[("t.toml", "[[theme]]\nkey = \"ai\"\nname = \"AI\"\nmembers = [\"MSFT\"]\n")],
        Mode::Full,
    )
    .await;
    assert!(levels(db).await.iter().all(|(_, l)| *l == Level::Pass), "{:?}", levels(db).await);

    let now = "'2026-01-01 00:00:00'";
    // Structural problems, written behind the loaders' back.
    db.exec(&format!(
        "INSERT INTO definition_groups (name, type, environment, updated_at) VALUES ('QQQ', 'ETF', 'DEFAULT', {now})"
    ))
    .await;
    assert_eq!(level(db, "etf_empty").await, (Level::Fail, vec!["QQQ".to_string()]));
    db.exec(&format!("INSERT INTO definition_groups (name, type, environment, updated_at) VALUES ('space', 'THEME', 'DEFAULT', {now})")).await;
    assert_eq!(level(db, "theme_empty").await.0, Level::Fail);
    db.exec(&format!("INSERT INTO definition_groups (name, type, environment, updated_at) VALUES ('DOW30', 'UNIVERSE', 'DEFAULT', {now})")).await;
    assert_eq!(level(db, "universe_empty").await.0, Level::Fail);
    assert_eq!(level(db, "case_duplicates").await, (Level::Fail, vec!["UNIVERSE DOW30 / dow30".to_string()]));
    let spy = group_id(db, "ETF", "SPY").await;
    db.exec(&format!("INSERT INTO group_memberships (group_id, symbol) VALUES ({spy}, 'brk-b')")).await;
    let (l, items) = level(db, "invalid_tickers").await;
    assert_eq!((l, items), (Level::Fail, vec!["brk-b (in ETF SPY)".to_string()]));
    assert_eq!(level(db, "history").await, (Level::Fail, vec!["ETF SPY: brk-b".to_string()]));
    let energy = group_id(db, "SECTOR", "energy").await;
    db.exec(&format!("INSERT INTO group_memberships (group_id, symbol) VALUES ({energy}, 'AAPL')")).await;
    assert_eq!(level(db, "multi_sector").await.0, Level::Fail);
    // Information: orphans, coverage, symbols, staleness.
    assert_eq!(level(db, "orphans").await, (Level::Warn, vec!["brk-b".to_string()]));
    assert_eq!(level(db, "unknown_symbols").await.0, Level::Warn);
    let unknown_share =
        quality::validate(&db.store, Environment::Default, Options { unknown_max: 0.0, ..Options::default() });
    db.load_ok(LoadKind::Sectors, &[("u.csv", "symbol,sector\nZZZZ,\n")], Mode::Incremental).await;
    let v = unknown_share.await.unwrap();
    assert_eq!(v.checks.iter().find(|c| c.id == "sector_coverage").unwrap().level, Level::Warn);
    let (l, items) = level(db, "stale").await;
    assert_eq!(l, Level::Warn);
    assert!(items.contains(&"ETF QQQ".to_string()), "{items:?}");
    // cache_entries universe rows: bad JSON shape, empty, count disagreeing.
    db.exec(&format!(
        "INSERT INTO cache_entries (type, name, key, value, environment, updated_at) VALUES \
         ('stock_universe', 'x', 'bad', '{{\"nothing\": 1}}', 'DEFAULT', {now}), \
         ('stock_universe', 'x', 'empty', '[]', 'DEFAULT', {now}), \
         ('stock_universe', 'x', 'miscount', '{{\"count\": 3, \"stocks\": [{{\"ticker\": \"AAPL\"}}]}}', 'DEFAULT', {now}), \
         ('app_settings', 'app_settings', 'K', '\"not a list, and not checked\"', 'DEFAULT', {now})"
    ))
    .await;
    let (l, items) = level(db, "cache_universes").await;
    assert_eq!(l, Level::Fail);
    assert_eq!(items.len(), 3, "{items:?}");
    let v = quality::validate(&db.store, Environment::Default, Options { strict: true, ..Options::default() })
        .await
        .unwrap();
    assert_eq!(v.worst(), Level::Fail);
}

/// A load that would break a structural check is rolled back and recorded as failed; `--no-validate` skips it.
async fn load_rolls_back_what_it_breaks(db: &TestDb) {
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('SP500', 'UNIVERSE', 'DEFAULT')").await;
    let before = db.state().await;
    match db.load(LoadKind::Universes, &[("sp500.csv", "AAPL\nMSFT\n")], Mode::Full).await {
        Err(LoadError::BreaksValidation(checks)) => {
            assert_eq!(checks[0].id, "case_duplicates");
            assert_eq!(checks[0].items, ["UNIVERSE SP500 / sp500"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.state().await, before, "nothing written");
    let run = &db.store.runs(1).await.unwrap()[0];
    assert_eq!(run.status, "failed");
    assert!(run.error.as_deref().unwrap().contains("case_duplicates"));
    let r = db
        .load_with(LoadKind::Universes, &[("sp500.csv", "AAPL\nMSFT\n")], Mode::Full, |r| r.validate = false)
        .await
        .unwrap();
    assert_eq!(r.status, "applied");
    assert!(!db.store.runs(1).await.unwrap()[0].validated);
}

/// Problems that were there before a load (memberships written by TickStock's own scripts, without history) do
/// not stop it: a load fails only for what it breaks.
async fn preexisting_problems_do_not_block(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n")], Mode::Full).await;
    let spy = group_id(db, "ETF", "SPY").await;
    db.exec(&format!("INSERT INTO group_memberships (group_id, symbol) VALUES ({spy}, 'MSFT')")).await;
    let r = db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\nMSFT\nNVDA\n")], Mode::Full).await;
    assert_eq!((r.totals.added, r.totals.unchanged), (1, 2));
    assert_eq!(level(db, "history").await, (Level::Fail, vec!["ETF SPY: MSFT".to_string()]));
}

/// Exit codes: 0 when nothing fails (warnings allowed), 1 when something fails, 2 when validation cannot run.
async fn validate_exit_codes(db: &TestDb) {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_universe")).args(["--database-url", &db.url]).args(args).output().unwrap()
    };
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n")], Mode::Full).await;
    let out = run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Result: WARN"));
    assert_eq!(run(&["validate", "--strict"]).status.code(), Some(1));
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('QQQ', 'ETF', 'DEFAULT')").await;
    let out = run(&["--json", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["result"], "FAIL");
    let failing: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["level"] == "FAIL")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["etf_empty"]);
}

contract!(
    every_check_passes_then_fails,
    load_rolls_back_what_it_breaks,
    preexisting_problems_do_not_block,
    validate_exit_codes
);

/// A database that cannot be reached is exit code 2, not a verdict.
#[test]
fn validate_cannot_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", "postgres://nobody@127.0.0.1:1/none", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("validation could not run"));
}
