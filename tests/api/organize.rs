//! `universe organize`: cache_entries universe rows from the groups, atomically, leaving other types alone.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use universe::domain::Environment;
use universe::load::{Input, LoadKind, Mode};
use universe::organize::{self, OrganizeRequest, RowAction, definitions};
use universe::quality::{self, Level, Options};
use universe::universes::resolve;

use crate::helpers::{TestDb, contract};

fn defs(text: &str) -> definitions::Definitions {
    definitions::parse(&Input::from_bytes("defs.toml", text)).unwrap_or_else(|p| panic!("{p:#?}"))
}

fn default_defs() -> definitions::Definitions {
    definitions::parse(&Input::from_bytes(organize::DEFAULT_DEFINITIONS.0, organize::DEFAULT_DEFINITIONS.1)).unwrap()
}

async fn organize(db: &TestDb, d: definitions::Definitions, preserve: bool, dry_run: bool) -> organize::OrganizeReport {
    organize_with(db, d, preserve, dry_run, false).await
}

async fn organize_with(
    db: &TestDb,
    d: definitions::Definitions,
    preserve: bool,
    dry_run: bool,
    force: bool,
) -> organize::OrganizeReport {
    let req = OrganizeRequest { definitions: d, preserve, dry_run, environment: Environment::Default, force };
    organize::run(&db.store, &req).await.unwrap()
}

async fn cache(db: &TestDb, kind: &str, key: &str) -> Option<Value> {
    db.store.cache_rows(Environment::Default, &[kind]).await.unwrap().into_iter().find(|r| r.2 == key).and_then(|r| r.3)
}

async fn seed(db: &TestDb) {
    let symbols = "symbol,name,type,exchange,market_cap\n\
        AAPL,Apple,CS,XNAS,3000000000000\nMSFT,Microsoft,CS,XNAS,2900000000000\nJPM,JPMorgan,CS,XNYS,500000000000\n\
        XOM,Exxon,CS,XNYS,450000000000\nSMCI,Super Micro,CS,XNAS,25000000000\nTINY,Tiny Co,CS,XNAS,100000000\n\
        SPY,SPDR S&P 500,ETF,ARCX,\nQQQ,Invesco QQQ,ETF,XNAS,\n";
    db.load_ok(LoadKind::Symbols, &[("s.csv", symbols)], Mode::Full).await;
    db.load_ok(
        LoadKind::Universes,
        &[("dow30.csv", "AAPL\nMSFT\nJPM\n"), ("nasdaq100.csv", "AAPL\nMSFT\nSMCI\n")],
        Mode::Full,
    )
    .await;
    let sectors = "symbol,sector,industry\nAAPL,Information Technology,Hardware\nMSFT,Information Technology,Software\n\
        SMCI,Information Technology,Hardware\nJPM,Financials,Banks\nXOM,Energy,Oil\nTINY,,\n";
    db.load_ok(LoadKind::Sectors, &[("s.csv", sectors)], Mode::Full).await;
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,7\nMSFT,6\n")], Mode::Full).await;
    db.load_ok(
        LoadKind::Themes,
        &[("t.toml", "[[theme]]\nkey = \"ai\"\nname = \"Artificial Intelligence\"\nmembers = [\"MSFT\", \"SMCI\"]\n")],
        Mode::Full,
    )
    .await;
    db.exec(
        "INSERT INTO cache_entries (type, name, key, value, environment) VALUES \
         ('app_settings', 'app_settings', 'SECRET_KEY', '\"keep me\"', 'DEFAULT'), \
         ('stock_etf_combo', 'Stock ETF Group', 'stock_etf_group', '[\"SPY\", \"AAPL\"]', 'DEFAULT'), \
         ('stock_universe', 'Old', 'old_key', '[\"AAPL\"]', 'DEFAULT'), \
         ('stock_universe', 'S&P 500', 'index_sp500', '[\"AAPL\"]', 'TEST')",
    )
    .await;
}

/// The default definitions build the seed tree and the synchroniser categories in TickStock's shapes; other row
/// types and environments are untouched; stock_etf_combo and undefined universe rows go.
async fn builds_the_rows(db: &TestDb) {
    seed(db).await;
    let r = organize(db, default_defs(), false, false).await;
    assert_eq!(r.status, "applied");
    assert_eq!(cache(db, "stock_universe", "index_dow30").await, Some(json!(["AAPL", "JPM", "MSFT"])));
    assert_eq!(cache(db, "stock_universe", "theme_ai").await, Some(json!(["MSFT", "SMCI"])));
    assert_eq!(cache(db, "stock_universe", "sector_technology").await, Some(json!(["AAPL", "MSFT", "SMCI"])));
    let mega = cache(db, "stock_universe", "mega_cap").await.unwrap();
    assert_eq!(mega["count"], 4);
    assert_eq!(mega["stocks"][0]["ticker"], "AAPL");
    assert_eq!(mega["stocks"][0]["rank"], 1);
    assert_eq!(mega["stocks"][0]["sector"], "Information Technology");
    assert_eq!(mega["stocks"][0]["industry"], "Hardware");
    assert_eq!(mega["stocks"][0]["market_cap"], 3.0e12);
    assert_eq!(cache(db, "stock_universe", "large_cap").await.unwrap()["stocks"][0]["ticker"], "SMCI");
    assert_eq!(cache(db, "stock_universe", "micro_cap").await.unwrap()["stocks"][0]["ticker"], "TINY");
    let leaders = cache(db, "stock_universe", "top_10_technology").await.unwrap();
    let tickers: Vec<&str> =
        leaders["stocks"].as_array().unwrap().iter().map(|s| s["ticker"].as_str().unwrap()).collect();
    assert_eq!(tickers, ["AAPL", "MSFT", "SMCI"]);
    assert!(cache(db, "stock_universe", "hardware").await.is_none(), "industries need 3 stocks");
    assert_eq!(cache(db, "etf_universe", "all_etfs").await, Some(json!(["QQQ", "SPY"])));
    assert_eq!(cache(db, "stock_stats", "summary").await.unwrap()["overview"]["total_stocks"], 6);
    assert_eq!(cache(db, "app_settings", "SECRET_KEY").await, Some(json!("keep me")));
    assert!(cache(db, "stock_etf_combo", "stock_etf_group").await.is_none());
    assert!(cache(db, "stock_universe", "old_key").await.is_none());
    let test_env = db.store.cache_rows(Environment::Test, &["stock_universe"]).await.unwrap();
    assert_eq!(test_env.len(), 1, "other environments are untouched");
    // Readers resolve the rows, and validate agrees with them.
    let syms =
        resolve(&db.store, Environment::Default, "stock_universe:index_dow30:etf_universe:all_etfs").await.unwrap();
    assert_eq!(syms, ["AAPL", "JPM", "MSFT", "QQQ", "SPY"]);
    let v = quality::validate(&db.store, Environment::Default, Options::default()).await.unwrap();
    assert_eq!(v.checks.iter().find(|c| c.id == "cache_universes").unwrap().level, Level::Pass);
    // The relationship cache reads organize's ticker lists (`universe_cache_symbols`), and resolves every
    // universe row as the values themselves do.
    let snapshot = universe::cache::build(&db.store, Environment::Default).await.unwrap();
    let rows = db.store.cache_rows(Environment::Default, &["stock_universe", "etf_universe"]).await.unwrap();
    assert_eq!(db.store.count_rows("universe_cache_symbols").await.unwrap() as usize, rows.len());
    for (kind, _, key, _) in &rows {
        let k = universe::domain::UniverseKey::parse(&format!("{kind}:{key}")).unwrap();
        let resolved = snapshot.resolve(&k).unwrap();
        assert_eq!(
            snapshot.tickers(&resolved),
            resolve(&db.store, Environment::Default, &format!("{kind}:{key}")).await.unwrap()
        );
    }
    // A second run changes nothing; a changed group changes only its rows.
    let again = organize(db, default_defs(), false, false).await;
    assert_eq!(again.status, "skipped");
    assert!(again.rows.iter().all(|r| r.action == RowAction::Unchanged));
    // A run that changes nothing still writes the ticker lists when they are missing (a database upgraded to
    // migration 0005 has none), stamped for the values now stored; with them current, it writes nothing.
    let current = || async {
        let mut tx = db.store.begin().await.unwrap();
        let n = tx.current_cache_symbols(Environment::Default).await.unwrap();
        tx.rollback().await.unwrap();
        n as usize
    };
    assert_eq!(current().await, rows.len());
    db.exec("DELETE FROM universe_cache_symbols").await;
    assert_eq!(current().await, 0);
    assert_eq!(organize(db, default_defs(), false, false).await.status, "skipped");
    assert_eq!(current().await, rows.len());
    db.exec("DELETE FROM universe_cache_symbols").await;
    assert_eq!(organize(db, default_defs(), false, true).await.status, "dry_run");
    assert_eq!(current().await, 0, "a dry run writes no lists");
    assert_eq!(organize(db, default_defs(), false, false).await.status, "skipped");
    assert_eq!(current().await, rows.len());
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\nJPM\nXOM\n")], Mode::Full).await;
    let v = quality::validate(&db.store, Environment::Default, Options::default()).await.unwrap();
    let c = v.checks.iter().find(|c| c.id == "cache_universes").unwrap();
    assert_eq!(c.level, Level::Fail, "the row no longer agrees with its group");
    assert!(c.items[0].contains("index_dow30"), "{:?}", c.items);
    let r = organize(db, default_defs(), false, false).await;
    let dow = r.rows.iter().find(|r| r.key == "index_dow30").unwrap();
    assert_eq!((dow.action, dow.before, dow.after), (RowAction::Changed, Some(3), Some(4)));
    // A value changed behind organize's back (updated_at untouched) is still read and caught.
    db.exec("UPDATE cache_entries SET value = '[]' WHERE type = 'stock_universe' AND key = 'index_dow30'").await;
    let v = quality::validate(&db.store, Environment::Default, Options::default()).await.unwrap();
    let c = v.checks.iter().find(|c| c.id == "cache_universes").unwrap();
    assert_eq!(c.items, ["stock_universe:index_dow30 (Dow Jones 30): empty"]);
    // So does the cache: the row's list no longer matches the stored value's size, and the value is read.
    db.exec("UPDATE cache_entries SET value = '[\"XOM\"]' WHERE type = 'stock_universe' AND key = 'index_dow30'").await;
    let snapshot = universe::cache::build(&db.store, Environment::Default).await.unwrap();
    let k = universe::domain::UniverseKey::parse("stock_universe:index_dow30").unwrap();
    let resolved = snapshot.resolve(&k).unwrap();
    assert_eq!(snapshot.tickers(&resolved), ["XOM"]);
}

/// `--preserve` only upserts; `--dry-run` reports and writes only its run record.
async fn preserve_and_dry_run(db: &TestDb) {
    seed(db).await;
    let before = db.store.cache_rows(Environment::Default, &["stock_universe", "stock_etf_combo"]).await.unwrap();
    let dry = organize(db, default_defs(), false, true).await;
    assert_eq!(dry.status, "dry_run");
    assert!(dry.rows.iter().any(|r| r.key == "stock_etf_group" && r.action == RowAction::Removed));
    assert_eq!(
        db.store.cache_rows(Environment::Default, &["stock_universe", "stock_etf_combo"]).await.unwrap(),
        before
    );
    assert_eq!(db.store.runs(1).await.unwrap()[0].status, "dry_run");
    let r = organize(db, defs("[[row]]\ntype = \"stock_universe\"\nname = \"Dow\"\nkey = \"index_dow30\"\nrule = { group = \"UNIVERSE:dow30\" }\n"), true, false).await;
    assert_eq!(r.totals.get("added"), Some(&1));
    assert!(cache(db, "stock_universe", "old_key").await.is_some(), "preserve keeps undefined rows");
    assert!(cache(db, "stock_etf_combo", "stock_etf_group").await.is_some());
}

/// Definition errors are reported with their line, and nothing is written.
async fn definition_errors(db: &TestDb) {
    let bad = |text: &str| match definitions::parse(&Input::from_bytes("defs.toml", text)) {
        Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
        Ok(_) => panic!("accepted: {text}"),
    };
    let p = bad("[[row]]\ntype = \"app_settings\"\nname = \"x\"\nkey = \"y\"\nrule = { list = [\"A\"] }\n");
    assert!(p[0].starts_with("defs.toml:2: field \"type\": type \"app_settings\""), "{p:?}");
    let p = bad("[[row]]\ntype = \"stock_universe\"\nname = \"x\"\nkey = \"y\"\n\nrule = { group = \"sp500\" }\n");
    assert!(p[0].starts_with("defs.toml:6: field \"rule\""), "{p:?}");
    let p = bad("[[row]]\ntype = \"stock_universe\"\nname = \"x\"\nkey = \"y\"\nrule = { nonsense = 1 }\n");
    assert!(p[0].starts_with("defs.toml:5:"), "{p:?}");
    let p = bad(
        "[[row]]\ntype = \"stock_universe\"\nname = \"x\"\nkey = \"y\"\nrule = { list = [\"A\"] }\n[[row]]\ntype = \"stock_universe\"\nname = \"x\"\nkey = \"y\"\nrule = { list = [\"B\"] }\n",
    );
    assert!(p[0].contains(":7:") && p[0].contains("defined twice (also line 2)"), "{p:?}");
    assert_eq!(db.store.count_rows("cache_entries").await.unwrap(), 0);
}

/// A reader running while replace runs again and again sees one complete set of rows or the other — never a
/// mix, never an empty table.
async fn replace_is_atomic(db: &TestDb) {
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\n")], Mode::Full).await;
    let set = |prefix: &str| {
        let mut t = String::new();
        for i in 0..15 {
            t.push_str(&format!("[[row]]\ntype = \"stock_universe\"\nname = \"n\"\nkey = \"{prefix}{i:02}\"\nrule = {{ group = \"UNIVERSE:dow30\" }}\n"));
        }
        t
    };
    let keys = |prefix: &str| (0..15).map(|i| format!("{prefix}{i:02}")).collect::<Vec<_>>();
    let (a, b) = (keys("a"), keys("b"));
    organize(db, defs(&set("a")), false, false).await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let writer = async {
        for i in 0..8 {
            organize(db, defs(&set(if i % 2 == 0 { "b" } else { "a" })), false, false).await;
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = async {
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || reads < 5 {
            let mut seen: Vec<String> = db
                .store
                .cache_rows(Environment::Default, &["stock_universe"])
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.2)
                .collect();
            seen.sort();
            assert!(seen == a || seen == b, "a reader saw a partial set: {seen:?}");
            reads += 1;
            tokio::task::yield_now().await;
        }
        reads
    };
    let ((), reads) = tokio::join!(writer, reader);
    assert!(reads >= 5);
}

/// With nothing it reads changed since its last run, organize reports that run's rows without building them —
/// the same report a full rebuild gives — and any write to what it reads, by anyone, makes it build again.
async fn unchanged_inputs(db: &TestDb) {
    seed(db).await;
    let first = organize(db, default_defs(), false, false).await;
    assert_eq!((first.status.as_str(), first.unchanged_since), ("applied", None));
    let rows = |r: &organize::OrganizeReport| {
        r.rows.iter().map(|r| (r.kind.clone(), r.key.clone(), r.action, r.before, r.after)).collect::<Vec<_>>()
    };
    let again = organize(db, default_defs(), false, false).await;
    assert_eq!((again.status.as_str(), again.unchanged_since), ("skipped", Some(first.run_id)));
    let forced = organize_with(db, default_defs(), false, false, true).await;
    assert_eq!((forced.status.as_str(), forced.unchanged_since), ("skipped", None));
    assert_eq!(rows(&again), rows(&forced));
    assert_eq!((&again.totals, &again.notes), (&forced.totals, &forced.notes));
    assert!(!again.notes.is_empty(), "the notes are reported too");
    // The skipped run is recorded, and the next one can start from it.
    assert_eq!(db.store.runs(1).await.unwrap()[0].status, "skipped");
    assert!(organize(db, default_defs(), false, false).await.unchanged_since.is_some());
    // Other definitions or another mode build.
    let one = "[[row]]\ntype = \"stock_universe\"\nname = \"Dow\"\nkey = \"index_dow30\"\nrule = { group = \"UNIVERSE:dow30\" }\n";
    assert_eq!(organize(db, defs(one), true, false).await.unchanged_since, None);

    // Writes made straight to the tables (as TickStock's own scripts do), each in its own transaction.
    let dow = |r: organize::OrganizeReport| {
        assert_eq!(r.unchanged_since, None, "built again");
        r.rows.into_iter().find(|r| r.key == "index_dow30").map(|r| (r.action, r.before, r.after))
    };
    organize(db, default_defs(), false, false).await;
    db.exec("DELETE FROM group_memberships WHERE symbol = 'JPM' AND group_id = (SELECT id FROM definition_groups WHERE name = 'dow30')").await;
    assert_eq!(dow(organize(db, default_defs(), false, false).await), Some((RowAction::Changed, Some(3), Some(2))));
    db.exec(
        "INSERT INTO group_memberships (group_id, symbol) SELECT id, 'XOM' FROM definition_groups WHERE name = 'dow30'",
    )
    .await;
    assert_eq!(dow(organize(db, default_defs(), false, false).await), Some((RowAction::Changed, Some(2), Some(3))));
    // A value rewritten with the same size and timestamp.
    db.exec("UPDATE cache_entries SET value = '[\"AAPL\", \"MSFT\", \"ZZZ\"]' WHERE type = 'stock_universe' AND key = 'index_dow30'").await;
    assert_eq!(dow(organize(db, default_defs(), false, false).await), Some((RowAction::Changed, Some(3), Some(3))));
    assert_eq!(cache(db, "stock_universe", "index_dow30").await, Some(json!(["AAPL", "MSFT", "XOM"])));
    db.exec("DELETE FROM cache_entries WHERE type = 'stock_universe' AND key = 'index_dow30'").await;
    assert_eq!(dow(organize(db, default_defs(), false, false).await), Some((RowAction::Added, None, Some(3))));
    db.exec("UPDATE symbols SET market_cap = 150000000 WHERE symbol = 'AAPL'").await;
    let r = organize(db, default_defs(), false, false).await;
    assert_eq!(r.unchanged_since, None);
    assert_eq!(cache(db, "stock_universe", "micro_cap").await.unwrap()["count"], 2, "AAPL is micro now");
    db.exec("UPDATE definition_groups SET name = 'dow' WHERE name = 'dow30'").await;
    assert_eq!(dow(organize(db, default_defs(), false, false).await), Some((RowAction::Removed, Some(3), None)));
    db.exec("DELETE FROM universe_cache_symbols").await;
    let r = organize(db, default_defs(), false, false).await;
    assert_eq!((r.status.as_str(), r.unchanged_since), ("skipped", None));
    assert!(db.store.count_rows("universe_cache_symbols").await.unwrap() > 0, "lists written again");
    // Preserve mode reports the rows it keeps, built or not.
    let p1 = organize(db, defs(one), true, false).await;
    let p2 = organize(db, defs(one), true, false).await;
    assert_eq!(p2.unchanged_since, Some(p1.run_id));
    let p3 = organize_with(db, defs(one), true, false, true).await;
    assert_eq!((rows(&p2), &p2.totals, &p2.notes), (rows(&p3), &p3.totals, &p3.notes));
    assert!(p2.totals.get("kept").copied().unwrap_or(0) > 10, "{:?}", p2.totals);
}

/// While organize builds, nobody else can write what it reads (TickStock's scripts, which do not take our lock,
/// included), so the fingerprint it records at the end is of the state it built from. Readers go on.
async fn build_holds_off_writers(db: &TestDb) {
    use sqlx::Connection;
    seed(db).await;
    let mut tx = db.store.begin_write().await.unwrap();
    tx.lock_organize_inputs().await.unwrap();
    let write = "UPDATE symbols SET name = 'x' WHERE symbol = 'AAPL'";
    let err = match &db.store {
        universe::store::Store::Postgres(_) => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("SET lock_timeout = '300ms'").execute(&mut c).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM symbols").fetch_one(&mut c).await.unwrap();
            assert!(n > 0, "reads go on");
            sqlx::query(write).execute(&mut c).await.unwrap_err().to_string()
        }
        universe::store::Store::Sqlite(_) => {
            use std::str::FromStr;
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                .unwrap()
                .busy_timeout(std::time::Duration::from_millis(300));
            let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM symbols").fetch_one(&mut c).await.unwrap();
            assert!(n > 0, "reads go on");
            sqlx::query(write).execute(&mut c).await.unwrap_err().to_string()
        }
    };
    assert!(err.contains("lock timeout") || err.contains("locked"), "{err}");
    tx.rollback().await.unwrap();
}

contract!(
    builds_the_rows,
    preserve_and_dry_run,
    definition_errors,
    replace_is_atomic,
    unchanged_inputs,
    build_holds_off_writers
);

/// Replace mode refuses to run unattended without --yes; nothing is written.
#[test]
fn replace_needs_yes_when_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("o.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &url, "organize"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --yes to confirm"));
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &url, "organize", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
