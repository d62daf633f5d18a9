//! Data-load jobs in embedded mode (the queue is the `jobs` table), on both backends: submit and run, counts and
//! task records, invalid jobs, cancel (queued and mid-job), failures kept per task, and crash recovery — a real
//! worker process killed with SIGKILL mid-job, whose job another worker resumes without re-fetching or
//! double-counting.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use universe::bars::BarSource;
use universe::domain::{Environment, JobStatus, Ticker, Timeframe};
use universe::jobs::{self, JobSpec, JobType, Target, Worker, WorkerOptions};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{TestDb, contract};
use crate::market::client;

fn spec(target: Target, timeframes: &[Timeframe], years: f64) -> JobSpec {
    JobSpec {
        job_id: jobs::new_job_id(),
        job_type: JobType::MultiTimeframeLoad,
        target,
        timeframes: timeframes.to_vec(),
        years,
        requested_by: Some("test".into()),
        point_in_time: None,
    }
}

fn symbols(list: &[&str]) -> Target {
    Target::Symbols(list.iter().map(|s| Ticker::parse(s).unwrap()).collect())
}

fn options(tick_ms: u64, lease_ms: u64) -> WorkerOptions {
    let mut o = WorkerOptions::new(Environment::Default);
    o.tick = Duration::from_millis(tick_ms);
    o.lease = Duration::from_millis(lease_ms);
    o.poll = Duration::from_millis(50);
    o
}

/// A mock Massive answering weekly aggregates with one bar per symbol, after `delay`; symbol `DENIED` gets 403.
struct WeekBars {
    delay: Duration,
}

impl Respond for WeekBars {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.url.path().contains("/DENIED/") {
            return ResponseTemplate::new(403).set_body_raw(
                r#"{"status":"NOT_AUTHORIZED","message":"Your plan doesn't include this data timeframe."}"#,
                "application/json",
            );
        }
        ResponseTemplate::new(200)
            .set_body_raw(
                r#"{"status":"OK","results":[{"o":1,"h":2,"l":0.5,"c":1.5,"v":100,"t":1710043200000}]}"#,
                "application/json",
            )
            .set_delay(self.delay)
    }
}

pub(crate) async fn week_server(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/v2/aggs/ticker/[^/]+/range/1/week/"))
        .respond_with(WeekBars { delay })
        .mount(&server)
        .await;
    server
}

async fn requests_for(server: &MockServer, symbol: &str) -> usize {
    let needle = format!("/ticker/{symbol}/");
    server.received_requests().await.unwrap().iter().filter(|r| r.url.path().contains(&needle)).count()
}

/// Submit a universe job, run it with the sample source: completed, with counts, task records and bars.
async fn submit_and_run(db: &TestDb) {
    db.seed_sample().await;
    let submitted = jobs::submit(
        &db.store,
        Environment::Default,
        spec(Target::UniverseKey("dow30".into()), &[Timeframe::Day, Timeframe::Week], 10.0),
        None,
    )
    .await
    .unwrap();
    assert_eq!(submitted.symbol_count, 30);
    assert!(submitted.created);
    let queued = db.store.job(&submitted.job_id).await.unwrap().unwrap();
    assert_eq!((queued.status.as_str(), queued.message.as_deref()), ("queued", Some("Loading 30 symbols from dow30")));
    let worker = Worker::new(db.store.clone(), BarSource::sample(), options(50, 5000));
    let end = worker.run_one().await.unwrap().unwrap();
    assert_eq!(end.status, "completed");
    let job = db.store.job(&submitted.job_id).await.unwrap().unwrap();
    assert_eq!(
        (job.counts.progress, job.counts.total_symbols, job.counts.processed_symbols, job.counts.failed_symbols),
        (100, 30, 30, 0)
    );
    assert_eq!((job.counts.tasks_done, job.counts.tasks_total), (60, 60));
    assert_eq!(
        job.counts.bars_loaded,
        db.store.count_bars(Timeframe::Day).await.unwrap() + db.store.count_bars(Timeframe::Week).await.unwrap()
    );
    assert!(job.started_at.is_some() && job.completed_at.is_some());
    assert_eq!(db.store.job_tasks(&submitted.job_id).await.unwrap().len(), 60);
    // The same id again is not a second job; nothing is left to run.
    let again = jobs::submit(
        &db.store,
        Environment::Default,
        JobSpec { job_id: submitted.job_id.clone(), ..spec(symbols(&["AAPL"]), &[Timeframe::Day], 1.0) },
        None,
    )
    .await
    .unwrap();
    assert!(!again.created);
    assert!(worker.run_one().await.unwrap().is_none());
}

/// Unknown universes are refused at submission; a message that cannot run is recorded `failed` with why.
async fn invalid_jobs_fail_with_a_reason(db: &TestDb) {
    let err = jobs::submit(
        &db.store,
        Environment::Default,
        spec(Target::UniverseKey("nosuch".into()), &[Timeframe::Day], 1.0),
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("\"nosuch\""), "{err}");
    let raw = br#"{"job_id":"bad-1","job_type":"csv_universe_load","symbols":["AAPL"],"timeframes":["5min"]}"#;
    let why = jobs::message::parse(raw).unwrap_err().to_string();
    jobs::record_invalid(&db.store, "bad-1", raw, &why).await.unwrap();
    let job = db.store.job("bad-1").await.unwrap().unwrap();
    assert_eq!(job.status, "failed");
    assert!(job.message.unwrap().contains("unknown timeframe \"5min\""));
    // A legacy csv_file job without a configured folder fails when it runs, saying what to configure.
    let s = spec(Target::CsvFile("sp_500.csv".into()), &[Timeframe::Day], 1.0);
    let v = serde_json::to_value(&s).unwrap();
    db.store.insert_job(&s.job_id, "csv_universe_load", &v, JobStatus::Queued, "legacy", 0).await.unwrap();
    let end = Worker::new(db.store.clone(), BarSource::sample(), options(50, 5000)).run_one().await.unwrap().unwrap();
    assert_eq!(end.status, "failed");
    let job = db.store.job(&s.job_id).await.unwrap().unwrap();
    assert!(job.message.unwrap().contains("UNIVERSE_CSV_DIR"));
}

/// Cancel: a queued job at once; a running job at its next task boundary.
async fn cancel_queued_and_running(db: &TestDb) {
    let queued = jobs::submit(&db.store, Environment::Default, spec(symbols(&["AAPL"]), &[Timeframe::Day], 1.0), None)
        .await
        .unwrap();
    assert_eq!(db.store.cancel_job(&queued.job_id).await.unwrap().unwrap().status, "cancelled");
    let server = week_server(Duration::from_millis(100)).await;
    let many: Vec<String> = (0..40).map(|i| format!("S{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let running = jobs::submit(&db.store, Environment::Default, spec(symbols(&refs), &[Timeframe::Week], 1.0), None)
        .await
        .unwrap();
    let worker = Worker::new(db.store.clone(), BarSource::massive(client(&server)), options(50, 5000));
    let handle = tokio::spawn(async move { worker.run_one().await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.store.job(&running.job_id).await.unwrap().unwrap().counts.tasks_done < 3 {
        assert!(Instant::now() < deadline, "the job never progressed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(db.store.cancel_job(&running.job_id).await.unwrap().unwrap().status, "cancelling");
    assert_eq!(handle.await.unwrap().unwrap().unwrap().status, "cancelled");
    let job = db.store.job(&running.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, "cancelled");
    assert!(job.counts.tasks_done < 40, "stopped early: {} tasks", job.counts.tasks_done);
    assert!(job.message.unwrap().starts_with("Cancelled after"));
}

/// One symbol the plan does not cover and one with no data: the job completes with errors, listing the failure.
async fn failures_are_listed(db: &TestDb) {
    let server = week_server(Duration::ZERO).await;
    let s = spec(symbols(&["AAPL", "DENIED", "MSFT"]), &[Timeframe::Week], 1.0);
    let id = jobs::submit(&db.store, Environment::Default, s, None).await.unwrap().job_id;
    let end = Worker::new(db.store.clone(), BarSource::massive(client(&server)), options(50, 5000))
        .run_one()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end.status, "completed_with_errors");
    let job = db.store.job(&id).await.unwrap().unwrap();
    assert_eq!((job.counts.failed_symbols, job.counts.processed_symbols, job.counts.bars_loaded), (1, 3, 2));
    let failures = job.failures.unwrap();
    assert_eq!(failures[0]["what"], "DENIED");
    assert!(failures[0]["reason"].as_str().unwrap().contains("plan does not cover"));
}

/// A worker process killed with SIGKILL mid-job: another worker takes the job over once the lease runs out, skips
/// the tasks the dead one recorded, and ends with every count right and no duplicate bars.
async fn killed_worker_is_resumed(db: &TestDb) {
    let server = week_server(Duration::from_millis(150)).await;
    let many: Vec<String> = (0..30).map(|i| format!("K{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let id = jobs::submit(&db.store, Environment::Default, spec(symbols(&refs), &[Timeframe::Week], 1.0), None)
        .await
        .unwrap()
        .job_id;
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args([
            "--database-url",
            &db.url,
            "worker",
            "--source",
            "massive",
            "--massive-api-key",
            "k",
            "--massive-url",
            &server.uri(),
        ])
        .args(["--rate", "1000/s", "--concurrency", "1", "--lease-secs", "2", "--no-schedule"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.store.job(&id).await.unwrap().unwrap().counts.tasks_done < 5 {
        assert!(Instant::now() < deadline, "the child worker never progressed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let dead = db.store.job(&id).await.unwrap().unwrap();
    assert_eq!(dead.status, "running");
    let recorded = db.store.job_tasks(&id).await.unwrap();
    assert_eq!(recorded.len() as i32, dead.counts.tasks_done, "counts and task records commit together");
    // The next worker waits for the lease to run out, then resumes.
    let worker = Worker::new(db.store.clone(), BarSource::massive(client(&server)), options(50, 5000));
    let end = loop {
        if let Some(end) = worker.run_one().await.unwrap() {
            break end;
        }
        assert!(Instant::now() < deadline, "the job was never taken over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(end.status, "completed");
    let job = db.store.job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.counts.tasks_done, job.counts.tasks_total, job.counts.processed_symbols, job.attempts),
        (30, 30, 30, 2)
    );
    assert_eq!(job.counts.bars_loaded, 30);
    assert_eq!(db.store.count_bars(Timeframe::Week).await.unwrap(), 30, "no duplicate bars");
    for t in &recorded {
        assert_eq!(requests_for(&server, &t.what).await, 1, "{} was fetched again after the resume", t.what);
    }
}

/// The app's "Refresh all ETFs" and index seeds (`universe_seed` with `universe_type` ETF, SP500, NASDAQ100)
/// resolve to symbols after our own organize has rebuilt the cache rows.
async fn universe_seed_types_after_organize(db: &TestDb) {
    db.seed_sample().await;
    for (t, at_least) in [("ETF", 14), ("SP500", 400), ("NASDAQ100", 90)] {
        let raw = format!(r#"{{"job_id":"seed-{t}","job_type":"universe_seed","universe_type":"{t}"}}"#);
        let spec = jobs::message::parse(raw.as_bytes()).unwrap();
        let symbols = jobs::resolve_target(&db.store, Environment::Default, &spec.target, None)
            .await
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        assert!(symbols.len() >= at_least, "{t}: {} symbols", symbols.len());
    }
}

contract!(
    universe_seed_types_after_organize,
    submit_and_run,
    invalid_jobs_fail_with_a_reason,
    cancel_queued_and_running,
    failures_are_listed,
    killed_worker_is_resumed
);

/// The HTTP routes with the worker running inside `serve` (embedded mode): submit (key required), follow the
/// Server-Sent Events to the end, read status and history, TickStock's trigger route, and the error shapes.
async fn jobs_over_http(db: &TestDb) {
    use crate::server::TestServer;
    db.seed_sample().await;
    let options = universe::api::ServeOptions {
        api_key: Some("k".into()),
        watch: universe::cache::WatchOptions {
            poll: Duration::from_millis(200),
            max_age: Duration::from_secs(3600),
            listen: true,
        },
        bench_routes: false,
        jobs: universe::api::JobsOptions { worker: Some(BarSource::sample()), ..Default::default() },
        limits: Default::default(),
        alerts: None,
    };
    let server = TestServer::start(db, options).await;
    let post = |path: &str, key: Option<&str>, body: serde_json::Value| {
        let mut r = server.client.post(format!("{}{path}", server.base)).json(&body);
        if let Some(k) = key {
            r = r.header("X-API-Key", k);
        }
        r.send()
    };
    let body = serde_json::json!({ "universe_key": "dow30", "timeframes": ["day", "month"], "years": 10 });
    assert_eq!(post("/api/jobs", None, body.clone()).await.unwrap().status(), 401);
    let r = post("/api/jobs", Some("k"), body).await.unwrap();
    assert_eq!(r.status(), 202);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["symbol_count"], 30);
    // Point in time: the sample's dow30 has history from its load only, so 2017 is refused saying where its
    // history starts; a symbol list cannot be point in time.
    let early = serde_json::json!({ "universe_key": "dow30", "point_in_time": true, "from": "2017-07-01" });
    let r = post("/api/jobs", Some("k"), early).await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let why = r.text().await.unwrap();
    assert!(why.contains("dow30 has no history before"), "{why}");
    let algebra = serde_json::json!({ "universe_key": "dow30&SPY", "point_in_time": true, "from": "2026-01-02" });
    let r = post("/api/jobs", Some("k"), algebra).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("union of groups"));
    let listed = serde_json::json!({ "symbols": ["AAPL"], "point_in_time": true, "from": "2017-07-01" });
    let r = post("/api/jobs", Some("k"), listed).await.unwrap();
    assert_eq!(r.status(), 400);
    let id = v["job_id"].as_str().unwrap().to_string();

    // Follow the events until the job ends.
    let mut events = server.client.get(format!("{}/api/jobs/{id}/events", server.base)).send().await.unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let mut last = serde_json::Value::Null;
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(chunk) =
        tokio::time::timeout(Duration::from_secs(30), events.chunk()).await.expect("an event in time").unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
        for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
            last = serde_json::from_str(line).unwrap_or(last);
        }
        assert!(Instant::now() < deadline);
    }
    assert!(text.contains("event: job"), "{text}");
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["progress"], 100);
    assert_eq!(last["total_symbols"], 30);

    let (status, job) = server.json(&format!("/api/jobs/{id}")).await;
    assert_eq!((status.as_u16(), job["status"].as_str()), (200, Some("completed")));
    assert_eq!(job["ohlcv_records_loaded"], 7560 + 390);
    let (_, list) = server.json("/api/jobs?status=completed&limit=5").await;
    assert_eq!(list["jobs"][0]["job_id"], id.as_str());
    let (status, problem) = server.json("/api/jobs/nope").await;
    assert_eq!((status.as_u16(), problem["status"].as_u64()), (404, Some(404)));
    assert_eq!(server.json("/api/jobs?limit=0").await.0.as_u16(), 400);

    // TickStock's route and its errors.
    let r = post(
        "/admin/historical-data/trigger-universe-load",
        Some("k"),
        serde_json::json!({ "universe_key": "dow30", "years": "0.5", "run_analysis_after_import": false }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (v["symbol_count"].as_u64(), v["message"].as_str()),
        (Some(30), Some("Job submitted: Loading 30 symbols"))
    );
    assert_eq!((v["timeframes"].clone(), v["years"].as_f64()), (serde_json::json!(["day"]), Some(0.5)));
    let r = post(
        "/admin/historical-data/trigger-universe-load",
        Some("k"),
        serde_json::json!({ "universe_key": "dow30", "years": "many" }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // TickStock's JS reads `error` from a body whose content type contains application/json.
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("years \"many\" is not a number"), "{v}");
    assert_eq!(v["error"], v["detail"]);
    let r = post(
        "/admin/historical-data/trigger-universe-load",
        Some("k"),
        serde_json::json!({ "universe_key": "nosuch" }),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("nosuch"));
    let r =
        post("/api/jobs", Some("k"), serde_json::json!({ "symbols": ["AAPL"], "timeframes": ["5min"] })).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("5min"));
    let r = post("/api/jobs/nope/cancel", Some("k"), serde_json::json!({})).await.unwrap();
    assert_eq!(r.status(), 404);
    server.stop().await;
}

contract!(jobs_over_http);
