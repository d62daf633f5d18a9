//! Production mode against a real Redis (a `redis-server` started per test on a free loopback port; `scripts/test.sh`
//! installs it when missing), real databases and the mock market API: TickStock's exact message published with a
//! plain client runs and its status hash reads as the app reads it; two workers run a job once; cancel over the
//! control channel; invalid and oversized messages end `failed` without stopping the worker.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use universe::bars::BarSource;
use universe::domain::{Environment, JobStatus};
use universe::jobs::WorkerOptions;
use universe::jobs::redis::{CONTROL_CHANNEL, DATA_LOAD_CHANNEL, RedisBus, STATUS_PREFIX};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{TestDb, contract};
use crate::market::client;

/// A throwaway redis-server.
pub struct RedisServer {
    child: Child,
    port: u16,
    /// `redis://127.0.0.1:PORT/0`.
    pub url: String,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers.
    pub async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port).await
    }

    /// Kills the server (it keeps nothing on disk) and starts a fresh one on the same port.
    pub async fn restart(&mut self, down_for: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        tokio::time::sleep(down_for).await;
        *self = Self::start_on(self.port).await;
    }

    async fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run the tests with scripts/test.sh, which installs it");
        let url = format!("redis://127.0.0.1:{port}/0");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(c) = redis::Client::open(url.as_str())
                && let Ok(mut conn) = c.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            {
                break;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        RedisServer { child, port, url }
    }

    /// A plain client connection, as TickStock's app has.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Any aggregates request gets one bar, after `delay`.
struct OneBar(Duration);

impl Respond for OneBar {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_raw(
                r#"{"status":"OK","results":[{"o":1,"h":2,"l":0.5,"c":1.5,"v":100,"t":1763701200000}]}"#,
                "application/json",
            )
            .set_delay(self.0)
    }
}

pub(crate) async fn market(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/v2/aggs/ticker/")).respond_with(OneBar(delay)).mount(&server).await;
    server
}

/// A worker (intake + stream consumer) in this process, stopped when the returned sender is dropped or sent.
async fn start_worker(
    db: &TestDb,
    redis: &RedisServer,
    server: &MockServer,
    id: &str,
) -> tokio::sync::oneshot::Sender<()> {
    start_worker_with(db, redis, server, id, Duration::from_secs(10)).await
}

/// [`start_worker`] with a stream visibility timeout.
async fn start_worker_with(
    db: &TestDb,
    redis: &RedisServer,
    server: &MockServer,
    id: &str,
    visibility: Duration,
) -> tokio::sync::oneshot::Sender<()> {
    start_worker_task(db, redis, server, id, visibility, |_| {}).await.0
}

/// Starts a worker; returns its stop signal and its task (awaited: the worker has stopped).
async fn start_worker_task(
    db: &TestDb,
    redis: &RedisServer,
    server: &MockServer,
    id: &str,
    visibility: Duration,
    adjust: impl FnOnce(&mut WorkerOptions),
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let bus = RedisBus::connect(&redis.url, db.store.database_id().await.unwrap()).await.unwrap();
    let mut options = WorkerOptions::new(Environment::Default);
    options.id = id.to_string();
    options.tick = Duration::from_millis(100);
    options.lease = Duration::from_secs(5);
    adjust(&mut options);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (store, source) = (db.store.clone(), BarSource::massive(client(server)));
    let task = tokio::spawn(async move {
        universe::jobs::redis::run(store, source, options, bus, visibility, async {
            let _ = rx.await;
        })
        .await;
    });
    (tx, task)
}

/// Waits until `n` clients listen on the job channel (pub/sub keeps nothing for late subscribers).
pub(crate) async fn wait_subscribers(redis: &RedisServer, n: i64) {
    let mut c = redis.conn().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counts: Vec<(String, i64)> =
            redis::cmd("PUBSUB").arg("NUMSUB").arg(DATA_LOAD_CHANNEL).query_async(&mut c).await.unwrap();
        if counts.first().is_some_and(|(_, k)| *k >= n) {
            return;
        }
        assert!(Instant::now() < deadline, "workers never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the status hash until its status is one of `until`; returns the hash.
async fn wait_status(redis: &RedisServer, job_id: &str, until: &[&str]) -> std::collections::HashMap<String, String> {
    let mut c = redis.conn().await;
    let key = format!("{STATUS_PREFIX}{job_id}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut c).await.unwrap();
        if kind == "hash" {
            let h: std::collections::HashMap<String, String> = c.hgetall(&key).await.unwrap();
            if h.get("status").is_some_and(|s| until.contains(&s.as_str())) {
                return h;
            }
        }
        assert!(Instant::now() < deadline, "job {job_id} never reached {until:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// TickStockAppV2's trigger-universe-load message, field for field (compat §2.1).
pub(crate) fn app_message(job_id: &str, symbols: &[&str]) -> String {
    serde_json::json!({
        "job_id": job_id, "job_type": "csv_universe_load", "source": "custom", "universe_key": "custom",
        "symbols": symbols, "timeframes": ["day", "week"], "years": 0.25, "run_analysis_after_import": false,
        "requested_by": "admin", "timestamp": "2026-11-21T09:00:00.123456"
    })
    .to_string()
}

async fn the_apps_message_runs_and_its_status_hash_reads_like_the_app(db: &TestDb) {
    let redis = RedisServer::start().await;
    let server = market(Duration::ZERO).await;
    let _stop = start_worker(db, &redis, &server, "w1").await;
    wait_subscribers(&redis, 1).await;
    let mut app = redis.conn().await;
    let id = "5b0c8f0e-2a1d-4c53-9a57-0e1f6f3b7a11";
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message(id, &["AAPL", "MSFT"])).await.unwrap();
    let h = wait_status(&redis, id, &["completed", "completed_with_errors", "failed"]).await;
    assert_eq!(h["status"], "completed", "{h:?}");
    assert_eq!(h["progress"], "100");
    assert_eq!(
        (h["total_symbols"].as_str(), h["processed_symbols"].as_str(), h["failed_symbols"].as_str()),
        ("2", "2", "0")
    );
    assert_eq!(h["ohlcv_records_loaded"], "4");
    assert!(h["started_at"].contains('T') && h["completed_at"].contains('T'));
    let ttl: i64 = app.ttl(format!("{STATUS_PREFIX}{id}")).await.unwrap();
    assert!(ttl > 86_000 && ttl <= 86_400, "ttl {ttl}");
    let heartbeat: Option<String> = app.get("tickstockpl:heartbeat").await.unwrap();
    assert!(heartbeat.is_some());
    let job = db.store.job(id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.attempts), ("completed", 1));
}

async fn two_workers_run_a_job_once(db: &TestDb) {
    let redis = RedisServer::start().await;
    let server = market(Duration::from_millis(20)).await;
    let _a = start_worker(db, &redis, &server, "wa").await;
    let _b = start_worker(db, &redis, &server, "wb").await;
    wait_subscribers(&redis, 2).await;
    let symbols: Vec<String> = (0..12).map(|i| format!("T{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let mut app = redis.conn().await;
    let id = "job-once";
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message(id, &refs)).await.unwrap();
    let h = wait_status(&redis, id, &["completed", "completed_with_errors", "failed"]).await;
    assert_eq!(h["status"], "completed", "{h:?}");
    let job = db.store.job(id).await.unwrap().unwrap();
    assert_eq!(job.attempts, 1, "one worker ran it");
    assert_eq!(db.store.jobs(None, 10).await.unwrap().len(), 1);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 24, "12 symbols × 2 timeframes, each fetched once");
}

async fn cancel_over_the_control_channel(db: &TestDb) {
    let redis = RedisServer::start().await;
    let server = market(Duration::from_millis(150)).await;
    let _stop = start_worker(db, &redis, &server, "w1").await;
    wait_subscribers(&redis, 1).await;
    let symbols: Vec<String> = (0..40).map(|i| format!("C{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let mut app = redis.conn().await;
    let id = "job-cancel";
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message(id, &refs)).await.unwrap();
    wait_status(&redis, id, &["running"]).await;
    let cancel = serde_json::json!({ "job_id": id, "action": "cancel", "requested_by": "admin", "timestamp": "2026-11-21T09:00:01" });
    let _: i64 = app.publish(CONTROL_CHANNEL, cancel.to_string()).await.unwrap();
    let h = wait_status(&redis, id, &["cancelled", "completed"]).await;
    assert_eq!(h["status"], "cancelled", "{h:?}");
    let job = db.store.job(id).await.unwrap().unwrap();
    assert!(job.counts.tasks_done < 80, "stopped at a task boundary: {}", job.counts.tasks_done);
}

async fn bad_messages_fail_and_the_worker_goes_on(db: &TestDb) {
    let redis = RedisServer::start().await;
    let server = market(Duration::ZERO).await;
    let _stop = start_worker(db, &redis, &server, "w1").await;
    wait_subscribers(&redis, 1).await;
    let mut app = redis.conn().await;
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, "{not json").await.unwrap();
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, "x".repeat(2 << 20)).await.unwrap();
    let bad_tf = serde_json::json!({ "job_id": "bad-tf", "job_type": "csv_universe_load", "symbols": ["AAPL"], "timeframes": ["5min"] });
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, bad_tf.to_string()).await.unwrap();
    let unknown = serde_json::json!({ "job_id": "bad-universe", "job_type": "csv_universe_load", "universe_key": "nosuch", "symbols": [] });
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, unknown.to_string()).await.unwrap();
    let h = wait_status(&redis, "bad-tf", &["failed"]).await;
    assert!(h["message"].contains("unknown timeframe \"5min\""), "{h:?}");
    let h = wait_status(&redis, "bad-universe", &["failed"]).await;
    assert!(h["message"].contains("\"nosuch\""), "{h:?}");
    // The garbage and the oversized message are recorded as failed jobs with their reasons.
    let failed = db.store.jobs(Some(JobStatus::Failed), 10).await.unwrap();
    let reasons: Vec<String> = failed.iter().filter_map(|j| j.message.clone()).collect();
    assert!(reasons.iter().any(|m| m.starts_with("message is not a JSON object")), "{reasons:?}");
    assert!(reasons.iter().any(|m| m.contains("over the 1048576-byte limit")), "{reasons:?}");
    // A message without a string job_id is recorded in the jobs table, but no status hash appears under a
    // made-up id (the app would list it as an unexplained failure).
    let numeric = serde_json::json!({ "job_id": 42, "job_type": "csv_universe_load", "symbols": ["AAPL"] });
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, numeric.to_string()).await.unwrap();
    // The worker is still there.
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message("after-bad", &["AAPL"])).await.unwrap();
    assert_eq!(wait_status(&redis, "after-bad", &["completed", "failed"]).await["status"], "completed");
    let mut keys: Vec<String> = app.keys(format!("{STATUS_PREFIX}*")).await.unwrap();
    keys.sort();
    let expected: Vec<String> =
        ["after-bad", "bad-tf", "bad-universe"].iter().map(|k| format!("{STATUS_PREFIX}{k}")).collect();
    assert_eq!(keys, expected);
    assert_eq!(db.store.jobs(Some(JobStatus::Failed), 10).await.unwrap().len(), 5, "every bad message is recorded");
}

/// A job with failed symbols reads `completed` on the status hash (TickStock's page stops polling only on
/// completed, failed and cancelled), with `failed_symbols` and the failures named in `message`; our own API keeps
/// `completed_with_errors`.
async fn completed_with_errors_reads_completed_to_the_app(db: &TestDb) {
    let redis = RedisServer::start().await;
    let server = MockServer::start().await;
    Mock::given(path_regex("^/v2/aggs/ticker/BAD/")).respond_with(ResponseTemplate::new(403)).mount(&server).await;
    Mock::given(path_regex("^/v2/aggs/ticker/")).respond_with(OneBar(Duration::ZERO)).mount(&server).await;
    let _stop = start_worker(db, &redis, &server, "w1").await;
    wait_subscribers(&redis, 1).await;
    let mut app = redis.conn().await;
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message("with-errors", &["AAPL", "BAD"])).await.unwrap();
    let h = wait_status(&redis, "with-errors", &["completed", "completed_with_errors", "failed"]).await;
    assert_eq!((h["status"].as_str(), h["failed_symbols"].as_str()), ("completed", "1"), "{h:?}");
    assert!(h["message"].starts_with("Completed with errors: ") && h["message"].contains("Failed: BAD day: "), "{h:?}");
    let job = db.store.job("with-errors").await.unwrap().unwrap();
    assert_eq!(job.status, "completed_with_errors");
}

/// The heartbeat is refreshed on its own timer while a job runs, and the stream is trimmed of finished entries
/// without losing one still pending (a dead worker's, which XAUTOCLAIM will hand on).
async fn heartbeat_lives_and_the_stream_is_trimmed(db: &TestDb) {
    use universe::jobs::redis::STREAM_KEY;
    let group = universe::jobs::redis::group_for(&db.store.database_id().await.unwrap());
    let group = group.as_str();
    let redis = RedisServer::start().await;
    let server = market(Duration::from_millis(100)).await;
    let fast = |o: &mut WorkerOptions| {
        o.heartbeat_every = Duration::from_millis(200);
        o.sweep_every = Duration::from_millis(200);
    };
    let (stop, w1) = start_worker_task(db, &redis, &server, "w1", Duration::from_secs(30), fast).await;
    wait_subscribers(&redis, 1).await;
    let mut app = redis.conn().await;
    for i in 0..5 {
        let id = format!("short-{i}");
        let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message(&id, &["AAPL"])).await.unwrap();
        wait_status(&redis, &id, &["completed", "failed"]).await;
    }
    // A job longer than the heartbeat's refresh: the key comes back while the job runs.
    let symbols: Vec<String> = (0..40).map(|i| format!("L{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message("long", &refs)).await.unwrap();
    wait_status(&redis, "long", &["running"]).await;
    let _: () = app.del("tickstockpl:heartbeat").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let beat: Option<String> = app.get("tickstockpl:heartbeat").await.unwrap();
        if beat.is_some() {
            let status: String = app.hget(format!("{STATUS_PREFIX}long"), "status").await.unwrap();
            assert_eq!(status, "running", "refreshed while the job ran");
            break;
        }
        assert!(Instant::now() < deadline, "the heartbeat never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_status(&redis, "long", &["completed", "failed"]).await;
    // The status is written before the entry is acknowledged: stop w1 only once it has been (a worker stopped in
    // between leaves the entry for XAUTOCLAIM, which is not what this test is about).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending: redis::streams::StreamPendingReply = app.xpending(STREAM_KEY, group).await.unwrap();
        if pending.count() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "w1 never acknowledged its last entry");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A dead worker's entry: delivered, never acknowledged (w1 has stopped: it cannot take the entry first).
    let _ = stop.send(());
    w1.await.unwrap();
    let ghost: String = app.xadd(STREAM_KEY, "*", &[("job_id", "ghost")]).await.unwrap();
    let opts = redis::streams::StreamReadOptions::default().group(group, "dead").count(1);
    let _: redis::streams::StreamReadReply = app.xread_options(&[STREAM_KEY], &[">"], &opts).await.unwrap();
    assert!(app.xlen::<_, usize>(STREAM_KEY).await.unwrap() > 1, "the last finished entry and the ghost");
    // A group nobody reads (the one before an upgrade, or a database gone) does not hold trimming back.
    let _: () = app.xgroup_create(STREAM_KEY, "universe-workers", "0").await.unwrap();
    let _stop = start_worker_task(db, &redis, &server, "w2", Duration::from_secs(30), fast).await.0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.xlen::<_, usize>(STREAM_KEY).await.unwrap() != 1 {
        if Instant::now() >= deadline {
            let entries: redis::streams::StreamRangeReply = app.xrange_all(STREAM_KEY).await.unwrap();
            let groups: redis::streams::StreamInfoGroupsReply = app.xinfo_groups(STREAM_KEY).await.unwrap();
            let ids: Vec<(&str, Vec<&String>)> =
                entries.ids.iter().map(|e| (e.id.as_str(), e.map.keys().collect())).collect();
            let groups: Vec<(&str, usize, &str)> =
                groups.groups.iter().map(|g| (g.name.as_str(), g.pending, g.last_delivered_id.as_str())).collect();
            panic!("the stream was not trimmed: entries {ids:?}, groups {groups:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pending: redis::streams::StreamPendingCountReply =
        app.xpending_count(STREAM_KEY, group, "-", "+", 10).await.unwrap();
    let ids: Vec<&str> = pending.ids.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [ghost.as_str()], "the pending entry is kept");
}

/// Redis restarted (empty: no persistence) in the middle of a job: the job completes, its status hash comes back
/// with the final state, and the worker re-subscribes and runs the next job.
async fn redis_restart_during_a_job(db: &TestDb) {
    let mut redis = RedisServer::start().await;
    let server = market(Duration::from_millis(100)).await;
    let _stop = start_worker(db, &redis, &server, "w1").await;
    wait_subscribers(&redis, 1).await;
    let symbols: Vec<String> = (0..20).map(|i| format!("R{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let mut app = redis.conn().await;
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message("job-restart", &refs)).await.unwrap();
    wait_status(&redis, "job-restart", &["running"]).await;
    redis.restart(Duration::from_millis(500)).await;
    let h = wait_status(&redis, "job-restart", &["completed", "completed_with_errors", "failed"]).await;
    assert_eq!(h["status"], "completed", "{h:?}");
    let job = db.store.job("job-restart").await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.counts.tasks_done), ("completed", 40));
    // Re-subscribed, and the stream's group was recreated: a new job runs.
    wait_subscribers(&redis, 1).await;
    let mut app = redis.conn().await;
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message("after-restart", &["AAPL"])).await.unwrap();
    assert_eq!(wait_status(&redis, "after-restart", &["completed", "failed"]).await["status"], "completed");
}

/// A worker process killed with SIGKILL mid-job in production mode: its stream entry goes idle, another worker
/// takes it over with XAUTOCLAIM after the visibility timeout, resumes the job without re-fetching recorded tasks,
/// and finishes it with the right counts and no duplicate bars.
async fn killed_worker_is_taken_over_through_the_stream(db: &TestDb) {
    let redis = RedisServer::start().await;
    let server = market(Duration::from_millis(150)).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url, "worker", "--redis-url", &redis.url, "--source", "massive", "--no-schedule"])
        .args(["--massive-api-key", "k", "--massive-url", &server.uri(), "--rate", "1000/s", "--concurrency", "1"])
        .args(["--lease-secs", "2", "--visibility-secs", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_subscribers(&redis, 1).await;
    let symbols: Vec<String> = (0..20).map(|i| format!("K{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let mut app = redis.conn().await;
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message("job-killed", &refs)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = db.store.job("job-killed").await.unwrap().map_or(0, |j| j.counts.tasks_done);
        if done >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "the child worker never progressed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let recorded = db.store.job_tasks("job-killed").await.unwrap();
    let _stop = start_worker_with(db, &redis, &server, "w2", Duration::from_secs(3)).await;
    let h = wait_status(&redis, "job-killed", &["completed", "completed_with_errors", "failed"]).await;
    assert_eq!(h["status"], "completed", "{h:?}");
    assert_eq!(h["ohlcv_records_loaded"], "40");
    let job = db.store.job("job-killed").await.unwrap().unwrap();
    assert_eq!((job.attempts, job.counts.tasks_done, job.counts.processed_symbols), (2, 40, 20));
    assert_eq!(
        db.store.count_bars(universe::domain::Timeframe::Day).await.unwrap()
            + db.store.count_bars(universe::domain::Timeframe::Week).await.unwrap(),
        40,
        "no duplicate bars"
    );
    for t in &recorded {
        let tf = if t.timeframe == "day" { "day" } else { "week" };
        let needle = format!("/ticker/{}/range/1/{tf}/", t.what);
        let n = server.received_requests().await.unwrap().iter().filter(|r| r.url.path().contains(&needle)).count();
        assert_eq!(n, 1, "{} {} was fetched again", t.what, t.timeframe);
    }
}

/// TickStock's trigger route against a server in production mode: the `submitted` status hash and the job
/// metadata key are written as the app's route writes them; a job queued behind a long one gets its hash back
/// after a Redis restart, while the long one still runs (the app marks a missing key "expired").
async fn trigger_route_hashes_survive_a_restart(db: &TestDb) {
    use crate::server::TestServer;
    db.seed_sample().await;
    let mut redis = RedisServer::start().await;
    let server = market(Duration::from_millis(100)).await;
    let _stop = start_worker_task(db, &redis, &server, "w1", Duration::from_secs(30), |o| {
        o.sweep_every = Duration::from_millis(200);
    })
    .await;
    wait_subscribers(&redis, 1).await;
    let options = universe::api::ServeOptions {
        api_key: Some("k".into()),
        watch: universe::cache::WatchOptions {
            poll: Duration::from_millis(200),
            max_age: Duration::from_secs(3600),
            listen: false,
        },
        bench_routes: false,
        jobs: universe::api::JobsOptions {
            bus: Some(RedisBus::connect(&redis.url, db.store.database_id().await.unwrap()).await.unwrap()),
            ..Default::default()
        },
        limits: Default::default(),
        alerts: None,
    };
    let web = TestServer::start(db, options).await;
    let mut app = redis.conn().await;
    let symbols: Vec<String> = (0..40).map(|i| format!("L{i}")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let _: i64 = app.publish(DATA_LOAD_CHANNEL, app_message("long", &refs)).await.unwrap();
    wait_status(&redis, "long", &["running"]).await;
    let r = web
        .client
        .post(format!("{}/admin/historical-data/trigger-universe-load", web.base))
        .header("X-API-Key", "k")
        .json(&serde_json::json!({ "universe_key": "dow30", "years": 1, "run_analysis_after_import": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let id = v["job_id"].as_str().unwrap().to_string();
    let h: std::collections::HashMap<String, String> = app.hgetall(format!("{STATUS_PREFIX}{id}")).await.unwrap();
    assert_eq!((h["status"].as_str(), h["progress"].as_str()), ("submitted", "0"), "{h:?}");
    assert_eq!(h["message"], "Loading 30 symbols from dow30");
    assert!(h["submitted_at"].contains('T'));
    let ttl: i64 = app.ttl(format!("{STATUS_PREFIX}{id}")).await.unwrap();
    assert!(ttl > 86_000, "ttl {ttl}");
    let meta: std::collections::HashMap<String, String> =
        app.hgetall(format!("tickstock.jobs.metadata:{id}")).await.unwrap();
    assert_eq!(
        (meta["run_analysis_after_import"].as_str(), meta["universe_key"].as_str(), meta["timeframe"].as_str()),
        ("true", "dow30", "daily")
    );
    // Redis restarts (empty) while the long job runs and the triggered one waits behind it.
    redis.restart(Duration::from_millis(300)).await;
    let mut app = redis.conn().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status: Option<String> = app.hget(format!("{STATUS_PREFIX}{id}"), "status").await.unwrap();
        if let Some(status) = status {
            assert_eq!(status, "queued");
            break;
        }
        assert!(Instant::now() < deadline, "the queued job's status hash never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(db.store.job("long").await.unwrap().unwrap().status, "running", "restored while the long job ran");
    let h = wait_status(&redis, &id, &["completed", "failed"]).await;
    assert_eq!(h["status"], "completed", "{h:?}");
    web.stop().await;
}

/// A worker connected to another database by mistake (an SQLite default left in place) shares the Redis: it
/// leaves this database's job alone, and this database's worker runs it.
async fn a_worker_on_another_database_leaves_the_job(db: &TestDb) {
    let other = TestDb::new(universe::store::Backend::Sqlite).await;
    assert_ne!(db.store.database_id().await.unwrap(), other.store.database_id().await.unwrap());
    let redis = RedisServer::start().await;
    let server = market(Duration::ZERO).await;
    let _wrong = start_worker(&other, &redis, &server, "wrong-db").await;
    wait_subscribers(&redis, 1).await;
    // A submission through this database's server: recorded here, handed to the stream.
    let spec =
        universe::jobs::message::parse(br#"{"job_id":"mine","job_type":"csv_universe_load","symbols":["AAPL"]}"#)
            .unwrap();
    jobs_submit(db, spec).await;
    let bus = RedisBus::connect(&redis.url, db.store.database_id().await.unwrap()).await.unwrap();
    assert!(bus.hand_over("mine").await.unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(db.store.job("mine").await.unwrap().unwrap().status, "queued", "the other database's worker left it");
    assert!(other.store.job("mine").await.unwrap().is_none());
    let _right = start_worker(db, &redis, &server, "right-db").await;
    let h = wait_status(&redis, "mine", &["completed", "failed"]).await;
    assert_eq!(h["status"], "completed", "{h:?}");
    assert_eq!(db.store.job("mine").await.unwrap().unwrap().attempts, 1);
    other.cleanup().await;
}

async fn jobs_submit(db: &TestDb, spec: universe::jobs::JobSpec) {
    universe::jobs::submit(&db.store, Environment::Default, spec, None).await.expect("submit");
}

contract!(
    killed_worker_is_taken_over_through_the_stream,
    redis_restart_during_a_job,
    the_apps_message_runs_and_its_status_hash_reads_like_the_app,
    two_workers_run_a_job_once,
    cancel_over_the_control_channel,
    bad_messages_fail_and_the_worker_goes_on,
    completed_with_errors_reads_completed_to_the_app,
    heartbeat_lives_and_the_stream_is_trimmed,
    trigger_route_hashes_survive_a_restart,
    a_worker_on_another_database_leaves_the_job,
);
