//! Index history (issue #17): the shared point-in-time S&P 500, 400 and 600 files load into membership intervals,
//! and `as_of` answers match the rule — the seed roster with every event dated on or before the day applied in
//! file order — computed here independently, on 210 dates per index; reloading changes nothing, a newer changes
//! file adds only its events, bad files write nothing, and a disagreement with the constituents file is reported.

use std::collections::BTreeSet;

use universe::domain::{Environment, GroupKind, GroupName, RunStatus};
use universe::load::{EventsRequest, Input, LoadError, LoadKind, Mode, load_events};

use crate::helpers::{TestDb, contract};

fn day(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn pit(file: &str) -> Input {
    let path = format!("{}/../shared/data/pit/{file}", env!("CARGO_MANIFEST_DIR"));
    Input::read(std::path::Path::new(&path), 64 << 20).unwrap()
}

fn request(index: &str, changes: Input) -> EventsRequest {
    EventsRequest {
        seed: pit(&format!("{index}_seed.csv")),
        changes,
        name: GroupName::parse(GroupKind::Universe, index).unwrap(),
        environment: Environment::Default,
        dry_run: false,
    }
}

/// The rule, by hand: the seed's tickers, then each change dated on or before `day`, in file order.
fn reference(seed: &Input, changes: &Input, day: chrono::NaiveDate) -> BTreeSet<String> {
    let text = |i: &Input| String::from_utf8(i.bytes.clone()).unwrap();
    let mut members: BTreeSet<String> =
        text(seed).lines().skip(1).map(|l| l.split(',').nth(1).unwrap().to_string()).collect();
    for line in text(changes).lines().skip(1) {
        let mut f = line.splitn(4, ',');
        let (date, action, ticker) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap() > day {
            break;
        }
        // The S&P 400 file's two scraping artifacts (a wiki template and a sector name) are not tickers.
        if ticker.starts_with("TEMPLATE:") || ticker == "INDUSTRIALS" {
            continue;
        }
        match action {
            "added" => members.insert(ticker.to_string()),
            _ => members.remove(ticker),
        };
    }
    members
}

async fn as_of(db: &TestDb, index: &str, day: chrono::NaiveDate) -> BTreeSet<String> {
    let at = day.and_hms_opt(23, 59, 59).unwrap().and_utc();
    db.store
        .group_symbols_as_of(Environment::Default, GroupKind::Universe, index, at)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// The three shared histories load; `as_of` on 210 dates spread over each history equals the rule; Lehman
/// Brothers is a member on 2008-09-12 and not on 2008-09-16; loading the same files again changes nothing.
async fn pit_histories_answer_as_of(db: &TestDb) {
    for index in ["sp500", "sp400", "sp600"] {
        let changes = pit(&format!("{index}_changes.csv"));
        let r = load_events(&db.store, &request(index, changes.clone())).await.unwrap();
        let lines = String::from_utf8(changes.bytes.clone()).unwrap().lines().count() - 1;
        assert_eq!((r.status, r.events + r.skipped.len()), (RunStatus::Applied, lines), "{index}");
        let skipped: Vec<u64> = r.skipped.iter().filter_map(|p| p.line).collect();
        assert_eq!(skipped, if index == "sp400" { vec![748, 798, 936, 948] } else { vec![] }, "{index}");
        assert_eq!(r.intervals_added, r.intervals);
        let seed = pit(&format!("{index}_seed.csv"));
        let span = (r.end - r.start).num_days();
        for k in 0..210 {
            let day = r.start + chrono::Duration::days(span * k / 209);
            assert_eq!(as_of(db, index, day).await, reference(&seed, &changes, day), "{index} on {day}");
        }
        let members: BTreeSet<String> = db.symbols_of(GroupKind::Universe, index).await.into_iter().collect();
        assert_eq!(members, reference(&seed, &changes, r.end), "{index}: the members are the last roster");
        let again = load_events(&db.store, &request(index, changes)).await.unwrap();
        assert_eq!((again.status, again.intervals_added, again.intervals_removed), (RunStatus::Skipped, 0, 0));
    }
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    assert!(as_of(db, "sp500", day("2008-09-12")).await.contains("LEH"));
    // The file's ticker changes become securities: FB until 2022-06-09, META from then; the seed-day correction
    // LEHMQ → LEH is no ticker change.
    let aliases = db.store.aliases().await.unwrap();
    let fb = aliases.iter().find(|a| a.symbol == "FB").expect("FB is an alias");
    let meta: Vec<_> = aliases.iter().filter(|a| a.security_id == fb.security_id).map(|a| a.symbol.as_str()).collect();
    assert_eq!(meta, ["FB", "META"]);
    assert_eq!(fb.valid_to, Some(day("2022-06-09")));
    assert!(!aliases.iter().any(|a| a.symbol == "LEHMQ"), "{aliases:?}");
    assert!(!as_of(db, "sp500", day("2008-09-16")).await.contains("LEH"));
}

/// A changes file that grew loads only its new events: the intervals already stored stay (same ids), the ones
/// the new events closed or opened are written.
async fn newer_changes_add_only_new_events(db: &TestDb) {
    let full = pit("sp500_changes.csv");
    let text = String::from_utf8(full.bytes.clone()).unwrap();
    let early: String = text.lines().take(601).map(|l| format!("{l}\n")).collect();
    let first = load_events(&db.store, &request("sp500", Input::from_bytes("sp500_changes.csv", early))).await.unwrap();
    assert_eq!(first.events, 600);
    let ids_before: BTreeSet<i64> = history_ids(db).await;
    let second = load_events(&db.store, &request("sp500", full.clone())).await.unwrap();
    assert_eq!((second.status, second.events), (RunStatus::Applied, 1026));
    let ids_after = history_ids(db).await;
    assert_eq!(ids_before.intersection(&ids_after).count(), first.intervals - second.intervals_removed);
    assert_eq!(ids_after.len(), second.intervals);
    assert!(second.intervals_added < second.intervals / 2, "{} of {}", second.intervals_added, second.intervals);
    let seed = pit("sp500_seed.csv");
    let day = chrono::NaiveDate::from_ymd_opt(2020, 3, 20).unwrap();
    assert_eq!(as_of(db, "sp500", day).await, reference(&seed, &full, day));
}

async fn history_ids(db: &TestDb) -> BTreeSet<i64> {
    let sql = "SELECT id FROM membership_history WHERE group_name = 'sp500'";
    let ids: Vec<i64> = match &db.store {
        universe::store::Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        universe::store::Store::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    };
    ids.into_iter().collect()
}

/// Bad files: every problem names its file, line and field, and nothing is written.
async fn bad_history_writes_nothing(db: &TestDb) {
    let before = db.state().await;
    let changes = Input::from_bytes(
        "changes.csv",
        "date,action,ticker,name,reason\n2005-01-03,removed,NOPE,,\n2005-01-04,added,AAPL,,\n2004-01-01,added,ZZZ,,\n",
    );
    match load_events(&db.store, &request("sp500", changes)).await {
        Err(LoadError::Invalid { problems, .. }) => {
            let got: Vec<(&str, Option<u64>, Option<&str>)> =
                problems.iter().map(|p| (p.file.as_str(), p.line, p.field.as_deref())).collect();
            assert_eq!(
                got,
                [
                    ("changes.csv", Some(2), Some("action")),
                    ("changes.csv", Some(3), Some("action")),
                    ("changes.csv", Some(4), Some("date"))
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.state().await, before);
}

/// Events onto a group loaded from a constituents file: where the two disagree is reported, and the members
/// become the history's last roster.
async fn disagreement_with_constituents_is_reported(db: &TestDb) {
    let constituents = include_str!("../../data/sample/universes/sp500.csv");
    db.load_ok(LoadKind::Universes, &[("sp500.csv", constituents)], Mode::Full).await;
    let before: BTreeSet<String> = db.symbols_of(GroupKind::Universe, "sp500").await.into_iter().collect();
    let changes = pit("sp500_changes.csv");
    let r = load_events(&db.store, &request("sp500", changes.clone())).await.unwrap();
    let roster = reference(&pit("sp500_seed.csv"), &changes, r.end);
    let only_members: Vec<String> = before.difference(&roster).cloned().collect();
    let only_roster: Vec<String> = roster.difference(&before).cloned().collect();
    assert_eq!((r.only_in_members.clone(), r.only_in_roster.clone()), (only_members, only_roster));
    assert!(!r.only_in_members.is_empty() || !r.only_in_roster.is_empty(), "the two files differ somewhere");
    let after: BTreeSet<String> = db.symbols_of(GroupKind::Universe, "sp500").await.into_iter().collect();
    assert_eq!(after, roster);
}

/// The universe algebra over history and today: who has left the S&P 500 since Lehman's last day, intersections
/// with sectors, a day before the history is an error saying where it starts, and a cache row has no history.
async fn algebra_over_history(db: &TestDb) {
    db.seed_sample().await;
    let changes = pit("sp500_changes.csv");
    load_events(&db.store, &request("sp500", changes.clone())).await.unwrap();
    let resolve = |k: &'static str| universe::universes::resolve(&db.store, Environment::Default, k);
    let left: BTreeSet<String> = resolve("sp500@2008-09-12 - sp500").await.unwrap().into_iter().collect();
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let seed = pit("sp500_seed.csv");
    let then = reference(&seed, &changes, day("2008-09-12"));
    let now = reference(&seed, &changes, day("2026-07-13"));
    assert_eq!(left, then.difference(&now).cloned().collect::<BTreeSet<_>>());
    assert!(left.contains("LEH"));
    let tech: BTreeSet<String> = resolve("sp500 & information_technology").await.unwrap().into_iter().collect();
    let sector: BTreeSet<String> =
        db.symbols_of(GroupKind::Sector, "information_technology").await.into_iter().collect();
    assert_eq!(tech, now.intersection(&sector).cloned().collect::<BTreeSet<_>>());
    let union_minus = resolve("(nasdaq100|dow30)-SPY").await.unwrap();
    let spy: BTreeSet<String> = db.symbols_of(GroupKind::Etf, "SPY").await.into_iter().collect();
    assert!(!union_minus.is_empty() && union_minus.iter().all(|s| !spy.contains(s)));
    match resolve("sp500@2001-01-01").await {
        Err(e @ universe::universes::ResolveError::BeforeHistory { .. }) => {
            assert!(e.to_string().contains("2004-12-30"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        resolve("stock_universe:index_dow30@2020-01-02").await,
        Err(universe::universes::ResolveError::CacheHasNoHistory(_))
    ));
    assert!(matches!(resolve("sp500 &").await, Err(universe::universes::ResolveError::Expr(_))));
    assert!(
        matches!(resolve("sp500 - nosuch").await, Err(universe::universes::ResolveError::Unknown(p)) if p == "nosuch")
    );
}

/// Over HTTP, from the snapshot: a history loaded while the server runs reaches it (the refresh re-reads the
/// history); `?as_of=` and `NAME@DATE` answer from it, the algebra works, a day before the history or a cache row
/// asked for a day is a 422 saying why, and `/history` lists the changes of a range.
async fn as_of_over_http(db: &TestDb) {
    use crate::server::{TestServer, options, quick_watch};
    db.seed_sample().await;
    let server = TestServer::start(db, options(None, quick_watch())).await;
    let (status, _) = server.json("/api/universes/sp500/symbols?as_of=2008-09-12").await;
    assert_eq!(status.as_u16(), 422, "no history yet");
    let changes = pit("sp500_changes.csv");
    load_events(&db.store, &request("sp500", changes.clone())).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let body = loop {
        let (status, body) = server.json("/api/universes/sp500/symbols?as_of=2008-09-12").await;
        if status.as_u16() == 200 {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "the history never reached the snapshot: {status} {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let seed = pit("sp500_seed.csv");
    let then = reference(&seed, &changes, day("2008-09-12"));
    // In byte order, without duplicates, on both backends (the list, not a set of it, is compared).
    let listed = |body: &serde_json::Value| -> Vec<String> {
        body["symbols"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(listed(&body), then.iter().cloned().collect::<Vec<_>>());
    assert_eq!(body["count"].as_u64(), Some(then.len() as u64));
    // The snapshot's answers against the rule over the whole history, not one day only.
    for k in 0..40 {
        let d = day("2004-12-30") + chrono::Duration::days(k * 197);
        let (status, body) = server.json(&format!("/api/universes/sp500/symbols?as_of={d}")).await;
        assert_eq!(status.as_u16(), 200, "{d}: {body}");
        assert_eq!(listed(&body), reference(&seed, &changes, d).into_iter().collect::<Vec<_>>(), "{d}");
    }
    // A reused ticker: IR was Trane's until it became TT on 2020-02-29, and is Ingersoll Rand's since 2020-03-02.
    // Today's IR is not Trane: its page lists no other ticker, and in 2021 it answers for itself.
    let (status, ir) = server.json("/api/relationships/stock/IR/info?as_of=2021-01-04").await;
    assert_eq!(status.as_u16(), 200, "{ir}");
    assert_eq!(ir["aliases"].as_array().map_or(0, Vec::len), 0, "{ir}");
    let universes = |v: &serde_json::Value| -> Vec<String> {
        v["universes"].as_array().unwrap().iter().map(|u| u["key"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(universes(&ir), ["sp500"], "{ir}");
    let (_, tt) = server.json("/api/relationships/stock/TT/info?as_of=2019-01-02").await;
    assert_eq!(universes(&tt), ["sp500"], "Trane in 2019, under IR: {tt}");
    let (status, left) = server.json("/api/universes/sp500@2008-09-12%20-%20sp500/symbols").await;
    assert_eq!(status.as_u16(), 200, "{left}");
    let now = reference(&seed, &changes, day("2026-07-13"));
    let left: BTreeSet<String> =
        left["symbols"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert_eq!(left, then.difference(&now).cloned().collect::<BTreeSet<_>>());
    let (status, tech) = server.json("/api/universes/sp500&information_technology/symbols").await;
    assert_eq!(status.as_u16(), 200, "{tech}");
    assert!(tech["count"].as_u64().unwrap() > 50, "{tech}");
    let (status, problem) = server.json("/api/universes/sp500/symbols?as_of=2001-01-01").await;
    assert_eq!(status.as_u16(), 422);
    assert!(problem["detail"].as_str().unwrap().contains("2004-12-30"), "{problem}");
    let (status, _) = server.json("/api/universes/stock_universe:index_dow30/symbols?as_of=2020-01-02").await;
    assert_eq!(status.as_u16(), 422);
    let (status, _) = server.json("/api/universes/sp500%20%26/symbols").await;
    assert_eq!(status.as_u16(), 400);
    let (status, h) = server.json("/api/universes/sp500/history?from=2008-09-01&to=2008-09-30").await;
    assert_eq!(status.as_u16(), 200, "{h}");
    assert_eq!(h["history_start"], "2004-12-30");
    let removed: Vec<&str> = h["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "removed")
        .map(|c| c["symbol"].as_str().unwrap())
        .collect();
    assert!(removed.contains(&"LEH"), "{h}");
    let (status, _) = server.json("/api/universes/sp500/history?from=2001-01-01&to=2002-01-01").await;
    assert_eq!(status.as_u16(), 422);

    // The relationships routes: a stock's universes then (Tesla joined the S&P 500 in December 2020), an ETF's
    // holdings today from its history (the sample's SPY has history from its load only: 2008 is a 422 there).
    let universes = |v: &serde_json::Value| -> Vec<String> {
        v["universes"].as_array().unwrap().iter().map(|m| m["key"].as_str().unwrap().to_string()).collect()
    };
    let (status, then) = server.json("/api/relationships/stock/TSLA/info?as_of=2015-01-02").await;
    assert_eq!(status.as_u16(), 200, "{then}");
    assert!(!universes(&then).contains(&"sp500".to_string()), "{then}");
    let (_, now) = server.json("/api/relationships/stock/TSLA/info?as_of=2026-07-13").await;
    assert!(universes(&now).contains(&"sp500".to_string()), "{now}");
    let (_, aapl) = server.json("/api/relationships/stock/AAPL/info?as_of=2008-09-12").await;
    assert_eq!(universes(&aapl), ["sp500"], "only sp500's history reaches 2008: {aapl}");
    let today = chrono::Utc::now().date_naive();
    let (status, spy) = server.json(&format!("/api/relationships/etf/SPY/holdings?as_of={today}&limit=5")).await;
    assert_eq!(status.as_u16(), 200, "{spy}");
    assert_eq!(spy["total"].as_u64(), Some(db.symbols_of(GroupKind::Etf, "SPY").await.len() as u64));
    assert_eq!(spy["count"], 5);
    let (status, problem) = server.json("/api/relationships/etf/SPY/holdings?as_of=2008-09-12").await;
    assert_eq!(status.as_u16(), 422, "{problem}");
    let (status, tech) =
        server.json(&format!("/api/relationships/sector/information_technology/stocks?as_of={today}")).await;
    assert_eq!(status.as_u16(), 200, "{tech}");
    assert!(tech["total"].as_u64().unwrap() > 50);
}

/// The CLI: `universes history` lists a range's changes, `show --as-of` before the history is an error saying
/// where it starts (non-zero exit), and `resolve` takes the algebra.
async fn cli_history(db: &TestDb) {
    load_events(&db.store, &request("sp500", pit("sp500_changes.csv"))).await.unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
            .args(["--database-url", &db.url])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--json", "universes", "history", "sp500", "--from", "2008-09-01", "--to", "2008-09-30"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["changes"].as_array().unwrap().iter().any(|c| c["symbol"] == "LEH" && c["action"] == "removed"), "{v}");
    let out = run(&["universes", "show", "sp500", "--as-of", "2001-01-01"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2004-12-30"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["--json", "universes", "resolve", "sp500@2008-09-12 - sp500"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["symbols"].as_array().unwrap().iter().any(|s| s == "LEH"), "{v}");
}

/// Survivorship-free bars: `bars load --universe sp500 --point-in-time` loads every symbol that was a member in
/// the range, each for the days it was — Bed Bath & Beyond (left 2017-07-26) until then, A. O. Smith (joined that
/// day) from then, Apple throughout — and says how many are not members today. AOS and AAPL bars are real (the
/// shared 2013-2018 file); that file, itself survivorship-biased, has none for BBBY, whose bars here are made up
/// (a flat 20.00 every weekday).
async fn point_in_time_bars(db: &TestDb) {
    load_events(&db.store, &request("sp500", pit("sp500_changes.csv"))).await.unwrap();
    let folder = pit_bars_folder(db);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url, "--json", "bars", "load", "--universe", "sp500", "--point-in-time"])
        .args(["--from", "2017-07-01", "--to", "2017-09-30", "--warmup-days", "3", "--allow-partial", "--source"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pit_note = &v["point_in_time"];
    let seed = pit("sp500_seed.csv");
    let changes = pit("sp500_changes.csv");
    let mut in_range = BTreeSet::new();
    let mut d = day("2017-07-01");
    while d <= day("2017-09-30") {
        in_range.extend(reference(&seed, &changes, d));
        d += chrono::Duration::days(1);
    }
    assert_eq!(pit_note["members_in_range"].as_u64(), Some(in_range.len() as u64), "{pit_note}");
    assert!(pit_note["not_members_today"].as_u64().unwrap() > 0, "{pit_note}");
    assert_pit_bars(db).await;
    let examples: Vec<&str> = pit_note["examples"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(!examples.contains(&"AAPL"), "{pit_note}");
}

/// Bars for the point-in-time tests: AOS and AAPL from the shared 2013-2018 file (June to September 2017), BBBY
/// made up (that file, itself survivorship-biased, has none for it): a flat 20.00 every session of July to
/// September 2017.
fn pit_bars_folder(db: &TestDb) -> std::path::PathBuf {
    let folder = db.dir.path().join("bars");
    std::fs::create_dir_all(folder.join("day")).unwrap();
    let shared =
        format!("{}/../shared/data/sp500_daily_ohlcv_2013-2018_all_stocks_5yr.csv", env!("CARGO_MANIFEST_DIR"));
    let mut csv = String::from("symbol,date,open,high,low,close,volume\n");
    for line in std::fs::read_to_string(shared).unwrap().lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if ["AOS", "AAPL"].contains(&f[6]) && ("2017-06-01".."2017-10-01").contains(&f[0]) && !f[1].is_empty() {
            csv.push_str(&format!("{},{},{},{},{},{},{}\n", f[6], f[0], f[1], f[2], f[3], f[4], f[5]));
        }
    }
    let mut d = day("2017-07-03");
    while d <= day("2017-09-29") {
        if universe::bars::calendar::is_trading_day(d) {
            csv.push_str(&format!("BBBY,{d},20,20,20,20,1000\n"));
        }
        d += chrono::Duration::days(1);
    }
    std::fs::write(folder.join("day/pit.csv"), csv).unwrap();
    folder
}

/// The bars a point-in-time load of the S&P 500 from 2017-07-01 to 2017-09-30 with 3 days of warm-up stores.
async fn assert_pit_bars(db: &TestDb) {
    let all = db.store.bars(universe::domain::Timeframe::Day, None).await.unwrap();
    let dates = |sym: &str| {
        let days: Vec<chrono::NaiveDate> =
            all.iter().filter(|b| b.symbol.as_str() == sym).map(|b| b.time.new_york_date()).collect();
        (days.iter().min().copied(), days.iter().max().copied())
    };
    let (bbby_first, bbby_last) = dates("BBBY");
    assert_eq!((bbby_first, bbby_last), (Some(day("2017-07-03")), Some(day("2017-07-25"))), "until it left");
    // Three days of warm-up before each membership: A. O. Smith joined on Wednesday 2017-07-26, so from Monday
    // the 24th; Apple, a member all along, from 2017-06-28, three days before --from.
    let (aos_first, _) = dates("AOS");
    assert_eq!(aos_first, Some(day("2017-07-24")), "A. O. Smith from its warm-up");
    let (aapl_first, aapl_last) = dates("AAPL");
    assert_eq!((aapl_first, aapl_last), (Some(day("2017-06-28")), Some(day("2017-09-29"))));
}

/// Jobs accept the same: a data-load message with `point_in_time`, `from`, `to` and `warmup_days` (our extension
/// of TickStock's message) is queued under its key, says what it adds over today's members, and the worker loads
/// the same bars as the CLI; a point-in-time message for a symbol list, or one reaching before the history, fails
/// with the reason.
async fn point_in_time_job(db: &TestDb) {
    use universe::jobs;
    load_events(&db.store, &request("sp500", pit("sp500_changes.csv"))).await.unwrap();
    let folder = pit_bars_folder(db);
    let message = br#"{"job_id": "pit-1", "job_type": "csv_universe_load", "universe_key": "sp500",
        "timeframes": ["day"], "point_in_time": true, "from": "2017-07-01", "to": "2017-09-30", "warmup_days": 3}"#;
    let spec = jobs::message::parse(message).unwrap();
    let submitted = jobs::submit(&db.store, Environment::Default, spec, None).await.unwrap();
    let job = db.store.job("pit-1").await.unwrap().unwrap();
    let message = job.message.unwrap_or_default();
    assert!(message.contains("point in time") && message.contains("not today"), "{message}");
    assert!(submitted.symbol_count > 500, "every member in the range: {}", submitted.symbol_count);
    let worker = jobs::Worker::new(
        db.store.clone(),
        universe::bars::BarSource::local(&folder),
        jobs::WorkerOptions::new(Environment::Default),
    );
    let end = worker.run_one().await.unwrap().unwrap();
    assert_eq!(end.job_id, "pit-1");
    assert_pit_bars(db).await;

    let symbols = br#"{"job_id": "pit-2", "job_type": "csv_universe_load", "symbols": ["AAPL"],
        "point_in_time": true, "from": "2017-07-01"}"#;
    assert!(jobs::message::parse(symbols).unwrap_err().to_string().contains("universe_key"));
    let early = br#"{"job_id": "pit-3", "job_type": "csv_universe_load", "universe_key": "sp500",
        "point_in_time": true, "from": "2001-01-01", "to": "2001-12-31"}"#;
    let e =
        jobs::submit(&db.store, Environment::Default, jobs::message::parse(early).unwrap(), None).await.unwrap_err();
    assert!(e.to_string().contains("2004-12-30"), "{e}");
}

/// Security identity: `symbols events META` records Massive's ticker changes (FB until 2022-06-11, then META) by
/// composite FIGI, and `stock/FB/info` answers for the security under its current ticker, listing both.
async fn fb_is_meta(db: &TestDb) {
    use wiremock::matchers::{path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    db.seed_sample().await;
    let server = MockServer::start().await;
    Mock::given(path("/vX/reference/tickers/META/events"))
        .and(query_param("types", "ticker_change"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(crate::market::fixture("ticker_events_META_ticker_change.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url, "symbols", "events", "META"])
        .args(["--massive-api-key", "k", "--massive-url", &server.uri()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("BBG000MM2P62"));
    let server = crate::server::TestServer::start(db, crate::server::options(None, crate::server::quick_watch())).await;
    let (status, fb) = server.json("/api/relationships/stock/FB/info").await;
    assert_eq!(status.as_u16(), 200, "{fb}");
    assert_eq!(fb["symbol"], "META");
    let aliases: Vec<(String, serde_json::Value, serde_json::Value)> = fb["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["symbol"].as_str().unwrap().to_string(), a["valid_from"].clone(), a["valid_to"].clone()))
        .collect();
    assert_eq!(
        aliases,
        [
            ("FB".to_string(), serde_json::json!("2012-05-18"), serde_json::json!("2022-06-11")),
            ("META".to_string(), serde_json::json!("2022-06-11"), serde_json::Value::Null),
        ]
    );
    let (_, meta) = server.json("/api/relationships/stock/META/info").await;
    assert_eq!(meta["aliases"].as_array().unwrap().len(), 2);
    // As of a day, the history is searched under the ticker of that day: FB joined the S&P 500 in 2013.
    load_events(&db.store, &request("sp500", pit("sp500_changes.csv"))).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, then) = server.json("/api/relationships/stock/META/info?as_of=2015-01-02").await;
        let universes: Vec<&str> = then["universes"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["key"].as_str()).collect())
            .unwrap_or_default();
        if universes == ["sp500"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{then}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A ticker of the past with no row today answers from the history for a day it was a member.
    let (status, leh) = server.json("/api/relationships/stock/LEH/info?as_of=2008-09-12").await;
    assert_eq!(status.as_u16(), 200, "{leh}");
    assert_eq!(leh["universes"][0]["key"], "sp500");
    assert_eq!(server.json("/api/relationships/stock/LEH/info").await.0.as_u16(), 404);
    assert_eq!(server.json("/api/relationships/stock/ZZZZ/info").await.0.as_u16(), 404);
}

/// `load holdings --source massive --etf SPY`: ETF Global's constituents through Massive (the real fixture), with
/// their weight, loaded like a file (run record, diff) and the memberships' history starting on the holdings'
/// effective date; a plan without the dataset gets a 403 that says so, and nothing is written.
async fn holdings_from_massive(db: &TestDb) {
    use wiremock::matchers::{path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(path("/etf-global/v1/constituents"))
        .and(query_param("composite_ticker", "SPY"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                crate::market::fixture("etf_global_constituents_spec_example_SPY.json"),
                "application/json",
            ),
        )
        .mount(&server)
        .await;
    Mock::given(path("/etf-global/v1/constituents"))
        .and(query_param("composite_ticker", "QQQ"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            r#"{"status":"NOT_AUTHORIZED","message":"You are not entitled to this data."}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let run = |etf: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
            .args(["--database-url", &db.url, "load", "holdings", "--source", "massive", "--etf", etf])
            .args(["--massive-api-key", "k", "--massive-url", &server.uri(), "--retries", "0"])
            .output()
            .unwrap()
    };
    // The profile: first not in the plan, then (a made-up body in the endpoint's shape, SPY's public facts).
    Mock::given(path("/etf-global/v1/profiles"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(r#"{"status":"NOT_AUTHORIZED"}"#, "application/json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let out = run("SPY");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("profiles are not in your plan (403)"), "{stdout}");
    Mock::given(path("/etf-global/v1/profiles"))
        .and(query_param("composite_ticker", "SPY"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "OK", "results": [
            {"composite_ticker": "SPY", "effective_date": "2025-09-17", "issuer": "State Street", "aum": 6.0e11},
            {"composite_ticker": "SPY", "effective_date": "2025-09-18", "issuer": "State Street Global Advisors",
             "product_type": "ETF", "asset_class": "Equity", "aum": 6.3e11, "net_expenses": 0.000945,
             "primary_benchmark": "S&P 500 Index", "inception_date": "1993-01-22", "num_holdings": 503.0}]})))
        .mount(&server)
        .await;
    let again = run("SPY");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("ETF metadata of SPY from ETF Global's profile, effective 2025-09-18"), "{stdout}");
    let sql = "SELECT issuer || '|' || etf_type || '|' || CAST(expense_ratio AS TEXT) || '|' || \
               CAST(aum_millions AS TEXT) || '|' || underlying_index FROM symbols WHERE symbol = 'SPY'";
    let row: String = match &db.store {
        universe::store::Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        universe::store::Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    };
    let f: Vec<&str> = row.split('|').collect();
    assert_eq!((f[0], f[1], f[4]), ("State Street Global Advisors", "ETF", "S&P 500 Index"), "{row}");
    assert_eq!(f[2].parse::<f64>().unwrap(), 0.0945, "expense ratio in percent: {row}");
    assert_eq!(f[3].parse::<f64>().unwrap(), 630_000.0, "AUM in millions: {row}");
    let members = db.members(GroupKind::Etf, "SPY").await;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].0, "CZR");
    assert!(members[0].1.is_some_and(|w| w > 0.0), "{members:?}");
    let from: Vec<chrono::DateTime<chrono::Utc>> = match &db.store {
        universe::store::Store::Sqlite(p) => {
            sqlx::query_scalar("SELECT valid_from FROM membership_history WHERE group_name = 'SPY'")
                .fetch_all(p)
                .await
                .unwrap()
        }
        universe::store::Store::Postgres(p) => {
            sqlx::query_scalar("SELECT valid_from FROM membership_history WHERE group_name = 'SPY'")
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(from.iter().map(|t| t.date_naive().to_string()).collect::<Vec<_>>(), ["2025-09-18"]);
    let before = db.state().await;
    let denied = run("QQQ");
    assert!(!denied.status.success());
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(err.contains("403") && err.contains("plan does not include"), "{err}");
    assert_eq!(db.state().await, before);
}

/// Rolling back a constituents load made after the history was loaded restores the members before it — the
/// history's last roster — not everyone who ever was in the index.
async fn rollback_after_history(db: &TestDb) {
    let changes = pit("sp500_changes.csv");
    load_events(&db.store, &request("sp500", changes.clone())).await.unwrap();
    let roster: BTreeSet<String> = db.symbols_of(GroupKind::Universe, "sp500").await.into_iter().collect();
    let r = db.load_ok(LoadKind::Universes, &[("sp500.csv", "Symbol\nAAPL\nMSFT\n")], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Universe, "sp500").await, ["AAPL", "MSFT"]);
    universe::load::rollback(&db.store, r.run_id).await.unwrap();
    let back: BTreeSet<String> = db.symbols_of(GroupKind::Universe, "sp500").await.into_iter().collect();
    assert_eq!(back, roster);
    assert!(!back.contains("LEH"));
}

contract!(
    rollback_after_history,
    holdings_from_massive,
    fb_is_meta,
    point_in_time_bars,
    point_in_time_job,
    cli_history,
    as_of_over_http,
    algebra_over_history,
    pit_histories_answer_as_of,
    newer_changes_add_only_new_events,
    bad_history_writes_nothing,
    disagreement_with_constituents_is_reported
);
