//! The daily sync from a ticker list: reference refresh, delistings leaving their groups with history closed,
//! the safety stop, dry run, idempotence and the change log, on both backends.

use universe::domain::{Environment, GroupKind, RunStatus};
use universe::load::{LoadKind, Mode};
use universe::sync::daily::{self, ListSource, SyncError, SyncMode, SyncReport, SyncRequest};

use crate::helpers::{TestDb, contract};

/// Writes `tickers.csv` into a folder of the test's temp dir and returns the folder.
pub(crate) fn list(db: &TestDb, name: &str, csv: &str) -> std::path::PathBuf {
    let dir = db.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tickers.csv"), csv).unwrap();
    dir
}

pub(crate) async fn sync(
    db: &TestDb,
    source: &std::path::Path,
    mode: SyncMode,
    force: bool,
    dry_run: bool,
) -> Result<SyncReport, SyncError> {
    sync_in(db, Environment::Default, source, mode, force, dry_run).await
}

async fn sync_in(
    db: &TestDb,
    environment: Environment,
    source: &std::path::Path,
    mode: SyncMode,
    force: bool,
    dry_run: bool,
) -> Result<SyncReport, SyncError> {
    let req =
        SyncRequest { force, dry_run, ..SyncRequest::new(environment, ListSource::Dir(source.to_path_buf()), mode) };
    daily::run(&db.store, &req).await
}

/// Twenty stocks, one ETF group and one universe holding some of them.
pub(crate) async fn seed(db: &TestDb) -> String {
    let mut csv = String::from("symbol,name,type,exchange\n");
    for i in 0..20 {
        csv.push_str(&format!("S{i:02},Stock {i},CS,XNAS\n"));
    }
    db.load_ok(LoadKind::Symbols, &[("symbols.csv", &csv)], Mode::Full).await;
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nS00\nS01\nS02\n")], Mode::Full).await;
    db.load_ok(LoadKind::Universes, &[("sp500.csv", "Symbol\nS01\nS03\n")], Mode::Full).await;
    db.organize().await;
    csv
}

/// A listed day: one IPO, one renamed stock, S01 gone: the new one is inserted, the name updated, S01
/// deactivated with the date and removed from both its groups with their intervals closed; `--as-of` before the
/// sync still has it. The same sync again changes nothing.
async fn reference_and_delistings(db: &TestDb) {
    let csv = seed(db).await;
    let next = csv.replace("S01,Stock 1,CS,XNAS\n", "").replace("Stock 5,", "Stock Five,") + "NEWCO,New Co,CS,XNYS\n";
    let dir = list(db, "day2", &next);
    let before = universe::store::now();
    let r = sync(db, &dir, SyncMode::Full, false, false).await.unwrap();
    assert_eq!((r.status, r.added, r.updated, r.delisted, r.memberships_closed), (RunStatus::Applied, 1, 1, 1, 2));
    let symbols = db.store.symbols().await.unwrap();
    assert_eq!(symbols["S01"].active, Some(false));
    assert_eq!(symbols["S05"].name.as_deref(), Some("Stock Five"));
    assert_eq!(symbols["NEWCO"].active, Some(true));
    assert_eq!(db.symbols_of(GroupKind::Etf, "SPY").await, ["S00", "S02"]);
    assert_eq!(db.symbols_of(GroupKind::Universe, "sp500").await, ["S03"]);
    // NEWCO, a new stock of no known sector or cap, is assigned by the fallback rule.
    assert_eq!(r.ipos, 1);
    assert_eq!(db.symbols_of(GroupKind::Universe, "small_cap_general").await, ["NEWCO"]);
    assert_eq!(db.open_intervals().await, 4, "S01's two intervals closed, NEWCO's opened");
    let past = db.store.group_symbols_as_of(Environment::Default, GroupKind::Etf, "SPY", before).await.unwrap();
    assert!(past.iter().any(|m| m == "S01"), "{past:?}");

    // The log answers "why did S01 leave SPY?".
    let log = db.store.sync_changes(None, Some("S01"), 10).await.unwrap();
    let lines: Vec<(String, Option<String>, String)> =
        log.iter().map(|c| (c.change_type.clone(), c.universe.clone(), c.action.clone())).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.contains(&("delisting".into(), Some("ETF:SPY".into()), "removed".into())), "{lines:?}");
    assert!(log.iter().all(|c| c.run_id == Some(r.run_id)));

    let again = sync(db, &dir, SyncMode::Full, false, false).await.unwrap();
    assert_eq!((again.status, again.changes.len()), (RunStatus::Skipped, 0));

    // The sync recorded what it touched: rolling back the universe load it changed afterwards is refused.
    let universes_run = db.store.runs(20).await.unwrap().into_iter().find(|r| r.kind == "universes").unwrap().id;
    match universe::load::rollback(&db.store, universes_run).await {
        Err(universe::load::LoadError::Refused(why)) => assert!(why.contains(&r.run_id.to_string()), "{why}"),
        other => panic!("{other:?}"),
    }

    // Listed again: active, the delisting date cleared, and logged.
    let back = list(db, "day3", &(next + "S01,Stock 1,CS,XNAS\n"));
    let r = sync(db, &back, SyncMode::Full, false, false).await.unwrap();
    assert_eq!((r.relisted, r.added, r.delisted), (1, 0, 0));
    assert_eq!(db.store.symbols().await.unwrap()["S01"].active, Some(true));
    let last = &db.store.sync_changes(None, Some("S01"), 1).await.unwrap()[0];
    assert_eq!((last.action.as_str(), last.reason.as_deref()), ("reactivated", Some("listed again")));
}

/// A list missing more than 5 % of the active symbols is refused and recorded as failed; `--force` applies it.
/// A dry run reports the changes and writes nothing but its run.
async fn safety_stop_and_dry_run(db: &TestDb) {
    seed(db).await;
    let dir = list(db, "short", "symbol,name,type\nS00,Stock 0,CS\nS02,Stock 2,CS\n");
    let before = db.state().await;
    match sync(db, &dir, SyncMode::Delistings, false, false).await {
        Err(SyncError::TooManyDelistings { delisted: 18, active: 20 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(db.state().await, before, "nothing written");
    let run = &db.store.runs(1).await.unwrap()[0];
    assert_eq!((run.kind.as_str(), run.status.as_str()), ("sync", "failed"));
    assert!(run.error.as_deref().unwrap().contains("--force"));

    let dry = sync(db, &dir, SyncMode::Delistings, true, true).await.unwrap();
    assert_eq!((dry.status, dry.delisted), (RunStatus::DryRun, 18));
    assert_eq!(db.state().await, before, "a dry run writes nothing");
    assert!(db.store.sync_changes(None, None, 10).await.unwrap().is_empty());

    let forced = sync(db, &dir, SyncMode::Delistings, true, false).await.unwrap();
    assert_eq!((forced.status, forced.delisted, forced.added), (RunStatus::Applied, 18, 0));
    assert_eq!(db.symbols_of(GroupKind::Etf, "SPY").await, ["S00", "S02"]);
}

/// A list without types delists nothing (it cannot say which stored symbols it covers), and neither does any
/// list delist untyped rows (bars create them). A symbol another environment's sync delisted still leaves this
/// environment's groups when this one syncs.
async fn coverage_and_environments(db: &TestDb) {
    let csv = seed(db).await;
    db.exec("INSERT INTO symbols (symbol) VALUES ('BARE')").await;
    let untyped = list(db, "untyped", "symbol,name\nS00,Stock 0\n");
    let r = sync(db, &untyped, SyncMode::Delistings, true, false).await.unwrap();
    assert_eq!((r.status, r.delisted), (RunStatus::Skipped, 0));
    // S02 is in SPY in both environments.
    db.load_with(LoadKind::Holdings, &[("spy.csv", "Symbol\nS02\nS04\n")], Mode::Full, |r| {
        r.environment = Environment::Test
    })
    .await
    .unwrap();
    let without_s02 = list(db, "day2", &csv.replace("S02,Stock 2,CS,XNAS\n", ""));
    let r = sync(db, &without_s02, SyncMode::Full, false, false).await.unwrap();
    assert_eq!((r.delisted, r.memberships_closed), (1, 1), "{:?}", r.changes);
    assert_eq!(db.store.symbols().await.unwrap()["BARE"].active, Some(true), "untyped rows are not the list's");
    let test = sync_in(db, Environment::Test, &without_s02, SyncMode::Full, false, false).await.unwrap();
    assert_eq!((test.delisted, test.memberships_closed), (0, 1), "{:?}", test.changes);
    let spy = db.store.groups_with_members(Environment::Test, GroupKind::Etf).await.unwrap();
    let members: Vec<String> = spy[0].members.keys().map(ToString::to_string).collect();
    assert_eq!(members, ["S04"]);
}

/// A bad list names file, line and field, and changes nothing.
async fn bad_list(db: &TestDb) {
    seed(db).await;
    let dir = list(db, "bad", "symbol,name\nS00,Stock 0\nAB$C,Bad\n");
    let before = db.state().await;
    match sync(db, &dir, SyncMode::Full, false, false).await {
        Err(SyncError::Invalid(problems)) => {
            let text = problems[0].to_string();
            assert!(text.contains("tickers.csv:3: field \"symbol\""), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.state().await, before);
}

/// Market caps: the last close × shares outstanding (the list's, else the stored); a band crossing is logged as a
/// move; a symbol without a close keeps its cap; the same sync again changes nothing.
async fn market_caps(db: &TestDb) {
    let symbols = "symbol,name,type,market_cap,shares_outstanding\n\
        BIG,Big Co,CS,9500000000,100000000\n\
        MID,Mid Co,CS,3000000000,50000000\n\
        NOBARS,No Bars,CS,700000000,10000000\n";
    db.load_ok(LoadKind::Symbols, &[("symbols.csv", symbols)], Mode::Full).await;
    // BIG's last close is 101 (its older 90 is not the last); MID's 61.
    db.exec(
        "INSERT INTO ohlcv_daily (symbol, date, open, high, low, close, volume) VALUES \
         ('BIG', '2026-11-27', 90, 90, 90, 90, 1), ('BIG', '2026-11-30', 101, 101, 101, 101, 1), \
         ('MID', '2026-11-30', 61, 61, 61, 61, 1)",
    )
    .await;
    // The list gives MID a new share count.
    let dir = list(db, "caps", "symbol,type,shares_outstanding\nBIG,CS,\nMID,CS,40000000\nNOBARS,CS,\n");
    let r = sync(db, &dir, SyncMode::MarketCap, false, false).await.unwrap();
    assert_eq!((r.status, r.market_caps, r.steps.clone()), (RunStatus::Applied, 2, vec!["market_cap", "cache"]));
    let stored = db.store.symbols().await.unwrap();
    assert_eq!(stored["BIG"].market_cap, Some(10_100_000_000));
    assert_eq!((stored["MID"].market_cap, stored["MID"].shares_outstanding), (Some(2_440_000_000), Some(40_000_000)));
    assert_eq!(stored["NOBARS"].market_cap, Some(700_000_000));
    let moves: Vec<(Option<String>, String)> = r
        .changes
        .iter()
        .filter(|c| c.change_type == "market_cap")
        .map(|c| (c.symbol.clone(), c.reason.clone()))
        .collect();
    assert_eq!(moves, [(Some("BIG".into()), "mid_cap → large_cap (9.50 B → 10.10 B)".into())]);
    assert_eq!(r.changes[0].universe.as_deref(), Some("large_cap"));
    // The band rows moved with it, and the log says so.
    let cache: Vec<&str> =
        r.changes.iter().filter(|c| c.change_type == "cache").filter_map(|c| c.universe.as_deref()).collect();
    assert!(cache.contains(&"large_cap") && cache.contains(&"mid_cap"), "{cache:?}");
    assert_eq!(db.cache_symbols("stock_universe", "large_cap").await, ["BIG"]);
    let again = sync(db, &dir, SyncMode::MarketCap, false, false).await.unwrap();
    assert_eq!((again.status, again.market_caps), (RunStatus::Skipped, 0));
}

/// The list can come from Massive's reference tickers (every page, active stocks and funds): new tickers are
/// inserted and a stored one the list lacks is delisted.
async fn list_from_massive(db: &TestDb) {
    use chrono::TimeZone;
    use wiremock::matchers::{path, query_param};
    use wiremock::{Mock, MockServer};
    let symbols = "symbol,name,type,shares_outstanding\nA,Agilent,CS,280000000\nGONE,Gone Inc,CS,\n";
    db.load_ok(LoadKind::Symbols, &[("symbols.csv", symbols)], Mode::Full).await;
    let server = MockServer::start().await;
    // The last session's closes are missing: the sync fetches that one grouped-daily day (the real fixture's
    // bar, moved to A and to that session).
    let day = universe::bars::calendar::last_completed_session(universe::store::now());
    let mut grouped: serde_json::Value =
        serde_json::from_str(&crate::market::fixture("grouped_daily_stocks_2005-04-04.json")).unwrap();
    let noon = chrono_tz::America::New_York
        .from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .timestamp_millis();
    grouped["results"][0]["T"] = "A".into();
    grouped["results"][0]["t"] = noon.into();
    let close = grouped["results"][0]["c"].as_f64().unwrap();
    Mock::given(path(format!("/v2/aggs/grouped/locale/us/market/stocks/{day}")))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(&grouped))
        .expect(1)
        .mount(&server)
        .await;
    let page =
        |f: &str| wiremock::ResponseTemplate::new(200).set_body_raw(crate::market::fixture(f), "application/json");
    Mock::given(path("/v3/reference/tickers"))
        .and(query_param("market", "stocks"))
        .and(query_param("active", "true"))
        .respond_with(page("tickers_list_page1_with_next_url.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers"))
        .and(query_param("cursor", "YWN0aXZlPXRydWUmZGF0ZT0yMDIyLTA0LTI3JmxpbWl0PTImb3JkZXI9YXNjJnBhZ2VfbWFya2VyPUFBJTdDZjEyMmJjYmY4YWQwNzRmZmJlMTZmNjkxOWQ0ZDc3NjZlMzA3MWNmNmU1Nzg3OGE0OGU1NjQ1YzQyM2U3NzJhOSZzb3J0PXRpY2tlcg"))
        .respond_with(page("tickers_list_page2_last_page.json"))
        .expect(1)
        .mount(&server)
        .await;
    let source = ListSource::Massive(Box::new(crate::market::client(&server)));
    let req = SyncRequest { force: true, ..SyncRequest::new(Environment::Default, source, SyncMode::Full) };
    let r = daily::run(&db.store, &req).await.unwrap();
    assert_eq!((r.listed, r.added, r.delisted), (4, 3, 1), "{:?}", r.changes);
    let symbols = db.store.symbols().await.unwrap();
    assert_eq!(symbols["GONE"].active, Some(false));
    assert_eq!(symbols["AAA"].kind.as_deref(), Some("ETF"));
    assert_eq!(symbols["A"].active, Some(true));
    assert_eq!(r.closes_fetched, Some(day));
    assert_eq!(symbols["A"].market_cap, Some((close * 280_000_000.0).round() as i64), "the fetched close × shares");
}

contract!(
    coverage_and_environments,
    list_from_massive,
    market_caps,
    reference_and_delistings,
    safety_stop_and_dry_run,
    bad_list,
    ipos_and_themes,
    dry_run_is_exact,
    tickstock_keys_after_a_sync
);

/// IPOs and rule-based themes: new stocks no universe holds join the groups their sector's rule names (created
/// when missing) or the fallback by cap, each assignment logged with its band and announced on Redis; a theme
/// defined by a rule gains the stock whose cap crossed its floor and loses the one that fell below, a hand-made
/// theme is left alone; the cache rows follow in the same transaction. The same sync again changes nothing.
async fn ipos_and_themes(db: &TestDb) {
    use futures_util::StreamExt;
    let symbols = "symbol,name,type,sector,industry,market_cap,shares_outstanding,list_date\n\
        CHIPA,Chip A,CS,Information Technology,Semiconductors,50000000000,1000000000,2001-01-01\n\
        CHIPB,Chip B,CS,Information Technology,Semiconductors,1000000000,100000000,2001-01-01\n\
        CHIPC,Chip C,CS,Information Technology,Semiconductor Equipment,2500000000,100000000,2001-01-01\n\
        CURE,Cure Co,CS,Health Care,Biotechnology,3000000000,100000000,2001-01-01\n";
    db.load_ok(LoadKind::Symbols, &[("symbols.csv", symbols)], Mode::Full).await;
    db.load_ok(LoadKind::Universes, &[("sp500.csv", "Symbol\nCHIPA\nCHIPB\nCHIPC\nCURE\n")], Mode::Full).await;
    let themes = "[[theme]]\nkey = \"chips\"\nname = \"Chips\"\n\
        rule = { industries = [\"semiconductor\"], min_market_cap = 2e9 }\n\
        [[theme]]\nkey = \"hand_made\"\nname = \"Hand made\"\nmembers = [\"CHIPB\"]\n";
    db.load_ok(LoadKind::Themes, &[("themes.toml", themes)], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Theme, "chips").await, ["CHIPA", "CHIPC"], "the rule, evaluated at load");
    db.organize().await;
    // Today's closes: CHIPB rises to 3 B (crosses the theme's floor), CHIPC falls to 1.5 B.
    db.exec(
        "INSERT INTO ohlcv_daily (symbol, date, open, high, low, close, volume) VALUES \
         ('CHIPB', '2026-11-30', 30, 30, 30, 30, 1), ('CHIPC', '2026-11-30', 15, 15, 15, 15, 1)",
    )
    .await;
    // A bare row a bar load created: the list is the first to describe it, so it counts as a new listing.
    db.exec("INSERT INTO symbols (symbol) VALUES ('BARED')").await;
    let today = universe::store::now().date_naive();
    let day2 = format!(
        "{}NEWT,New Tech,CS,Information Technology,Software,20000000000,,{today}\n\
         NEWS,New Something,CS,,,2000000000,,{today}\nNEWF,New Fund,ETF,,,,,{today}\nBARED,Bared Co,CS,,,,,\n",
        symbols.split_once('\n').map(|(h, rest)| format!("{h}\n{rest}")).unwrap()
    );
    let dir = list(db, "day2", &day2);
    let redis = crate::redis_jobs::RedisServer::start().await;
    let mut sub = redis::Client::open(redis.url.as_str()).unwrap().get_async_pubsub().await.unwrap();
    sub.subscribe(universe::sync::events::channels::IPO_ASSIGNMENT).await.unwrap();
    let bus =
        universe::jobs::redis::RedisBus::connect(&redis.url, db.store.database_id().await.unwrap()).await.unwrap();
    let req = SyncRequest::new(Environment::Default, ListSource::Dir(dir.clone()), SyncMode::Full);
    let result = daily::run(&db.store, &req).await;
    universe::sync::events::publish_completed(&bus, "job-2", &req, &result, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    let r = result.unwrap();
    assert_eq!((r.status, r.added, r.ipos, r.theme_changes), (RunStatus::Applied, 3, 3, 2), "{:#?}", r.changes);
    assert_eq!(db.symbols_of(GroupKind::Universe, "small_cap_general").await, ["BARED"], "no sector, no cap");
    assert_eq!(db.symbols_of(GroupKind::Universe, "tech_growth").await, ["NEWT"]);
    assert_eq!(db.symbols_of(GroupKind::Universe, "high_growth").await, ["NEWT"]);
    assert_eq!(db.symbols_of(GroupKind::Universe, "general_market").await, ["NEWS"], "no sector, 2 B ≥ 1 B");
    assert_eq!(db.symbols_of(GroupKind::Theme, "chips").await, ["CHIPA", "CHIPB"]);
    assert_eq!(db.symbols_of(GroupKind::Theme, "hand_made").await, ["CHIPB"]);
    let ipo: Vec<(String, Option<String>, Option<String>)> = r
        .changes
        .iter()
        .filter(|c| c.change_type.starts_with("ipo") && c.symbol.as_deref() != Some("BARED"))
        .map(|c| (c.change_type.clone(), c.symbol.clone(), c.universe.clone()))
        .collect();
    let owned = |t: &str, s: &str, u: &str| (t.to_string(), Some(s.to_string()), Some(u.to_string()));
    assert_eq!(
        ipo,
        [
            owned("ipo", "NEWS", "UNIVERSE:general_market"),
            owned("ipo_band", "NEWS", "mid_cap"),
            owned("ipo", "NEWT", "UNIVERSE:tech_growth"),
            owned("ipo", "NEWT", "UNIVERSE:high_growth"),
            owned("ipo_band", "NEWT", "large_cap"),
        ]
    );
    // The cache rows moved with the groups: the theme's row and the band rows.
    let theme_row = db.cache_symbols("stock_universe", "theme_chips").await;
    assert_eq!(theme_row, ["CHIPA", "CHIPB"]);
    assert!(db.cache_symbols("stock_universe", "large_cap").await.contains(&"NEWT".to_string()));
    assert!(r.universes_updated.contains(&"THEME:chips".to_string()), "{:?}", r.universes_updated);
    let mut messages = sub.on_message();
    let mut announced = Vec::new();
    while announced.len() < 4 {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), messages.next()).await.unwrap().unwrap();
        let body: serde_json::Value = serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap();
        assert_eq!(body["event"], "ipo_assignment");
        announced.push((
            body["payload"]["symbol"].as_str().unwrap().to_string(),
            body["payload"]["universe"].as_str().unwrap().to_string(),
        ));
    }
    let expected =
        [("BARED", "small_cap_general"), ("NEWS", "general_market"), ("NEWT", "tech_growth"), ("NEWT", "high_growth")];
    assert_eq!(announced, expected.map(|(a, b)| (a.to_string(), b.to_string())));

    let again = daily::run(&db.store, &SyncRequest::new(Environment::Default, ListSource::Dir(dir), SyncMode::Full))
        .await
        .unwrap();
    assert_eq!((again.status, again.changes.len(), again.ipos), (RunStatus::Skipped, 0, 0), "{:#?}", again.changes);
}

/// A dry run does everything a run would, the cache rebuild included, then rolls it back: what it reports is
/// exact, and nothing but its run record is written.
async fn dry_run_is_exact(db: &TestDb) {
    let csv = seed(db).await;
    let dir = list(db, "day2", &(csv.replace("S01,Stock 1,CS,XNAS\n", "") + "NEWCO,New Co,CS,XNYS\n"));
    let before = db.state().await;
    let dry = sync(db, &dir, SyncMode::Full, false, true).await.unwrap();
    assert_eq!((dry.status, dry.delisted, dry.ipos), (RunStatus::DryRun, 1, 1));
    assert!(dry.cache.get("changed").copied().unwrap_or(0) > 0, "{:?}", dry.cache);
    assert_eq!(db.state().await, before, "a dry run writes nothing");
    let real = sync(db, &dir, SyncMode::Full, false, false).await.unwrap();
    assert_eq!(
        (real.changes.len(), real.cache.clone(), real.universes_updated.clone()),
        (dry.changes.len(), dry.cache, dry.universes_updated)
    );
}

/// Every `cache_entries` key TickStock's seeds and readers name (compat §5.2, §5.4) exists after a sync of the
/// sample's next day. The sample has no market caps, so the test first gives its stocks synthetic ones (falling
/// from 3 T by rank, down to micro caps) for the bands, leaders and rankings. The Russell 3000 row alone is
/// missing: the sample has no Russell 3000 universe.
async fn tickstock_keys_after_a_sync(db: &TestDb) {
    db.seed_sample().await;
    let stocks: Vec<String> = {
        let mut s: Vec<_> =
            db.store.symbols().await.unwrap().into_values().filter(|r| r.kind.as_deref() == Some("CS")).collect();
        s.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        s.into_iter().map(|r| r.symbol).collect()
    };
    let mut caps = String::from("symbol,market_cap\n");
    for (i, s) in stocks.iter().enumerate() {
        caps.push_str(&format!("{s},{}\n", (3.0e12 / (1.0 + i as f64).powf(1.9)).round() as i64 + 60_000_000));
    }
    db.load_ok(LoadKind::Symbols, &[("caps.csv", &caps)], Mode::Full).await;
    let req =
        SyncRequest::new(Environment::Default, ListSource::Input(universe::sample::next_day_list()), SyncMode::Full);
    let r = daily::run(&db.store, &req).await.unwrap();
    assert_eq!((r.status, r.delisted, r.ipos), (RunStatus::Applied, 13, 1));
    let rows = db.store.cache_rows(Environment::Default, &universe::organize::MANAGED_TYPES).await.unwrap();
    let have: std::collections::BTreeSet<(String, String)> = rows.iter().map(|r| (r.0.clone(), r.2.clone())).collect();
    let key = |t: &str, k: &str| (t.to_string(), k.to_string());
    let mut want = Vec::new();
    for k in [
        "mega_cap",
        "large_cap",
        "mid_cap",
        "small_cap",
        "micro_cap",
        "top_10_stocks",
        "top_50",
        "top_100",
        "top_250",
        "top_500",
        "banks",
        "insurance",
        "software",
        "retail",
        "top_1000",
        "all_stocks",
        "master_all_stocks",
        "index_sp500",
        "index_nasdaq100",
        "index_dow30",
        "theme_dividend",
        "theme_growth",
        "theme_value",
        "theme_crypto",
        "theme_bitcoin_miners",
        "theme_robotics",
        "theme_drones",
    ] {
        want.push(key("stock_universe", k));
    }
    for s in [
        "consumer_staples",
        "real_estate",
        "healthcare",
        "energy",
        "industrials",
        "materials",
        "utilities",
        "consumer_discretionary",
        "financial_services",
        "technology",
        "communication_services",
    ] {
        want.push(key("stock_universe", &format!("top_10_{s}")));
    }
    for s in [
        "technology",
        "healthcare",
        "financials",
        "consumer_discretionary",
        "communication_services",
        "industrials",
        "consumer_staples",
        "energy",
        "utilities",
        "real_estate",
        "materials",
    ] {
        want.push(key("stock_universe", &format!("sector_{s}")));
    }
    for c in ["broad_market", "growth", "value", "technology", "bonds", "international", "factor", "all", "commodities"]
    {
        want.push(key("etf_universe", &format!("etf_{c}")));
        want.push(key("etf_universe", &format!("etf_{c}_detailed")));
    }
    for k in [
        "top_100",
        "all_etfs",
        "master_all_etfs",
        "index_broad_market",
        "sector_sector_etfs",
        "sector_bonds",
        "sector_international",
        "equal_weighted_market",
        "industry_semiconductors",
        "industry_biotech",
        "industry_reits",
        "industry_defense",
        "theme_growth_value",
        "theme_crypto",
        "theme_robotics",
        "theme_drones",
        "theme_ai",
        "theme_clean_energy",
    ] {
        want.push(key("etf_universe", k));
    }
    want.push(key("stock_stats", "summary"));
    let themes = db.store.groups_with_members(Environment::Default, GroupKind::Theme).await.unwrap();
    assert_eq!(themes.len(), 20);
    for g in &themes {
        want.push(key("stock_universe", g.name.as_str()));
        // One `themes` row per theme, named by its display name, key `list`.
        let named = rows.iter().any(|r| r.0 == "themes" && r.2 == "list" && Some(&r.1) == g.description.as_ref());
        assert!(named, "no themes row for {}", g.name);
    }
    let missing: Vec<&(String, String)> = want.iter().filter(|k| !have.contains(*k)).collect();
    assert!(missing.is_empty(), "missing keys: {missing:?}");
    assert!(!have.contains(&key("stock_universe", "index_russell3000")), "the sample has no Russell 3000");
    // The band rows hold what their names say, and the delisted companies left every row.
    let mega = db.cache_symbols("stock_universe", "mega_cap").await;
    assert!(!mega.is_empty() && db.cache_symbols("stock_universe", "micro_cap").await.len() > 1);
    for row in &rows {
        let symbols = row.3.as_ref().and_then(universe::universes::cache_value_symbols).unwrap_or_default();
        assert!(
            !symbols.iter().any(|s| s == "HOLX" || s == "CTRA"),
            "{}/{} still lists a delisted symbol",
            row.0,
            row.2
        );
    }
}
