//! Incremental snapshot refresh (issue #15): after any sequence of loads, rollbacks and organize runs, the
//! snapshot built from the previous one and the change log equals one built from scratch — same groups, members,
//! weights, sectors, industries, symbol metadata, cache universes and entity tag.

use std::time::Duration;

use universe::cache::{self, RelationshipCache};
use universe::domain::Environment;
use universe::load::{self, LoadKind, Mode};

use crate::helpers::{Lcg, TestDb, contract};

contract!(
    incremental_refresh_equals_a_fresh_build,
    a_gap_in_the_change_log_rebuilds_in_full,
    a_full_mode_reload_rereads_rows_and_shares_members
);

const TICKERS: [&str; 24] = [
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "BRK.B", "JPM", "XOM", "CVX", "PFE", "LLY", "UNH", "V", "MA",
    "HD", "KO", "PEP", "WMT", "COST", "ZZA", "ZZB", "ZZC", "ZZD",
];
const ETFS: [&str; 5] = ["AAA", "BBB", "CCC", "DDD", "EEE"];
const SECTORS: [&str; 4] = ["Information Technology", "Energy", "Financials", "Health Care"];
const INDUSTRIES: [&str; 3] = ["Software", "Banks", "Oil & Gas"];

/// A random subset of the tickers (at least one).
fn some_tickers(rng: &mut Lcg) -> Vec<&'static str> {
    let picked: Vec<&str> = TICKERS.iter().copied().filter(|_| rng.below(3) == 0).collect();
    if picked.is_empty() { vec![TICKERS[rng.below(TICKERS.len())]] } else { picked }
}

/// One random change; returns what it was, for the failure message.
async fn random_change(db: &TestDb, rng: &mut Lcg, round: usize) -> String {
    match rng.below(9) {
        0..=2 => {
            // Holdings of one or two funds: members come and go, weights move.
            let mut files = Vec::new();
            for _ in 0..=rng.below(2) {
                let etf = ETFS[rng.below(ETFS.len())];
                let rows: String =
                    some_tickers(rng).iter().map(|t| format!("{t},{}.{}\n", rng.below(9), rng.below(100))).collect();
                files.push((format!("{etf}.csv"), format!("Symbol,Weight\n{rows}")));
            }
            files.sort();
            files.dedup_by(|a, b| a.0 == b.0);
            let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
            let prune = rng.below(4) == 0;
            db.load_with(LoadKind::Holdings, &files, Mode::Full, |r| r.prune = prune).await.expect("holdings load");
            format!("holdings {:?} prune {prune}", files.iter().map(|f| f.0).collect::<Vec<_>>())
        }
        3 => {
            let rows: String = some_tickers(rng)
                .iter()
                .map(|t| {
                    format!("{t},{},{}\n", SECTORS[rng.below(SECTORS.len())], INDUSTRIES[rng.below(INDUSTRIES.len())])
                })
                .collect();
            db.load_ok(LoadKind::Sectors, &[("sectors.csv", &format!("symbol,sector,industry\n{rows}"))], Mode::Full)
                .await;
            "sectors".to_string()
        }
        4 => {
            let rows: String = some_tickers(rng)
                .iter()
                .map(|t| format!("{t},{t} Inc {round},CS,XNAS,{}\n", 1_000_000 * (1 + rng.below(500))))
                .collect();
            let file = format!("symbol,name,type,exchange,market_cap\n{rows}");
            db.load_ok(LoadKind::Symbols, &[("symbols.csv", &file)], Mode::Full).await;
            "symbols".to_string()
        }
        5 => {
            let rows: String = some_tickers(rng).iter().map(|t| format!("{t}\n")).collect();
            let name = ["core.csv", "growth.csv"][rng.below(2)];
            db.load_ok(LoadKind::Universes, &[(name, &format!("Symbol\n{rows}"))], Mode::Full).await;
            format!("universe {name}")
        }
        6 => {
            // Undo the latest applied load, when it can be undone.
            let runs = db.store.runs(20).await.expect("runs");
            let last = runs.iter().find(|r| r.status == "applied" && r.kind != "organize");
            match last {
                Some(r) => match load::rollback(&db.store, r.id).await {
                    Ok(_) => format!("rollback of run {}", r.id),
                    Err(e) => format!("rollback of run {} refused: {e}", r.id),
                },
                None => "no rollback".to_string(),
            }
        }
        7 => {
            // Bars for a ticker nobody has seen give it a bare `symbols` row (no run is "applied").
            let ticker = format!("NEW{}", rng.below(6));
            let bar = universe::bars::Bar {
                symbol: universe::domain::Ticker::parse(&ticker).unwrap(),
                time: universe::bars::BarTime::Date(chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()),
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 100.0,
            };
            db.store.upsert_bars(universe::domain::Timeframe::Day, vec![bar]).await.expect("bars");
            format!("bars for {ticker}")
        }
        _ => {
            db.organize().await;
            "organize".to_string()
        }
    }
}

/// Asserts two canonical texts are equal, showing the first line that differs.
fn same(incremental: &str, fresh: &str, when: &str) {
    if let Some((a, b)) = incremental.lines().zip(fresh.lines()).find(|(a, b)| a != b) {
        panic!("{when}: the incremental snapshot differs from a fresh build\nincremental: {a}\nfresh:       {b}");
    }
    assert_eq!(incremental.lines().count(), fresh.lines().count(), "{when}: line counts differ");
}

async fn incremental_refresh_equals_a_fresh_build(db: &TestDb) {
    let env = Environment::Default;
    let cache = RelationshipCache::load(db.store.clone(), env).await.expect("first snapshot");
    let mut rng = Lcg(0x15_0001);
    let mut incremental = 0;
    for round in 0..80 {
        let what = random_change(db, &mut rng, round).await;
        let before = cache.snapshot().version;
        cache.refresh_if_stale(Duration::from_secs(3600)).await.expect("refresh");
        let next = cache.snapshot();
        if next.version != before {
            assert!(
                next.incremental,
                "round {round} ({what}): the version moved by one, so the refresh is incremental"
            );
            incremental += 1;
        }
        let fresh = cache::build(&db.store, env).await.expect("fresh build");
        assert!(!fresh.incremental);
        same(&next.canonical(), &fresh.canonical(), &format!("round {round}: after {what}"));
        assert_eq!(next.etag, fresh.etag, "round {round}: after {what}");
    }
    assert!(incremental >= 50, "most rounds changed something: {incremental}");
}

async fn a_gap_in_the_change_log_rebuilds_in_full(db: &TestDb) {
    let env = Environment::Default;
    let cache = RelationshipCache::load(db.store.clone(), env).await.expect("first snapshot");
    db.load_ok(LoadKind::Holdings, &[("AAA.csv", "Symbol,Weight\nAAPL,60\nMSFT,40\n")], Mode::Full).await;
    db.load_ok(LoadKind::Holdings, &[("BBB.csv", "Symbol,Weight\nNVDA,100\n")], Mode::Full).await;
    // One of the two versions is missing from the log (pruned, or written by an older build).
    db.exec("DELETE FROM universe_data_changes WHERE version = (SELECT MAX(version) FROM universe_data_changes)").await;
    cache.refresh_if_stale(Duration::from_secs(3600)).await.expect("refresh");
    let next = cache.snapshot();
    assert!(!next.incremental, "a gap means a full rebuild");
    same(&next.canonical(), &cache::build(&db.store, env).await.unwrap().canonical(), "after the gap");
    assert_eq!(next.counts().etfs, 2);
    // An unreadable log row is treated as a gap too, not as a refresh failure.
    db.load_ok(LoadKind::Holdings, &[("BBB.csv", "Symbol,Weight\nNVDA,60\nJPM,40\n")], Mode::Full).await;
    db.exec("UPDATE universe_data_changes SET touched = 'not json' WHERE version = (SELECT MAX(version) FROM universe_data_changes)")
        .await;
    cache.refresh_if_stale(Duration::from_secs(3600)).await.expect("an unreadable log row does not fail the refresh");
    assert!(!cache.snapshot().incremental);
    same(&cache.snapshot().canonical(), &cache::build(&db.store, env).await.unwrap().canonical(), "after a bad row");
    // The next change is logged again, and read incrementally.
    db.load_ok(LoadKind::Holdings, &[("AAA.csv", "Symbol,Weight\nAAPL,50\nXOM,50\n")], Mode::Full).await;
    cache.refresh_if_stale(Duration::from_secs(3600)).await.expect("refresh");
    let next = cache.snapshot();
    assert!(next.incremental);
    assert_eq!(next.reread.0, 1, "one group re-read");
    same(&next.canonical(), &cache::build(&db.store, env).await.unwrap().canonical(), "after the gap");
}

async fn a_full_mode_reload_rereads_rows_and_shares_members(db: &TestDb) {
    let env = Environment::Default;
    let files = [("AAA.csv", "Symbol,Weight\nAAPL,60\nMSFT,40\n"), ("BBB.csv", "Symbol,Weight\nNVDA,100\n")];
    db.load_ok(LoadKind::Holdings, &files, Mode::Full).await;
    let cache = RelationshipCache::load(db.store.clone(), env).await.expect("first snapshot");
    let before = cache.snapshot();
    // The same files again in full mode: every group row is restamped, no membership changes.
    db.load_ok(LoadKind::Holdings, &files, Mode::Full).await;
    cache.refresh_if_stale(Duration::from_secs(3600)).await.expect("refresh");
    let after = cache.snapshot();
    assert!(after.incremental);
    assert_eq!(after.reread, (2, 0), "two group rows re-read, no symbols");
    let aaa =
        |s: &universe::cache::Snapshot| s.group_named(universe::domain::GroupKind::Etf, "AAA").unwrap().members.clone();
    assert!(std::sync::Arc::ptr_eq(&aaa(&before), &aaa(&after)), "the members are shared, not re-read");
    same(&after.canonical(), &cache::build(&db.store, env).await.unwrap().canonical(), "after a full-mode reload");
}
