//! Two servers and two workers (separate `universe` processes) on one PostgreSQL and one Redis, as production
//! runs them: 20 jobs submitted through both servers and TickStock's Redis message, one worker killed and one
//! server restarted mid-run. Every job runs to completion once, no bar is written twice, both servers see a load
//! within a second of its commit, and no request fails except on the server being restarted.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use universe::domain::{GroupKind, JobStatus, Timeframe};
use universe::jobs::redis::DATA_LOAD_CHANNEL;

use crate::helpers::TestDb;
use crate::redis_jobs::{RedisServer, app_message, market, wait_subscribers};

const KEY: &str = "deploy-key";

/// A child process killed when dropped, so a failed assertion leaves no server or worker behind.
struct Proc(Option<Child>);

impl Proc {
    fn pid(&self) -> u32 {
        self.0.as_ref().expect("running").id()
    }

    /// SIGKILL, as a crash.
    fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, as an operator's stop.
    fn stop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `universe serve` process in production mode; returns it and its address.
fn spawn_server(db: &str, redis: &str) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", db, "serve", "--bind", "127.0.0.1:0", "--api-key", KEY, "--redis-url", redis])
        .args(["--cache-poll-ms", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading, so the server never blocks on a full pipe.
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("Serving ").and_then(|l| l.split("http://").nth(1)) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let child = Proc(Some(child));
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the server prints its address");
    (child, addr)
}

/// A `universe worker` process in Redis mode.
fn spawn_worker(db: &str, redis: &str, market: &str) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", db, "worker", "--redis-url", redis, "--source", "massive", "--no-schedule"])
        .args(["--massive-api-key", "k", "--massive-url", market, "--rate", "1000/s", "--concurrency", "1"])
        .args(["--lease-secs", "2", "--visibility-secs", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a worker");
    Proc(Some(child))
}

fn symbols_of_job(i: usize) -> Vec<String> {
    (0..3).map(|s| format!("D{i}X{s}")).collect()
}

#[tokio::test]
async fn two_servers_two_workers_one_postgres_one_redis() {
    if !crate::helpers::postgres_available() {
        return;
    }
    let db = TestDb::new(universe::store::Backend::Postgres).await;
    db.seed_sample().await;
    let redis = RedisServer::start().await;
    let mock = market(Duration::from_millis(60)).await;
    let (mut server_a, addr_a) = spawn_server(&db.url, &redis.url);
    let (mut server_b, addr_b) = spawn_server(&db.url, &redis.url);
    let mut worker_1 = spawn_worker(&db.url, &redis.url, &mock.uri());
    let mut worker_2 = spawn_worker(&db.url, &redis.url, &mock.uri());
    wait_subscribers(&redis, 2).await;
    universe::market::install_crypto_provider();
    let http = reqwest::Client::new();

    // Readers on both servers the whole time; failures are counted per server, B's only outside its restart.
    let addrs = Arc::new(Mutex::new([addr_a.clone(), addr_b.clone()]));
    let restarting = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let (addrs, restarting, done, failures, reads, http) =
            (addrs.clone(), restarting.clone(), done.clone(), failures.clone(), reads.clone(), http.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let current = addrs.lock().unwrap().clone();
                for (i, addr) in current.iter().enumerate() {
                    let r = http.get(format!("http://{addr}/api/universes/dow30/symbols")).send().await;
                    let ok = matches!(&r, Ok(r) if r.status() == 200);
                    // B's failures count only outside its restart (checked after the answer, which may have
                    // taken the whole restart to fail).
                    let excused = i == 1 && restarting.load(Ordering::Relaxed);
                    if !ok && !excused {
                        failures.lock().unwrap().push(format!("server {i} ({addr}): {r:?}"));
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // 20 jobs: 7 through each server's /api/jobs, 6 as TickStock's Redis message.
    let submit = |addr: String, i: usize| {
        let http = http.clone();
        async move {
            let body = serde_json::json!({ "symbols": symbols_of_job(i), "timeframes": ["day"] });
            let r = http.post(format!("http://{addr}/api/jobs")).header("X-API-Key", KEY).json(&body).send().await;
            let r = r.expect("submit");
            assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
            r.json::<serde_json::Value>().await.unwrap()["job_id"].as_str().unwrap().to_string()
        }
    };
    let mut job_ids = Vec::new();
    for i in 0..7 {
        job_ids.push((submit(addr_a.clone(), i).await, i));
        job_ids.push((submit(addr_b.clone(), 7 + i).await, 7 + i));
    }
    let mut app = redis.conn().await;
    for i in 14..20 {
        let id = format!("app-job-{i}");
        let refs: Vec<String> = symbols_of_job(i);
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        let msg = app_message(&id, &refs).replace(r#""week""#, r#""day""#);
        let _: i64 = app.publish(DATA_LOAD_CHANNEL, msg).await.unwrap();
        job_ids.push((id, i));
    }

    // Mid-run: once a few jobs are done, kill worker 1 (SIGKILL) while it holds a job, and restart server B.
    let holder = format!("worker-{}", worker_1.pid());
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = loop {
        let completed = db.store.jobs(Some(JobStatus::Completed), 100).await.unwrap().len();
        let running = db.store.jobs(Some(JobStatus::Running), 100).await.unwrap();
        if completed >= 3
            && let Some(job) = running.into_iter().find(|j| j.worker.as_deref() == Some(holder.as_str()))
        {
            break job.id;
        }
        assert!(Instant::now() < deadline, "worker 1 never held a job after three completed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    worker_1.kill();
    // Whether it was still running at the kill (it may have finished in the last milliseconds). A final UPDATE
    // the worker sent just before dying still commits on the server, so look once it has had time to land (the
    // lease, 2 s, keeps any other worker from taking the job before then).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let interrupted = db.store.job(&held).await.unwrap().unwrap().status == JobStatus::Running;
    restarting.store(true, Ordering::Relaxed);
    server_b.stop();
    let (mut server_b, addr_b2) = spawn_server(&db.url, &redis.url);
    addrs.lock().unwrap()[1] = addr_b2.clone();
    tokio::time::sleep(Duration::from_millis(100)).await;
    restarting.store(false, Ordering::Relaxed);

    // Every job completes.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut pending = Vec::new();
        for (id, _) in &job_ids {
            let job = db.store.job(id).await.unwrap();
            if job.as_ref().is_none_or(|j| j.status != "completed") {
                pending.push(format!("{id}: {:?}", job.map(|j| (j.status, j.message))));
            }
        }
        if pending.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "jobs not completed: {pending:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Once each: every bar there (the tables' keys rule out a bar twice), and a job run by one worker throughout
    // fetched each symbol once.
    assert_eq!(db.store.count_bars(Timeframe::Day).await.unwrap(), 60, "20 jobs × 3 symbols");
    let requests = mock.received_requests().await.unwrap();
    let mut resumed = 0;
    for (id, i) in &job_ids {
        let job = db.store.job(id).await.unwrap().unwrap();
        assert!(job.attempts <= 2, "{id} started {} times", job.attempts);
        if job.attempts == 2 {
            resumed += 1;
            continue;
        }
        for s in symbols_of_job(*i) {
            let n = requests.iter().filter(|r| r.url.path().contains(&format!("/ticker/{s}/"))).count();
            assert_eq!(n, 1, "{id}: {s} fetched {n} times");
        }
    }
    assert!(resumed <= 1, "{resumed} jobs were resumed after the one kill");
    if interrupted {
        let job = db.store.job(&held).await.unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("completed", 2), "the killed worker's job was taken over");
    }
    eprintln!(
        "20 jobs completed, {resumed} resumed after the kill (held one: {interrupted}), {} Massive requests",
        requests.len()
    );

    // A load's commit reaches both servers within a second.
    let file = db.write_file("dow30.csv", "Symbol\nAAPL\nMSFT\nNVDA\n");
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url, "load", "universes", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed = Instant::now();
    for addr in [&addr_a, &addr_b2] {
        loop {
            let v: serde_json::Value = http
                .get(format!("http://{addr}/api/universes/dow30/symbols"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["symbols"] == serde_json::json!(["AAPL", "MSFT", "NVDA"]) {
                break;
            }
            assert!(committed.elapsed() < Duration::from_secs(1), "{addr} still serves {v}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    eprintln!("both servers served the load {:?} after its command exited", committed.elapsed());
    assert_eq!(db.symbols_of(GroupKind::Universe, "dow30").await, ["AAPL", "MSFT", "NVDA"]);

    done.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(reads.load(Ordering::Relaxed) > 50, "the readers ran");
    server_a.stop();
    server_b.stop();
    worker_2.stop();
    db.cleanup().await;
}
