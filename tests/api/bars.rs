//! Bars ingest on both backends: Massive (mocked with the real fixtures) per symbol and grouped, idempotent
//! upserts, New York dates, failures kept per task, the local and sample sources, and the CSV import of the full
//! shared OHLCV file.

use std::collections::BTreeSet;
use std::process::Command;

use chrono::{DateTime, NaiveDate, Utc};
use universe::bars::calendar::trading_days;
use universe::bars::load::Quiet;
use universe::bars::{BarSource, BarTime, LoadRequest, RangeSpec, Strategy, load_bars};
use universe::domain::{Ticker, Timeframe};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestDb, contract};
use crate::market::{client, fixture};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn tickers(list: &[&str]) -> Vec<Ticker> {
    list.iter().map(|s| Ticker::parse(s).unwrap()).collect()
}

fn request(symbols: &[&str], timeframes: &[Timeframe], from: &str, to: &str, strategy: Strategy) -> LoadRequest {
    let mut r = LoadRequest::new(
        tickers(symbols),
        timeframes.to_vec(),
        RangeSpec::Dates { from: d(from), to: Some(d(to)) },
        strategy,
        "test".into(),
    );
    r.now = "2026-11-21T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
    r
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

/// Per-symbol daily bars from the recorded AAPL response land on their New York dates (one before, one after
/// the 2005 DST switch); loading again changes nothing; a symbol with no data is listed, not failed.
async fn massive_per_symbol_idempotent(db: &TestDb) {
    let server = MockServer::start().await;
    Mock::given(path("/v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04"))
        .respond_with(json(fixture("aggs_day_AAPL_2005-04-01_2005-04-04.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v2/aggs/ticker/NODATA/range/1/day/2005-04-01/2005-04-04"))
        .respond_with(json(r#"{"status":"OK","resultsCount":0,"results":null}"#.into()))
        .mount(&server)
        .await;
    let source = BarSource::massive(client(&server));
    let req = request(&["AAPL", "NODATA"], &[Timeframe::Day], "2005-04-01", "2005-04-04", Strategy::PerSymbol);
    let first = load_bars(&db.store, &source, &req, &Quiet).await.unwrap();
    assert!(first.is_complete(), "{first:?}");
    assert_eq!(first.tables["ohlcv_daily"].bars, 2);
    assert_eq!(first.tables["ohlcv_daily"].changed, 2);
    assert_eq!(first.no_data, ["NODATA day"]);
    let stored = db.store.bars(Timeframe::Day, Some("AAPL")).await.unwrap();
    let dates: Vec<BarTime> = stored.iter().map(|b| b.time).collect();
    assert_eq!(dates, [BarTime::Date(d("2005-04-01")), BarTime::Date(d("2005-04-04"))]);
    assert_eq!(stored[0].open, 1.5032);
    assert_eq!(stored[0].volume, 642_646_396.0);
    let second = load_bars(&db.store, &source, &req, &Quiet).await.unwrap();
    assert_eq!(second.tables["ohlcv_daily"].bars, 2);
    assert_eq!(second.tables["ohlcv_daily"].changed, 0, "same bars: nothing rewritten");
    assert_eq!(db.store.bars(Timeframe::Day, None).await.unwrap(), stored);
    // Each load is a run, and the symbol got a symbols row (TickStock's tables reference it).
    let run = db.store.run(second.run_id).await.unwrap().unwrap();
    assert_eq!((run.kind.as_str(), run.status.as_str(), run.mode.as_str()), ("bars", "loaded", "per-symbol"));
    let symbols: i64 = db.store.count_rows("symbols").await.unwrap();
    assert_eq!(symbols, 1, "only symbols that got bars are added");
}

/// Grouped daily: one request per trading day (none for the weekend or Good Friday), rows keyed by the
/// requested date, only the wanted symbols kept; `auto` picks it when there are more symbols than days.
async fn massive_grouped_daily(db: &TestDb) {
    let server = MockServer::start().await;
    Mock::given(path_regex(r"^/v2/aggs/grouped/locale/us/market/stocks/\d{4}-\d{2}-\d{2}$"))
        .respond_with(json(
            r#"{"status":"OK","results":[{"T":"AAPL","o":1,"h":2,"l":0.5,"c":1.5,"v":100,"t":1},
                {"T":"MSFT","o":3,"h":4,"l":2.5,"c":3.5,"v":200.4,"t":1},{"T":"OTHER","o":1,"h":1,"l":1,"c":1,"v":1,"t":1}]}"#
                .into(),
        ))
        .mount(&server)
        .await;
    let source = BarSource::massive(client(&server));
    // 2024-03-28 (Thu) .. 2024-04-02 (Tue): Good Friday and the weekend are closed → 3 sessions.
    let req = request(&["AAPL", "MSFT", "IBM", "GE"], &[Timeframe::Day], "2024-03-28", "2024-04-02", Strategy::Auto);
    let s = load_bars(&db.store, &source, &req, &Quiet).await.unwrap();
    assert_eq!(s.daily_strategy, Strategy::Grouped);
    assert_eq!(s.requests, 3);
    assert_eq!(s.tables["ohlcv_daily"].bars, 6);
    assert_eq!(s.no_data, ["GE day", "IBM day"]);
    let stored = db.store.bars(Timeframe::Day, None).await.unwrap();
    let keys: BTreeSet<(String, BarTime)> = stored.iter().map(|b| (b.symbol.to_string(), b.time)).collect();
    assert!(keys.contains(&("MSFT".into(), BarTime::Date(d("2024-04-01")))));
    assert!(!keys.iter().any(|(s, _)| s == "OTHER"));
    assert_eq!(stored.iter().find(|b| b.symbol.as_str() == "MSFT").unwrap().volume, 200.0, "volume rounds");
}

/// The request budget at peer scale: one year of daily bars for 3,750 symbols takes one request per trading day.
async fn auto_strategy_request_count_at_peer_scale(db: &TestDb) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json(r#"{"status":"OK","resultsCount":0,"results":[]}"#.into()))
        .mount(&server)
        .await;
    let source = BarSource::massive(client(&server));
    let symbols: Vec<String> = (0..3750).map(|i| format!("S{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let mut req = request(&refs, &[Timeframe::Day], "2000-01-01", "2000-01-01", Strategy::Auto);
    req.range = RangeSpec::Years(1.0);
    let s = load_bars(&db.store, &source, &req, &Quiet).await.unwrap();
    let (from, to) = s.ranges[&Timeframe::Day];
    assert_eq!(s.daily_strategy, Strategy::Grouped);
    assert_eq!(s.requests as usize, trading_days(from, to).len());
    assert!(s.requests <= 260, "{} requests", s.requests);
    eprintln!("peer scale, 1 year of daily bars ({from} .. {to}), 3,750 symbols, auto: {} requests", s.requests);
    assert_eq!(server.received_requests().await.unwrap().len() as u64, s.requests);
}

/// One symbol outside the plan fails alone; minute bars keep UTC instants; a rejected key stops the load.
async fn failures_are_per_task_and_fatal_ones_stop(db: &TestDb) {
    let server = MockServer::start().await;
    Mock::given(path("/v2/aggs/ticker/AAPL/range/1/minute/2024-03-11/2024-03-11"))
        .respond_with(json(
            r#"{"status":"OK","results":[{"o":1,"h":2,"l":0.5,"c":1.5,"v":100,"t":1710163800000},{"o":1.5,"h":2,"l":1,"c":2,"v":50,"t":1710163860000}]}"#.into(),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/v2/aggs/ticker/MSFT/range/1/minute/2024-03-11/2024-03-11"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("error_403_not_authorized_plan_timeframe.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let source = BarSource::massive(client(&server));
    let req = request(&["AAPL", "MSFT"], &[Timeframe::Minute], "2024-03-11", "2024-03-11", Strategy::Auto);
    let s = load_bars(&db.store, &source, &req, &Quiet).await.unwrap();
    assert_eq!(s.tables["ohlcv_1min"].bars, 2);
    assert_eq!(s.failures.len(), 1);
    assert_eq!(s.failures[0].what, "MSFT");
    assert!(s.failures[0].reason.contains("plan does not cover"), "{}", s.failures[0].reason);
    assert!(s.stopped.is_none());
    assert_eq!(db.store.run(s.run_id).await.unwrap().unwrap().status, "partial");
    let bars = db.store.bars(Timeframe::Minute, None).await.unwrap();
    assert_eq!(bars[0].time, BarTime::At("2024-03-11T13:30:00Z".parse().unwrap()));

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_raw(r#"{"status":"ERROR","error":"Unknown API Key"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let source = BarSource::massive(client(&server));
    let symbols: Vec<String> = (0..50).map(|i| format!("S{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let req = request(&refs, &[Timeframe::Week], "2024-01-01", "2024-03-01", Strategy::Auto);
    let s = load_bars(&db.store, &source, &req, &Quiet).await.unwrap();
    assert!(s.stopped.as_deref().is_some_and(|r| r.contains("Unknown API Key")), "{s:?}");
    assert!(s.tasks_done < 50, "stopped early, after {} tasks", s.tasks_done);
    assert_eq!(db.store.run(s.run_id).await.unwrap().unwrap().status, "failed");
}

/// A folder of CSV files (one multi-symbol file, one per-symbol file) and the bundled sample; weeks and months
/// are built from days when the folder has none.
async fn local_and_sample_sources(db: &TestDb) {
    let dir = db.dir.path().join("bars");
    std::fs::create_dir_all(dir.join("day")).unwrap();
    std::fs::write(
        dir.join("day/mixed.csv"),
        "symbol,date,open,high,low,close,volume\nAAPL,2024-03-11,10,12,9,11,100\nAAPL,2024-03-12,11,13,10,12,100\nMSFT,2024-03-11,1,1,1,1,1\n",
    )
    .unwrap();
    std::fs::write(dir.join("IBM.csv"), "Date,Open,High,Low,Close,Volume\n2024-03-18,5,6,4,5.5,10\n").unwrap();
    let source = BarSource::local(&dir);
    let req = request(&["AAPL", "IBM"], &[Timeframe::Day, Timeframe::Week], "2024-03-01", "2024-03-31", Strategy::Auto);
    let s = load_bars(&db.store, &source, &req, &Quiet).await.unwrap();
    assert!(s.is_complete(), "{s:?}");
    assert_eq!(s.requests, 0);
    assert_eq!(s.tables["ohlcv_daily"].bars, 3);
    let weeks = db.store.bars(Timeframe::Week, Some("AAPL")).await.unwrap();
    assert_eq!(weeks.len(), 1);
    assert_eq!(
        (weeks[0].time, weeks[0].open, weeks[0].close, weeks[0].high, weeks[0].volume),
        (BarTime::Date(d("2024-03-11")), 10.0, 12.0, 13.0, 200.0)
    );
    let grouped = request(&["AAPL"], &[Timeframe::Day], "2024-03-01", "2024-03-31", Strategy::Grouped);
    assert!(
        load_bars(&db.store, &source, &grouped, &Quiet)
            .await
            .unwrap_err()
            .to_string()
            .contains("needs the Massive source")
    );

    let sample = BarSource::sample();
    let req = request(
        &["AAPL", "MSFT", "ZZZZ"],
        &[Timeframe::Day, Timeframe::Month],
        "2017-01-01",
        "2018-12-31",
        Strategy::Auto,
    );
    let s = load_bars(&db.store, &sample, &req, &Quiet).await.unwrap();
    assert_eq!(s.tables["ohlcv_daily"].bars, 2 * 252);
    assert_eq!(s.tables["ohlcv_monthly"].bars, 2 * 13, "2017-02 .. 2018-02");
    assert_eq!(s.no_data, ["ZZZZ day", "ZZZZ month"]);
}

/// The full shared S&P 500 file: 619,040 rows, the 11 with a missing open reported by line, the rest stored;
/// importing again changes nothing.
async fn import_the_shared_ohlcv_file(db: &TestDb) {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/sp500_daily_ohlcv_2013-2018_all_stocks_5yr.csv");
    let r = universe::bars::import::import_file(&db.store, &file, Timeframe::Day, false).await.unwrap();
    assert_eq!(r.rows, 619_040);
    assert_eq!(r.rejected.len(), 11);
    assert_eq!(r.rejected[0].line, 82_951);
    assert!(r.rejected.iter().all(|x| x.reason.contains("missing open")));
    assert_eq!(r.imported, 619_029);
    assert_eq!(r.symbols, 505);
    assert_eq!(db.store.count_bars(Timeframe::Day).await.unwrap(), 619_029);
    let again = universe::bars::import::import_file(&db.store, &file, Timeframe::Day, false).await.unwrap();
    assert_eq!(again.changed, 0);
    assert_eq!(db.store.count_bars(Timeframe::Day).await.unwrap(), 619_029);
    let strict = universe::bars::import::import_file(&db.store, &file, Timeframe::Day, true).await.unwrap_err();
    assert!(strict.to_string().contains("11 rows have missing values (first at line 82951"), "{strict}");
}

/// The CLI: a malformed file is refused with file, line and field and writes nothing; a failed symbol makes the
/// exit code 1 unless --allow-partial.
async fn cli_bars(db: &TestDb) {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_universe"))
            .args(["--database-url", &db.url])
            .args(args)
            .env_remove("MASSIVE_API_KEY")
            .env_remove("POLYGON_API_KEY")
            .output()
            .unwrap()
    };
    let bad = db.write_file(
        "bad.csv",
        "symbol,date,open,high,low,close,volume\nAAPL,2024-03-11,1,2,1,1,10\nAAPL,2024-03-12,1,2,x,1,10\n",
    );
    let out = run(&["bars", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv, line 3, field low: not a number"), "{err}");
    assert_eq!(db.store.count_bars(Timeframe::Day).await.unwrap(), 0, "nothing written");

    let server = MockServer::start().await;
    Mock::given(path("/v2/aggs/ticker/AAPL/range/1/day/2005-04-01/2005-04-04"))
        .respond_with(json(fixture("aggs_day_AAPL_2005-04-01_2005-04-04.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v2/aggs/ticker/MSFT/range/1/day/2005-04-01/2005-04-04"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_raw(fixture("error_403_not_authorized_plan_timeframe.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let args = [
        "bars",
        "load",
        "--symbols",
        "AAPL,MSFT",
        "--from",
        "2005-04-01",
        "--to",
        "2005-04-04",
        "--source",
        "massive",
        "--massive-api-key",
        "k",
        "--massive-url",
        &uri,
        "--rate",
        "100/s",
    ];
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("MSFT day:") && stdout.contains("plan does not cover"), "{stdout}");
    let mut partial = args.to_vec();
    partial.push("--allow-partial");
    assert_eq!(run(&partial).status.code(), Some(0));
    assert_eq!(db.store.count_bars(Timeframe::Day).await.unwrap(), 2);
    // No key, no --source: the bundled sample, and a note saying so.
    let out = run(&["bars", "load", "--symbols", "AAPL", "--from", "2017-06-01", "--to", "2017-06-30", "--json"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no MASSIVE_API_KEY configured"));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["tables"]["ohlcv_daily"]["bars"], 22);
}

/// `n` bars of `tf` over 20 symbols, with prices that need rounding to the tables' four decimals.
fn synthetic_bars(tf: Timeframe, n: usize, prefix: &str) -> Vec<universe::bars::Bar> {
    let start = DateTime::parse_from_rfc3339("2024-03-04T14:30:00Z").unwrap().with_timezone(&Utc);
    (0..n)
        .map(|i| {
            let k = (i / 20) as i64;
            let time = if tf.is_intraday() {
                BarTime::At(start + chrono::Duration::minutes(k))
            } else {
                BarTime::Date(d("2001-01-01") + chrono::Duration::days(k))
            };
            let p = 10.0 + (i % 997) as f64 / 7.0;
            universe::bars::Bar {
                symbol: Ticker::parse(&format!("{prefix}{}", i % 20)).unwrap(),
                time,
                open: p,
                high: p + 1.25,
                low: p - 0.33333,
                close: p + 0.123456,
                volume: (i * 1000) as f64 + 0.4,
            }
        })
        .collect()
}

/// Every batch size stores the same values and counts changes the same way (PostgreSQL: `COPY` and one upsert;
/// SQLite: 2,000-row statements), around the sizes where statements split. Minute bars (instants) and daily bars
/// (dates, plus `created_at`).
async fn upsert_paths_agree(db: &TestDb) {
    for tf in [Timeframe::Minute, Timeframe::Day] {
        for (n, prefix) in [(3_000, "P"), (3_001, "Q")] {
            let bars = synthetic_bars(tf, n, prefix);
            let mut sorted = bars.clone();
            universe::store::dedupe_bars(&mut sorted);
            db.store.upsert_bars(tf, bars.clone()).await.unwrap();
            let mut stored = db.store.bars(tf, None).await.unwrap();
            stored.retain(|b| b.symbol.as_str().starts_with(prefix));
            assert_eq!(stored.len(), n, "{tf} {n}");
            // PostgreSQL's numeric(10,4) rounds to four decimals (no price here is near a tie); SQLite keeps the
            // double.
            let postgres = matches!(db.store, universe::store::Store::Postgres(_));
            let expect = |x: f64| if postgres { (x * 1e4).round() / 1e4 } else { x };
            for (s, b) in stored.iter().zip(&sorted) {
                assert_eq!((&s.symbol, s.time), (&b.symbol, b.time), "{tf} {n}");
                let got = [s.open, s.high, s.low, s.close, s.volume];
                let want = [expect(b.open), expect(b.high), expect(b.low), expect(b.close), b.volume.round()];
                assert!(
                    got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-9),
                    "{tf} {n} {} {:?}: {got:?} != {want:?}",
                    b.symbol,
                    b.time
                );
            }
            assert_eq!(db.store.upsert_bars(tf, bars.clone()).await.unwrap(), 0, "same values: nothing rewritten");
            // The same batch with every 4th open moved by a cent: exactly those rows are rewritten.
            let mut changed = bars;
            for b in changed.iter_mut().step_by(4) {
                b.open += 0.01;
            }
            assert_eq!(db.store.upsert_bars(tf, changed).await.unwrap() as usize, n.div_ceil(4), "{tf} {n}");
        }
    }
}

contract!(
    sic_for_the_unknown_only,
    upsert_paths_agree,
    massive_per_symbol_idempotent,
    massive_grouped_daily,
    auto_strategy_request_count_at_peer_scale,
    failures_are_per_task_and_fatal_ones_stop,
    local_and_sample_sources,
    import_the_shared_ohlcv_file,
    cli_bars,
);

/// The calendar's trading days over 2013-02-08 .. 2018-02-07 are exactly the dates with bars in the shared file.
#[test]
fn calendar_matches_the_real_sessions() {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/sp500_daily_ohlcv_2013-2018_all_stocks_5yr.csv");
    let text = std::fs::read_to_string(file).unwrap();
    let dates: BTreeSet<NaiveDate> = text.lines().skip(1).filter_map(|l| l.split(',').next()?.parse().ok()).collect();
    let (first, last) = (*dates.first().unwrap(), *dates.last().unwrap());
    let calendar: BTreeSet<NaiveDate> = trading_days(first, last).into_iter().collect();
    assert_eq!(
        calendar.difference(&dates).collect::<Vec<_>>(),
        Vec::<&NaiveDate>::new(),
        "calendar says open, no bars"
    );
    assert_eq!(dates.difference(&calendar).collect::<Vec<_>>(), Vec::<&NaiveDate>::new(), "bars on a closed day");
}

fn overview(ticker: &str, name: &str, sic: &str, desc: &str) -> String {
    format!(
        r#"{{"status":"OK","request_id":"x","results":{{"ticker":"{ticker}","name":"{name}","market":"stocks","locale":"us","active":true,"currency_name":"usd","type":"CS","sic_code":"{sic}","sic_description":"{desc}","market_cap":1.5e11,"list_date":"1999-11-18"}}}}"#
    )
}

/// `enrich sectors --from-sic --unknown` fetches the overviews of the unclassified stocks only (never of one a
/// file placed), then classifies them by SIC.
async fn sic_for_the_unknown_only(db: &TestDb) {
    use universe::domain::GroupKind;
    use universe::load::{LoadKind, Mode};
    db.load_ok(LoadKind::Universes, &[("core.csv", "Symbol\nAAPL\nXOM\nPFE\n")], Mode::Full).await;
    db.load_ok(LoadKind::Sectors, &[("sectors.csv", "Symbol,Sector\nAAPL,Information Technology\nXOM,\n")], Mode::Full)
        .await;
    let server = MockServer::start().await;
    Mock::given(path("/v3/reference/tickers/AAPL"))
        .respond_with(json(fixture("ticker_details_AAPL.json")))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers/XOM"))
        .respond_with(json(overview("XOM", "Exxon Mobil Corp", "2911", "PETROLEUM REFINING")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers/PFE"))
        .respond_with(json(overview("PFE", "Pfizer Inc", "2834", "PHARMACEUTICAL PREPARATIONS")))
        .expect(1)
        .mount(&server)
        .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url, "enrich", "sectors", "--from-sic", "--unknown"])
        .args(["--massive-api-key", "k", "--massive-url", &server.uri(), "--rate", "1000/s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Fetched the overviews of 2 unclassified stocks"));
    assert_eq!(db.symbols_of(GroupKind::Sector, "energy").await, ["XOM"]);
    assert_eq!(db.symbols_of(GroupKind::Sector, "health_care").await, ["PFE"]);
    assert_eq!(db.symbols_of(GroupKind::Sector, "information_technology").await, ["AAPL"]);
}

/// `symbols refresh` from overviews and the tickers list, then `enrich sectors --from-sic`: gaps filled from SIC,
/// a file's classification never overridden, coverage before and after, dry-run writes nothing.
async fn symbols_refresh_and_sic_enrichment(db: &TestDb) {
    use universe::domain::GroupKind;
    use universe::load::{LoadKind, Mode, enrich_from_sic};
    use universe::sync::{Scope, refresh_symbols};
    db.load_ok(LoadKind::Universes, &[("core.csv", "Symbol\nAAPL\nXOM\nPFE\n")], Mode::Full).await;
    // The file puts AAPL in consumer discretionary (its SIC says technology) and XOM in unknown; PFE has none.
    db.load_ok(LoadKind::Sectors, &[("sectors.csv", "Symbol,Sector\nAAPL,Consumer Discretionary\nXOM,\n")], Mode::Full)
        .await;

    let server = MockServer::start().await;
    Mock::given(path("/v3/reference/tickers/AAPL"))
        .respond_with(json(fixture("ticker_details_AAPL.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers/XOM"))
        .respond_with(json(overview("XOM", "Exxon Mobil Corp", "2911", "PETROLEUM REFINING")))
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers/PFE"))
        .respond_with(json(overview("PFE", "Pfizer Inc", "2834", "PHARMACEUTICAL PREPARATIONS")))
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers/A"))
        .respond_with(json(overview("A", "Agilent (overview)", "3826", "LABORATORY ANALYTICAL INSTRUMENTS")))
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers/ZZZZ"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(r#"{"status":"NOT_FOUND","message":"Ticker not found."}"#, "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers"))
        .respond_with(json(fixture("tickers_list_page2_last_page.json")))
        .mount(&server)
        .await;
    let c = client(&server);
    let r =
        refresh_symbols(&db.store, &c, &Scope::Symbols(tickers(&["AAPL", "XOM", "PFE", "A", "ZZZZ"]))).await.unwrap();
    assert_eq!((r.received, r.written, r.requests), (4, 4, 5));
    assert_eq!(r.not_found, ["ZZZZ"]);
    assert_eq!(r.inserted, 4, "group loads do not create symbols rows");
    let symbols = db.store.symbols().await.unwrap();
    let aapl = &symbols["AAPL"];
    assert_eq!(aapl.name.as_deref(), Some("Apple Inc."));
    assert_eq!(aapl.market_cap, Some(2_488_795_282_370));
    assert_eq!(aapl.list_date, Some(d("1980-12-12")));
    assert_eq!(aapl.exchange.as_deref(), Some("XNAS"));
    // The list walk (stored scope) updates what it lists and erases nothing it lacks.
    let listed = refresh_symbols(&db.store, &c, &Scope::All).await.unwrap();
    assert_eq!(listed.received, 2);
    assert_eq!(listed.inserted, 2, "AAA and AAAU");
    let sic: Vec<(String, String)> =
        db.store.sic_codes().await.unwrap().into_iter().map(|r| (r.symbol, r.sic_code)).collect();
    assert!(sic.contains(&("AAPL".into(), "3571".into())) && sic.contains(&("A".into(), "3826".into())), "{sic:?}");

    let dry = enrich_from_sic(&db.store, universe::domain::Environment::Default, Mode::DryRun).await.unwrap();
    assert_eq!((dry.before.stocks, dry.before.classified), (4, 1), "AAPL, XOM, PFE, A; only AAPL classified");
    assert_eq!(dry.after.classified, 4);
    assert_eq!(db.symbols_of(GroupKind::Sector, "energy").await, Vec::<String>::new(), "dry run wrote nothing");
    let done = enrich_from_sic(&db.store, universe::domain::Environment::Default, Mode::Full).await.unwrap();
    let mut assigned: Vec<(&str, &str)> = done.assigned.iter().map(|a| (a.symbol.as_str(), a.sector)).collect();
    assigned.sort();
    assert_eq!(assigned, [("A", "information_technology"), ("PFE", "health_care"), ("XOM", "energy")]);
    assert_eq!(done.after.percent, 100.0);
    assert_eq!(db.symbols_of(GroupKind::Sector, "energy").await, ["XOM"]);
    assert_eq!(db.symbols_of(GroupKind::Sector, "unknown").await, Vec::<String>::new(), "XOM left unknown");
    assert_eq!(db.symbols_of(GroupKind::Sector, "consumer_discretionary").await, ["AAPL"], "the file wins over SIC");
    let pfe = db
        .store
        .group_member_details(universe::domain::Environment::Default, GroupKind::Sector, "health_care")
        .await
        .unwrap();
    assert_eq!(pfe[0].industry.as_deref(), Some("Pharmaceutical Preparations"));
    // Nothing left to do: a second run assigns nothing and writes nothing.
    let again = enrich_from_sic(&db.store, universe::domain::Environment::Default, Mode::Full).await.unwrap();
    assert!(again.assigned.is_empty() && again.load.is_none());
    // The enrichment is a sectors run and can be rolled back.
    let run_id = done.load.unwrap().run_id;
    universe::load::rollback(&db.store, run_id).await.unwrap();
    assert_eq!(db.symbols_of(GroupKind::Sector, "unknown").await, ["XOM"]);
}

contract!(symbols_refresh_and_sic_enrichment);

/// A symbols refresh never blocks rolling back an earlier load, and is itself refused with what to do instead.
async fn refresh_and_bar_runs_and_rollback(db: &TestDb) {
    use universe::load::{LoadError, LoadKind, Mode, rollback};
    use universe::sync::{Scope, refresh_symbols};
    let load = db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,60\nMSFT,40\n")], Mode::Full).await;
    let server = MockServer::start().await;
    Mock::given(path("/v3/reference/tickers/AAPL"))
        .respond_with(json(fixture("ticker_details_AAPL.json")))
        .mount(&server)
        .await;
    let refresh = refresh_symbols(&db.store, &client(&server), &Scope::Symbols(tickers(&["AAPL"]))).await.unwrap();
    let refused = rollback(&db.store, refresh.run_id).await.unwrap_err();
    assert!(
        matches!(&refused, LoadError::Refused(m) if m.contains("run `universe symbols refresh` again")),
        "{refused}"
    );
    rollback(&db.store, load.run_id).await.unwrap();
    let bars = load_bars(
        &db.store,
        &BarSource::sample(),
        &request(&["AAPL"], &[Timeframe::Day], "2017-06-01", "2017-06-30", Strategy::Auto),
        &Quiet,
    )
    .await
    .unwrap();
    let refused = rollback(&db.store, bars.run_id).await.unwrap_err();
    assert!(matches!(&refused, LoadError::Refused(m) if m.contains("idempotent upserts")), "{refused}");
}

contract!(refresh_and_bar_runs_and_rollback);
