//! `universe serve`: the real server on port 0 against each backend — every route's success and error shapes
//! (snapshots), auth, ETag/304, pagination, coherence between replicas, and refresh under concurrent reads.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use universe::api::{self, ServeOptions};
use universe::cache::WatchOptions;
use universe::domain::Environment;
use universe::load::{LoadKind, Mode};
use universe::store::Store;

use crate::helpers::{TestDb, contract};

const KEY: &str = "test-key-123";

/// A server running on port 0 over its own pool.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub fn options(api_key: Option<&str>, watch: WatchOptions) -> ServeOptions {
    ServeOptions {
        api_key: api_key.map(str::to_string),
        watch,
        bench_routes: false,
        jobs: Default::default(),
        limits: Default::default(),
        alerts: None,
    }
}

/// Polling fast, no maximum-age refreshes, notifications on.
pub fn quick_watch() -> WatchOptions {
    WatchOptions { poll: Duration::from_millis(200), max_age: Duration::from_secs(3600), listen: true }
}

impl TestServer {
    pub async fn start(db: &TestDb, options: ServeOptions) -> TestServer {
        let store = Store::open(&db.url).await.expect("open the store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(api::serve(listener, store, Environment::Default, options, async move {
            let _ = rx.await;
        }));
        // reqwest is built without a default TLS crypto provider (see universe::market).
        universe::market::install_crypto_provider();
        TestServer { base, client: reqwest::Client::new(), stop: Some(tx), task }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("request")
    }

    pub async fn json(&self, path: &str) -> (StatusCode, Value) {
        let r = self.get(path).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, key: Option<&str>, body: &str) -> (StatusCode, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).body(body.to_string());
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Stops gracefully and checks the server ended cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        self.task.await.expect("server task").expect("server ran cleanly");
    }
}

/// Loads the bundled sample data and organizes it, as `universe demo` does, plus a weighted ETF.
async fn seed(db: &TestDb) {
    db.seed_sample().await;
    db.load_ok(LoadKind::Holdings, &[("TST.csv", WEIGHTED)], Mode::Full).await;
}

const WEIGHTED: &str =
    "Ticker,Name,Weight\nMSFT,Microsoft,7.1\nAAPL,Apple,6.5\nNVDA,Nvidia,6.5\nAMZN,Amazon,3.2\nBRK.B,Berkshire,1.7\n";

/// Replaces values that vary by run (versions, times, tags) so both backends share one snapshot.
fn redact(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if ["version", "created_at", "updated_at", "etag", "built_at"].contains(&k.as_str()) && !x.is_null()
                    {
                        *x = Value::String("[redacted]".into());
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

async fn routes_answer_in_their_shapes(db: &TestDb) {
    seed(db).await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    for (name, path) in [
        ("etf_holdings", "/api/relationships/etf/tst/holdings"),
        ("etf_holdings_page", "/api/relationships/etf/SPY/holdings?limit=3&offset=1"),
        ("stock_info", "/api/relationships/stock/aapl/info"),
        ("stock_info_share_class", "/api/relationships/stock/BRK-B/info"),
        ("sector_stocks", "/api/relationships/sector/Energy/stocks?limit=4"),
        ("theme_members", "/api/relationships/theme/crypto_miners/members?limit=4"),
        ("universe_symbols", "/api/universes/dow30/symbols"),
        ("universe_union", "/api/universes/TST:stock_universe:index_dow30/symbols"),
        ("stock_groups", "/api/stock-groups?types=universe&search=nasdaq"),
    ] {
        let (status, body) = s.json(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        insta::assert_json_snapshot!(name, redact(body));
    }
    // The weighted ETF comes back heaviest first, ties by ticker, weights as stored fractions.
    let (_, h) = s.json("/api/relationships/etf/TST/holdings").await;
    let order: Vec<&str> = h["holdings"].as_array().unwrap().iter().map(|r| r["symbol"].as_str().unwrap()).collect();
    assert_eq!(order, ["MSFT", "AAPL", "NVDA", "AMZN", "BRK.B"]);
    assert_eq!(h["holdings"][0]["weight"], 0.071);
    // Every group and cache universe is listed; counts agree with the symbols route.
    let (_, list) = s.json("/api/universes").await;
    let rows = list["universes"].as_array().unwrap();
    assert_eq!(list["total_count"].as_u64().unwrap() as usize, rows.len());
    let dow = rows.iter().find(|r| r["key"] == "stock_universe:index_dow30").expect("cache universe listed");
    let (_, syms) = s.json("/api/universes/stock_universe:index_dow30/symbols").await;
    assert_eq!(dow["member_count"], syms["count"]);
    assert_eq!(syms["count"], 30);
    // TickStock's dropdown: UNIVERSE and ETF rows, by type then name, with a description always present.
    let r =
        s.client.get(format!("{}/admin/historical-data/universes?types=UNIVERSE,ETF", s.base)).header("X-API-Key", KEY);
    let body: Value = r.send().await.unwrap().json().await.unwrap();
    let names: Vec<String> = body["universes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| format!("{} {}", u["type"].as_str().unwrap(), u["name"].as_str().unwrap()))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.contains(&"UNIVERSE sp500".to_string()) && names.contains(&"ETF TST".to_string()));
    assert_eq!(body["types"], serde_json::json!(["UNIVERSE", "ETF"]));
    assert_eq!(body["universes"][0]["environment"], "DEFAULT");
    // Operations.
    assert_eq!(s.json("/health").await.1["status"], "ok");
    let (status, ready) = s.json("/ready").await;
    assert_eq!((status, ready["status"].as_str()), (StatusCode::OK, Some("ready")));
    let (_, stats) = s.json("/api/relationships/stats").await;
    assert!(stats["lookups"].as_u64().unwrap() >= 9, "{stats}");
    assert!(stats["entries"]["etfs"].as_u64().unwrap() >= 15);
    assert!(stats["approx_bytes"].as_u64().unwrap() > 10_000);
    let metrics = s.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("http_requests_total{method=\"GET\",route=\"/api/relationships/etf/{symbol}/holdings\""),
        "{metrics}"
    );
    assert!(metrics.contains("universe_cache_snapshot_version"));
    s.stop().await;
}

async fn errors_are_problems(db: &TestDb) {
    seed(db).await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    for (path, status, needle) in [
        ("/api/relationships/etf/NOPE/holdings", 404, "unknown ETF \"NOPE\""),
        ("/api/relationships/etf/SPY/holdings?limit=abc", 400, "limit"),
        ("/api/relationships/etf/SPY/holdings?limit=0", 400, "limit must be at least 1"),
        ("/api/relationships/stock/ZZZZZZ/info", 404, "unknown symbol \"ZZZZZZ\""),
        ("/api/relationships/sector/nosuch/stocks", 404, "unknown sector"),
        ("/api/relationships/theme/nosuch/members", 404, "unknown theme"),
        ("/api/universes/dow30:nosuch/symbols", 404, "\"nosuch\""),
        ("/api/universes/dow30:stock_universe/symbols", 400, "must be followed by a key"),
        ("/api/stock-groups?types=ETF,BOGUS", 400, "unknown group type \"BOGUS\""),
        ("/no/such/route", 404, "no such route"),
    ] {
        let r = s.get(path).await;
        assert_eq!(r.status().as_u16(), status, "{path}");
        // TickStock's pages read errors only from `application/json` bodies.
        let kind = if path.starts_with("/api/stock-groups") { "application/json" } else { "application/problem+json" };
        assert_eq!(r.headers()["content-type"], kind, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], body["detail"], "{path}");
        assert_eq!(body["status"], status, "{path}");
        assert!(body["detail"].as_str().unwrap().contains(needle), "{path}: {body}");
    }
    let (_, body) = s.json("/api/relationships/etf/NOPE/holdings").await;
    insta::assert_json_snapshot!("problem_not_found", body);
    s.stop().await;
}

async fn admin_needs_the_key(db: &TestDb) {
    seed(db).await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    for path in ["/admin/cache/stats", "/admin/historical-data/universes"] {
        assert_eq!(s.get(path).await.status(), StatusCode::UNAUTHORIZED, "{path}");
        let r = s.client.get(format!("{}{path}", s.base)).header("X-API-Key", "test-key-124").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        let r = s.client.get(format!("{}{path}", s.base)).header("X-API-Key", KEY).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(s.post("/admin/cache/refresh", None, "").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.post("/admin/cache/warm", Some("wrong"), "").await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = s.post("/admin/cache/refresh", Some(KEY), "").await;
    assert_eq!((status, body["message"].as_str()), (StatusCode::OK, Some("Cache refreshed: all/all")));
    let (status, body) =
        s.post("/admin/cache/refresh", Some(KEY), r#"{"cache_type":"etf","key":"SPY","warm":true}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["message"].as_str(), body["warmed"].as_bool()), (Some("Cache refreshed: etf/SPY"), Some(true)));
    let (status, body) = s.post("/admin/cache/refresh", Some(KEY), r#"{"cache_type":"bogus"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("unknown cache_type \"bogus\""));
    let (status, body) = s.post("/admin/cache/refresh", Some(KEY), "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let big = format!("{{\"key\":\"{}\"}}", "x".repeat(api::BODY_LIMIT + 1));
    let (status, body) = s.post("/admin/cache/refresh", Some(KEY), &big).await;
    assert_eq!((status, body["status"].as_u64()), (StatusCode::PAYLOAD_TOO_LARGE, Some(413)), "{body}");
    assert!(body["error"].as_str().unwrap().contains("length limit"), "{body}");
    let r = s.client.post(format!("{}/admin/cache/refresh", s.base)).header("X-API-Key", KEY).body(big.clone());
    let r = r.send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json", "TickStock's routes answer errors as plain JSON");
    // A rejection axum answers itself (no JSON extractor involved) is a problem document too.
    let r = s.client.delete(format!("{}/api/universes", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let (status, body) = s.post("/admin/cache/warm", Some(KEY), "").await;
    assert_eq!((status, body["message"].as_str()), (StatusCode::OK, Some("Cache warmed successfully")));
    assert!(body["responses"].as_u64().unwrap() > 50, "{body}");
    s.stop().await;

    // No key configured: admin routes are disabled, not open; public routes still work.
    let s = TestServer::start(db, options(None, quick_watch())).await;
    let (status, body) = s.json("/admin/cache/stats").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().unwrap().contains("disabled"));
    assert_eq!(s.post("/admin/cache/refresh", Some(""), "").await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get("/api/universes").await.status(), StatusCode::OK);
    s.stop().await;
}

async fn etags_and_304(db: &TestDb) {
    seed(db).await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    let path = "/api/relationships/etf/TST/holdings";
    let r = s.get(path).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let cached = |tag: &str| s.client.get(format!("{}{path}", s.base)).header("If-None-Match", tag.to_string()).send();
    let r = cached(&etag).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(cached("\"other\"").await.unwrap().status(), StatusCode::OK);
    assert_eq!(cached(&format!("\"x\", W/{etag}")).await.unwrap().status(), StatusCode::NOT_MODIFIED);
    // A change moves the tag: the old one no longer matches.
    db.load_ok(LoadKind::Holdings, &[("TST.csv", "Ticker,Weight\nMSFT,50\nAAPL,50\n")], Mode::Full).await;
    s.post("/admin/cache/refresh", Some(KEY), "").await;
    let r = cached(&etag).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["total"], 2);
    s.stop().await;
}

async fn pagination(db: &TestDb) {
    seed(db).await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    let (_, all) = s.json("/api/relationships/etf/TST/holdings").await;
    let (_, page) = s.json("/api/relationships/etf/TST/holdings?limit=2&offset=2").await;
    assert_eq!(page["holdings"], Value::Array(all["holdings"].as_array().unwrap()[2..4].to_vec()));
    assert_eq!((page["total"].as_u64(), page["offset"].as_u64(), page["count"].as_u64()), (Some(5), Some(2), Some(2)));
    let (_, past) = s.json("/api/relationships/etf/TST/holdings?offset=99").await;
    assert_eq!((past["count"].as_u64(), past["total"].as_u64()), (Some(0), Some(5)));
    let (_, sector) = s.json("/api/relationships/sector/information_technology/stocks").await;
    let (_, tail) = s.json("/api/relationships/sector/information_technology/stocks?offset=3&limit=1000").await;
    assert_eq!(tail["members"].as_array().unwrap()[..], sector["members"].as_array().unwrap()[3..]);
    s.stop().await;
}

/// Polls a server until `check` holds or the deadline passes; returns how long it took.
async fn converge(s: &TestServer, deadline: Duration, check: impl Fn(&Value) -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < deadline {
        let (_, body) = s.json("/api/relationships/etf/TST/holdings").await;
        if check(&body) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Two servers on one database. On PostgreSQL one hears the change by notification only (its poll is too slow to
/// explain convergence) and the other by polling only (it does not listen: a lost notification); on SQLite both
/// poll. A load through the CLI reaches both.
async fn replicas_converge(db: &TestDb) {
    seed(db).await;
    let postgres = db.url.starts_with("postgres");
    let slow_poll = WatchOptions { poll: Duration::from_secs(600), ..quick_watch() };
    let notified = TestServer::start(db, options(None, if postgres { slow_poll } else { quick_watch() })).await;
    let polling = TestServer::start(db, options(None, WatchOptions { listen: false, ..quick_watch() })).await;
    assert_eq!(notified.json("/api/relationships/etf/TST/holdings").await.1["total"], 5);
    let file = db.dir.path().join("TST.csv");
    std::fs::write(&file, "Ticker,Weight\nMSFT,60\nAAPL,40\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url, "load", "holdings", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let changed = |b: &Value| b["total"] == 2;
    let a = converge(&notified, Duration::from_secs(5), changed).await;
    let b = converge(&polling, Duration::from_secs(5), changed).await;
    eprintln!("replicas saw the CLI load after {a:?} (notified) and {b:?} (polling)");
    assert!(a.is_some(), "the notified replica never saw the load");
    assert!(b.is_some(), "the polling replica never saw the load");
    notified.stop().await;
    polling.stop().await;
}

/// While the snapshot is rebuilt every 100 ms and loads keep changing an ETF, concurrent readers never get an
/// error, and every answer is one whole version: its body's version matches its ETag and its rows are exactly
/// what that version holds.
async fn refresh_under_reads(db: &TestDb) {
    seed(db).await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) =
            (s.client.clone(), format!("{}/api/relationships/etf/TST/holdings", s.base), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut seen: Vec<(i64, u64)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client.get(&url).send().await.expect("request");
                assert_eq!(r.status(), StatusCode::OK);
                let etag = r.headers()["etag"].to_str().unwrap().to_string();
                let body: Value = r.json().await.expect("whole JSON body");
                let version = body["version"].as_i64().unwrap();
                assert!(etag.starts_with(&format!("\"{version}-")), "ETag {etag} vs body version {version}");
                assert_eq!(body["count"], body["holdings"].as_array().unwrap().len());
                seen.push((version, body["total"].as_u64().unwrap()));
            }
            seen
        }));
    }
    let refresher = {
        let (client, url, stop) = (s.client.clone(), format!("{}/admin/cache/refresh", s.base), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client.post(&url).header("X-API-Key", KEY).send().await.expect("refresh");
                assert_eq!(r.status(), StatusCode::OK);
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            n
        })
    };
    // The writer: alternate TST between 2 and 3 holdings, recording which version holds which.
    let mut expected: HashMap<i64, u64> = HashMap::new();
    expected.insert(db.store.data_version().await.unwrap(), 5);
    for i in 0..8 {
        let (csv, n) =
            if i % 2 == 0 { ("Ticker,Weight\nA,50\nB,50\n", 2) } else { ("Ticker,Weight\nA,40\nB,30\nC,30\n", 3) };
        db.load_ok(LoadKind::Holdings, &[("TST.csv", csv)], Mode::Full).await;
        expected.insert(db.store.data_version().await.unwrap(), n);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let refreshes = refresher.await.unwrap();
    let mut versions = std::collections::BTreeSet::new();
    for r in readers {
        for (version, total) in r.await.expect("reader never failed") {
            assert_eq!(expected.get(&version), Some(&total), "version {version} served {total} holdings");
            versions.insert(version);
        }
    }
    assert!(refreshes >= 5, "{refreshes} refreshes");
    assert!(versions.len() >= 3, "readers saw versions {versions:?}");
    s.stop().await;
}

/// Shapes TickStock's pages read: a NULL or empty description falls back to `TYPE: name`, `/admin/cache/stats`
/// carries the app's counters, and a `cache_entries` value shaped `{"value": [...]}` is a symbol list.
async fn tickstock_shapes(db: &TestDb) {
    seed(db).await;
    db.exec("UPDATE definition_groups SET description = NULL WHERE name = 'TST'").await;
    db.exec("UPDATE definition_groups SET description = '' WHERE name = 'DIA'").await;
    db.exec(
        "INSERT INTO cache_entries (type, name, key, value, environment) VALUES \
         ('stock_universe', 'custom', 'value_shape', '{\"value\": [\"MSFT\", \"AAPL\"]}', 'DEFAULT')",
    )
    .await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    let (_, groups) = s.json("/api/stock-groups?types=ETF").await;
    let description = |name: &str| {
        groups["groups"].as_array().unwrap().iter().find(|g| g["name"] == name).unwrap()["description"].clone()
    };
    assert_eq!((description("TST"), description("DIA")), ("ETF: TST".into(), "ETF: DIA".into()));
    let r = s.client.get(format!("{}/admin/historical-data/universes?types=ETF", s.base)).header("X-API-Key", KEY);
    let universes: Value = r.send().await.unwrap().json().await.unwrap();
    let tst = universes["universes"].as_array().unwrap().iter().find(|g| g["name"] == "TST").unwrap().clone();
    assert_eq!(tst["description"], "ETF: TST");
    let (status, symbols) = s.json("/api/universes/stock_universe:value_shape/symbols").await;
    assert_eq!(status, StatusCode::OK, "{symbols}");
    assert_eq!(symbols["symbols"], serde_json::json!(["AAPL", "MSFT"]));
    s.json("/api/relationships/etf/SPY/holdings").await;
    s.json("/api/relationships/etf/NOPE/holdings").await;
    let r = s.client.get(format!("{}/admin/cache/stats", s.base)).header("X-API-Key", KEY).send().await.unwrap();
    let stats: Value = r.json().await.unwrap();
    let st = &stats["stats"];
    // Three lookups: the value-shaped universe, SPY, and NOPE (the miss).
    assert_eq!(
        (st["hits"].as_u64(), st["misses"].as_u64(), st["total_requests"].as_u64()),
        (Some(2), Some(1), Some(3))
    );
    assert_eq!((st["evictions"].as_u64(), st["hit_rate"].as_f64()), (Some(0), Some(66.67)));
    assert!(st["loads"].as_u64().unwrap() >= 1);
    for k in ["etf_holdings", "stock_etfs", "stock_sector", "sector_stocks", "theme_members", "universe_members"] {
        assert!(st["cache_sizes"][k].as_u64().unwrap() > 0, "{k}: {st}");
    }
    s.stop().await;
}

/// Wrong keys are limited per client address: ten a minute (then one every six seconds), past which the address
/// waits — a 429 saying how long, and meanwhile even the right key is not compared; a request without a key is
/// still a 401. After the wait the right key works again.
async fn wrong_keys_are_limited(db: &TestDb) {
    seed(db).await;
    let s = TestServer::start(db, options(Some(KEY), quick_watch())).await;
    let stats = |key: &str| s.client.get(format!("{}/admin/cache/stats", s.base)).header("X-API-Key", key).send();
    for i in 0..10 {
        assert_eq!(stats(&format!("guess-{i}")).await.unwrap().status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let r = stats("guess-10").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = r.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("try again in"), "{body}");
    assert_eq!(stats(KEY).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "not compared while waiting");
    assert_eq!(s.get("/admin/cache/stats").await.status(), StatusCode::UNAUTHORIZED, "no key, no guess");
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    assert_eq!(stats(KEY).await.unwrap().status(), StatusCode::OK, "after the wait");
    s.stop().await;
}

contract!(
    tickstock_shapes,
    routes_answer_in_their_shapes,
    errors_are_problems,
    admin_needs_the_key,
    wrong_keys_are_limited,
    etags_and_304,
    pagination,
    replicas_converge,
    refresh_under_reads
);

/// The OpenAPI document lists every route and is stable (a snapshot); the docs page is served from the binary.
#[tokio::test]
async fn openapi_document_and_docs_page() {
    let doc = serde_json::to_value(api::openapi()).unwrap();
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for p in [
        "/api/relationships/etf/{symbol}/holdings",
        "/api/relationships/stock/{symbol}/info",
        "/api/relationships/sector/{key}/stocks",
        "/api/relationships/theme/{key}/members",
        "/api/relationships/stats",
        "/api/universes",
        "/api/universes/{key}/symbols",
        "/api/stock-groups",
        "/admin/historical-data/universes",
        "/admin/cache/stats",
        "/admin/cache/refresh",
        "/admin/cache/warm",
        "/health",
        "/ready",
        "/metrics",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    insta::assert_json_snapshot!("openapi", doc);

    let db = TestDb::new(universe::store::Backend::Sqlite).await;
    let s = TestServer::start(&db, options(None, quick_watch())).await;
    let (status, served) = s.json("/api/openapi.json").await;
    assert_eq!((status, &served), (StatusCode::OK, &doc));
    let page = s.get("/api/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js") && !html.contains("https://"), "assets are local");
    let js = s.get("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.bytes().await.unwrap().len() > 100_000);
    s.stop().await;
    db.cleanup().await;
}
