//! Job overhead, excluding market latency: data-load jobs run by the worker against a zero-latency mock Massive
//! (wiremock), on SQLite (and on PostgreSQL when `BENCH_DATABASE_URL` names a superuser URL), plus the time from
//! a TickStock message published on Redis to its status hash saying `running` (when `redis-server` is installed).
//! Plain timing, no criterion: each run is seconds long. Run: `cargo bench --bench jobs` (RUNS=N, default 3).

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use universe::bars::BarSource;
use universe::domain::{Environment, Ticker, Timeframe};
use universe::jobs::{self, JobSpec, JobType, Target, Worker, WorkerOptions};
use universe::market::{MassiveClient, MassiveConfig};
use universe::store::Store;
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One year of daily bars (252) for a symbol, as the aggregates endpoint answers.
fn aggs_body() -> String {
    let start = 1_700_000_000_000i64;
    let bars: Vec<String> = (0..252)
        .map(|i| {
            format!(
                r#"{{"o":100.5,"h":101.25,"l":99.75,"c":100.0,"v":1234567,"vw":100.1,"n":1000,"t":{}}}"#,
                start + i * 86_400_000
            )
        })
        .collect();
    format!(r#"{{"status":"OK","resultsCount":252,"results":[{}]}}"#, bars.join(","))
}

/// One day of the whole market for `symbols`, as grouped daily answers.
fn grouped_body(symbols: &[String]) -> String {
    let rows: Vec<String> = symbols
        .iter()
        .map(|s| format!(r#"{{"T":"{s}","o":100.5,"h":101.25,"l":99.75,"c":100.0,"v":1234567,"vw":100.1,"n":1000,"t":1700000000000}}"#))
        .collect();
    format!(r#"{{"status":"OK","resultsCount":{},"results":[{}]}}"#, symbols.len(), rows.join(","))
}

async fn mock(symbols: &[String]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/v2/aggs/ticker/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(aggs_body(), "application/json"))
        .mount(&server)
        .await;
    Mock::given(path_regex("^/v2/aggs/grouped/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(grouped_body(symbols), "application/json"))
        .mount(&server)
        .await;
    server
}

fn source(server: &MockServer) -> BarSource {
    let mut c = MassiveConfig::new("bench");
    c.base_url = server.uri();
    c.rate = "1000000/s".parse().unwrap();
    c.concurrency = 4;
    BarSource::massive(MassiveClient::new(c).unwrap())
}

/// Runs one job of `symbols` × day to the end; returns (seconds, bars written).
async fn run_job(store: &Store, server: &MockServer, symbols: &[String]) -> (f64, i64) {
    let spec = JobSpec {
        job_id: jobs::new_job_id(),
        job_type: JobType::MultiTimeframeLoad,
        target: Target::Symbols(symbols.iter().map(|s| Ticker::parse(s).unwrap()).collect()),
        timeframes: vec![Timeframe::Day],
        years: 1.0,
        requested_by: Some("bench".into()),
        point_in_time: None,
    };
    let id = jobs::submit(store, Environment::Default, spec, None).await.unwrap().job_id;
    let worker = Worker::new(store.clone(), source(server), WorkerOptions::new(Environment::Default));
    let started = Instant::now();
    let end = worker.run_one().await.unwrap().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(end.status, "completed");
    let job = store.job(&id).await.unwrap().unwrap();
    (secs, job.counts.bars_loaded)
}

/// The same load through `load_bars` directly, as `universe bars load` runs it: no job, no progress records. The
/// ceiling for the job's overhead.
async fn run_direct(store: &Store, server: &MockServer, symbols: &[String]) -> (f64, i64) {
    let request = universe::bars::LoadRequest::new(
        symbols.iter().map(|s| Ticker::parse(s).unwrap()).collect(),
        vec![Timeframe::Day],
        universe::bars::RangeSpec::Years(1.0),
        universe::bars::Strategy::Auto,
        "bench".into(),
    );
    let started = Instant::now();
    let summary =
        universe::bars::load_bars(store, &source(server), &request, &universe::bars::load::Quiet).await.unwrap();
    (started.elapsed().as_secs_f64(), summary.total_bars() as i64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn bench_backend(name: &str, url: &str, runs: usize) {
    for (n, label, direct) in [
        (500usize, "500 symbols × day (auto: grouped daily, 252 requests)", false),
        (500, "the same, `load_bars` without a job (ceiling)", true),
        (200, "200 symbols × day (auto: per symbol, 200 requests)", false),
        (200, "the same, `load_bars` without a job (ceiling)", true),
    ] {
        let symbols: Vec<String> = (0..n).map(|i| format!("B{i}")).collect();
        let server = mock(&symbols).await;
        let mut times = Vec::new();
        let mut bars = 0;
        for _ in 0..runs {
            let store = Store::open(url).await.unwrap();
            // A fresh table each run: empty, so every bar is an insert.
            for tf in Timeframe::ALL {
                let sql = format!("DELETE FROM {}", tf.table());
                match &store {
                    Store::Sqlite(p) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.map(|_| ()),
                    Store::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.map(|_| ()),
                }
                .unwrap();
            }
            let (secs, b) = if direct {
                run_direct(&store, &server, &symbols).await
            } else {
                run_job(&store, &server, &symbols).await
            };
            times.push(secs);
            bars = b;
            store.close().await;
        }
        let t = median(times.clone());
        println!(
            "| {name} | {label} | {t:.3} s (runs: {}) | {:.0} symbols/s | {:.0} bars/s ({bars} bars) |",
            times.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(", "),
            n as f64 / t,
            bars as f64 / t
        );
    }
}

/// Publish → `running` on the status hash, through pub/sub intake, the stream and the claim.
async fn bench_publish_to_running(url: &str, runs: usize) {
    let port = free_port();
    let Ok(mut child) = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        println!("(redis-server not installed: publish → running not measured)");
        return;
    };
    let redis_url = format!("redis://127.0.0.1:{port}/0");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let symbols: Vec<String> = vec!["AAPL".into()];
    let server = mock(&symbols).await;
    let store = Store::open(url).await.unwrap();
    let bus = universe::jobs::redis::RedisBus::connect(&redis_url, store.database_id().await.unwrap()).await.unwrap();
    let mut options = WorkerOptions::new(Environment::Default);
    options.tick = Duration::from_millis(100);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(universe::jobs::redis::run(
        store.clone(),
        source(&server),
        options,
        bus,
        Duration::from_secs(60),
        async {
            let _ = rx.await;
        },
    ));
    let mut app = redis::Client::open(redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    // Wait for the subscription.
    loop {
        let n: Vec<(String, i64)> =
            redis::cmd("PUBSUB").arg("NUMSUB").arg("tickstock.jobs.data_load").query_async(&mut app).await.unwrap();
        if n[0].1 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut latencies = Vec::new();
    for i in 0..runs.max(5) {
        let id = format!("latency-{i}");
        let msg = serde_json::json!({ "job_id": id, "job_type": "csv_universe_load", "symbols": ["AAPL"], "timeframes": ["day"], "years": 1 });
        let key = format!("tickstock.jobs.status:{id}");
        let started = Instant::now();
        let _: i64 = app.publish("tickstock.jobs.data_load", msg.to_string()).await.unwrap();
        loop {
            let s: Option<String> = app.hget(&key, "status").await.unwrap();
            if matches!(s.as_deref(), Some("running" | "completed")) {
                break;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = tx.send(());
    let _ = task.await;
    let _ = child.kill();
    println!(
        "| publish → running (pub/sub → jobs table → stream → claim → status hash) | median {:.1} ms (runs: {}) |",
        median(latencies.clone()),
        latencies.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(", ")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn main() {
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        universe::market::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("jobs.db").display());
        println!("| backend | job | time (median) | symbols/s | bars/s |");
        println!("|---|---|---:|---:|---:|");
        bench_backend("SQLite", &sqlite, runs).await;
        if let Ok(admin) = std::env::var("BENCH_DATABASE_URL") {
            let pg = format!("{}/universe_jobs_bench", admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b));
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.unwrap();
            sqlx::query("DROP DATABASE IF EXISTS universe_jobs_bench WITH (FORCE)").execute(&mut c).await.unwrap();
            sqlx::query("CREATE DATABASE universe_jobs_bench").execute(&mut c).await.unwrap();
            bench_backend("PostgreSQL", &pg, runs).await;
        }
        bench_publish_to_running(&sqlite, runs).await;
    });
}
