//! The daily sync as jobs and services: TickStock's cache-sync API and the console's sync page over HTTP, the
//! schedule on a fake clock (one job per trading day, whoever queues it) and its wait for the end-of-day signal,
//! events on Redis, and a sync killed mid-transaction leaving nothing; on both backends.

use universe::domain::{Environment, RunStatus};
use universe::load::{LoadKind, Mode};
use universe::sync::daily::{self, ListSource, SyncMode, SyncRequest};

use crate::helpers::{TestDb, contract};
use crate::sync::{list, seed, sync};

/// The events a plain Redis subscriber receives, with TickStock's envelope: triggered, completed (job, status,
/// mode, total changes, universes updated, duration), one `universe_updated` per changed group, and the
/// delisting cleanup.
async fn events_on_redis(db: &TestDb) {
    use futures_util::StreamExt;
    let csv = seed(db).await;
    let dir = list(db, "day2", &csv.replace("S01,Stock 1,CS,XNAS\n", ""));
    let redis = crate::redis_jobs::RedisServer::start().await;
    let mut sub = redis::Client::open(redis.url.as_str()).unwrap().get_async_pubsub().await.unwrap();
    sub.psubscribe("tickstock:*").await.unwrap();
    let bus =
        universe::jobs::redis::RedisBus::connect(&redis.url, db.store.database_id().await.unwrap()).await.unwrap();
    let req = SyncRequest::new(Environment::Default, ListSource::Dir(dir), SyncMode::Full);
    universe::sync::events::publish_triggered(&bus, "job-1", &req, "test").await.unwrap();
    let result = daily::run(&db.store, &req).await;
    universe::sync::events::publish_completed(&bus, "job-1", &req, &result, std::time::Duration::from_millis(1500))
        .await
        .unwrap();
    let mut messages = sub.on_message();
    let mut got = Vec::new();
    while got.last().is_none_or(|(c, _, _)| c != "tickstock:cache:delisting_cleanup") {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), messages.next()).await.unwrap().unwrap();
        let body: serde_json::Value = serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap();
        assert_eq!((body["source"].as_str(), body["version"].as_str()), (Some("universe"), Some("1.0")), "{body}");
        assert!(body["timestamp"].is_string(), "{body}");
        got.push((
            m.get_channel_name().to_string(),
            body["event"].as_str().unwrap().to_string(),
            body["payload"].clone(),
        ));
    }
    let channels: Vec<(&str, &str)> = got.iter().map(|(c, e, _)| (c.as_str(), e.as_str())).collect();
    // One universe_updated per group and cache row the sync changed (S01 left SPY, sp500 and the rows built
    // from them).
    let universes = result.as_ref().unwrap().universes_updated.clone();
    let mut expected = vec![
        ("tickstock:cache:sync_triggered", "cache_sync_triggered"),
        ("tickstock:cache:sync_complete", "cache_sync_completed"),
    ];
    expected.extend(universes.iter().map(|_| ("tickstock:universe:updated", "universe_updated")));
    expected.push(("tickstock:cache:delisting_cleanup", "delisting_cleanup"));
    assert_eq!(channels, expected);
    assert_eq!(
        got[0].2,
        serde_json::json!({"job_id": "job-1", "mode": "full", "force": false, "triggered_by": "test"})
    );
    let done = &got[1].2;
    // S01 deactivated and removed from two groups, and the cache rows built from them.
    let report = result.as_ref().unwrap();
    let non_cache = report.changes.iter().filter(|c| c.change_type != "cache").count();
    assert_eq!(non_cache, 3);
    assert_eq!(
        (done["status"].as_str(), done["mode"].as_str(), done["total_changes"].as_u64()),
        (Some("completed"), Some("full"), Some(report.changes.len() as u64))
    );
    assert_eq!(done["universes_updated"], serde_json::json!(universes));
    for u in ["ETF:SPY", "UNIVERSE:sp500", "index_sp500", "all_stocks"] {
        assert!(universes.iter().any(|x| x == u), "{u} not in {universes:?}");
    }
    assert_eq!(done["duration_seconds"].as_f64(), Some(1.5));
    let announced: Vec<&str> = got[2..got.len() - 1].iter().filter_map(|(_, _, p)| p["universe"].as_str()).collect();
    assert_eq!(announced, universes);
    assert_eq!(got.last().unwrap().2["removed_count"].as_u64(), Some(1));
}

/// The console's sync page: a dry run from the form runs in the worker and writes nothing but its run record; the
/// real run then applies; the page lists both with their runs, and the change log names what changed and why.
async fn sync_from_the_console(db: &TestDb) {
    use crate::console::{client, post_form, session};
    use crate::server::TestServer;
    use reqwest::header::{COOKIE, LOCATION};
    let csv = seed(db).await;
    let dir = list(db, "day2", &(csv.replace("S01,Stock 1,CS,XNAS\n", "") + "NEWCO,New Co,CS,XNYS\n"));
    let mut options = crate::server::options(Some("k"), crate::server::quick_watch());
    options.jobs.worker = Some(universe::bars::BarSource::sample());
    options.jobs.sync = universe::jobs::sync_job::SyncSettings { source: Some(dir), ..Default::default() };
    let server = TestServer::start(db, options).await;
    let http = client();
    let (cookie, csrf) = session(&http, &server.base).await;
    let trigger = async |pairs: &[(&str, &str)]| -> String {
        let r = post_form(&http, format!("{}/admin/sync/trigger", server.base), pairs).header(COOKIE, &cookie).send();
        let r = r.await.unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()[LOCATION].to_str().unwrap().to_string();
        let id = to.trim_start_matches("/admin/sync?job=").to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !db.store.job(&id).await.unwrap().unwrap().status.is_final() {
            assert!(std::time::Instant::now() < deadline, "the sync never ended");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        id
    };
    let bad = post_form(&http, format!("{}/admin/sync/trigger", server.base), &[("csrf", &csrf), ("mode", "weekly")])
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let before = db.state().await;
    let dry = trigger(&[("csrf", &csrf), ("mode", "full"), ("dry_run", "1")]).await;
    let job = db.store.job(&dry).await.unwrap().unwrap();
    assert_eq!(job.status, "completed", "{:?}", job.message);
    assert_eq!(job.result.as_ref().unwrap()["status"], "dry_run");
    assert_eq!(db.state().await, before, "a dry run writes nothing");
    let real = trigger(&[("csrf", &csrf), ("mode", "full")]).await;
    assert_eq!(db.store.job(&real).await.unwrap().unwrap().result.unwrap()["status"], "applied");
    let page = http.get(format!("{}/admin/sync", server.base)).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&dry) && page.contains(&real), "both syncs listed");
    assert!(page.contains("dry_run") && page.contains("applied"), "{page}");
    assert!(page.contains("NEWCO") && page.contains("S01"), "the change log names the IPO and the delisting: {page}");
}

/// TickStock's cache-sync API: the trigger queues a `cache_sync` job (key required, mode checked), the in-process
/// worker runs it, and status, history, stats and `/api/jobs` show it in TickStock's shapes.
async fn cache_sync_over_http(db: &TestDb) {
    use crate::server::TestServer;
    let csv = seed(db).await;
    let dir = list(db, "day2", &(csv.replace("S01,Stock 1,CS,XNAS\n", "") + "NEWCO,New Co,CS,XNYS\n"));
    let options = universe::api::ServeOptions {
        api_key: Some("tickstock-cache-sync-2025".into()),
        watch: universe::cache::WatchOptions {
            poll: std::time::Duration::from_millis(200),
            max_age: std::time::Duration::from_secs(3600),
            listen: true,
        },
        bench_routes: false,
        jobs: universe::api::JobsOptions {
            worker: Some(universe::bars::BarSource::sample()),
            sync: universe::jobs::sync_job::SyncSettings { source: Some(dir), ..Default::default() },
            ..Default::default()
        },
        limits: Default::default(),
        alerts: None,
    };
    let server = TestServer::start(db, options).await;
    let call = |method: reqwest::Method, path: &str, key: Option<&str>, body: Option<serde_json::Value>| {
        let mut r = server.client.request(method, format!("{}{path}", server.base));
        if let Some(k) = key {
            r = r.header("X-API-Key", k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let key = Some("tickstock-cache-sync-2025");
    let trigger = "/api/processing/cache-sync/trigger";
    let body = serde_json::json!({"mode": "full", "force": false});
    assert_eq!(call(reqwest::Method::POST, trigger, None, Some(body.clone())).await.unwrap().status(), 401);
    let bad = call(reqwest::Method::POST, trigger, key, Some(serde_json::json!({"mode": "weekly"}))).await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("weekly"));
    let r = call(reqwest::Method::POST, trigger, key, Some(body)).await.unwrap();
    assert_eq!(r.status(), 202);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!((v["success"].as_bool(), v["mode"].as_str()), (Some(true), Some("full")), "{v}");
    assert_eq!(v["message"], "Cache synchronization (full) started");
    let id = v["job_id"].as_str().unwrap().to_string();

    let status_path = format!("/api/processing/cache-sync/status/{id}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        let s: serde_json::Value =
            call(reqwest::Method::GET, &status_path, key, None).await.unwrap().json().await.unwrap();
        if matches!(s["status"].as_str(), Some("completed" | "failed")) {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "{s}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        (status["status"].as_str(), status["triggered_by"].as_str()),
        (Some("completed"), Some("api")),
        "{status}"
    );
    assert_eq!(status["mode"], "full");
    assert!(status["duration_seconds"].as_f64().is_some() && status["error_details"].is_null(), "{status}");
    let result = &status["result"];
    assert_eq!(
        (result["delisted"].as_u64(), result["added"].as_u64(), result["ipos"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert!(result["total_changes"].as_u64().unwrap() >= 4, "{result}");
    let run_id = result["run_id"].as_i64().unwrap();
    assert!(db.store.sync_changes(None, Some("S01"), 10).await.unwrap().iter().all(|c| c.run_id == Some(run_id)));
    assert_eq!(db.store.symbols().await.unwrap()["S01"].active, Some(false));

    let history: serde_json::Value =
        call(reqwest::Method::GET, "/api/processing/cache-sync/history?limit=5&offset=0", key, None)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        (history["total"].as_i64(), history["limit"].as_i64(), history["offset"].as_i64()),
        (Some(1), Some(5), Some(0))
    );
    assert_eq!(history["jobs"][0]["job_id"], id.as_str());
    assert_eq!(history["jobs"][0]["has_errors"], false);
    let stats: serde_json::Value =
        call(reqwest::Method::GET, "/api/processing/cache-sync/stats", key, None).await.unwrap().json().await.unwrap();
    assert_eq!(stats["job_statistics"]["total_jobs_7d"], 1);
    assert_eq!(stats["job_statistics"]["successful_jobs_7d"], 1);
    let sp500 = stats["universes"].as_array().unwrap().iter().find(|u| u["universe"] == "index_sp500").unwrap();
    assert_eq!(sp500["symbol_count"], 1, "S01 left the S&P 500 row: {sp500}");
    let missing = call(reqwest::Method::GET, "/api/processing/cache-sync/status/nope", key, None).await.unwrap();
    assert_eq!(missing.status(), 404);
    // Our own job list shows it too.
    let (_, jobs) = server.json("/api/jobs?limit=5").await;
    assert_eq!(
        (jobs["jobs"][0]["job_id"].as_str(), jobs["jobs"][0]["job_type"].as_str()),
        (Some(id.as_str()), Some("cache_sync"))
    );
}

/// The schedule on a fake clock: one job per trading day whoever queues it (two workers at once queue one), none
/// on the weekend or Thanksgiving, and a worker started after missed days queues the latest due day once. Then a
/// worker runs the queued syncs from the folder.
async fn schedule_on_a_fake_clock(db: &TestDb) {
    use chrono::TimeZone;
    use universe::sync::schedule::{self, Schedule};
    let csv = seed(db).await;
    let dir = list(db, "day2", &(csv.replace("S01,Stock 1,CS,XNAS\n", "") + "NEWCO,New Co,CS,XNYS\n"));
    let ny = |m: u32, d: u32, h: u32, min: u32| {
        chrono_tz::America::New_York.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap().with_timezone(&chrono::Utc)
    };
    let s = Schedule::new(schedule::default_time());
    let queued = |r: Option<(chrono::NaiveDate, universe::jobs::Submitted)>| r.map(|(d, _)| d.to_string());
    // First start, Friday before the slot: Thursday's sync is due (caught up once).
    assert_eq!(
        queued(schedule::tick(&db.store, &s, None, ny(11, 20, 16, 5)).await.unwrap()).as_deref(),
        Some("2026-11-19")
    );
    assert_eq!(queued(schedule::tick(&db.store, &s, None, ny(11, 20, 16, 6)).await.unwrap()), None);
    // Two workers at Friday's slot: one job.
    let (a, b) = tokio::join!(
        schedule::tick(&db.store, &s, None, ny(11, 20, 16, 10)),
        schedule::tick(&db.store, &s, None, ny(11, 20, 16, 10))
    );
    let mut both = [queued(a.unwrap()), queued(b.unwrap())];
    both.sort();
    assert_eq!(both, [None, Some("2026-11-20".to_string())]);
    // The weekend adds nothing.
    assert_eq!(queued(schedule::tick(&db.store, &s, None, ny(11, 22, 18, 0)).await.unwrap()), None);
    // Down all week (Thanksgiving included): Monday evening queues Monday's sync once, not one per missed day.
    assert_eq!(
        queued(schedule::tick(&db.store, &s, None, ny(11, 30, 17, 0)).await.unwrap()).as_deref(),
        Some("2026-11-30")
    );
    assert_eq!(queued(schedule::tick(&db.store, &s, None, ny(11, 30, 23, 0)).await.unwrap()), None);
    let (jobs, total) = db.store.jobs_of_type("cache_sync", 10, 0).await.unwrap();
    let mut ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    ids.sort();
    assert_eq!((ids, total), (vec!["cache_sync-2026-11-19", "cache_sync-2026-11-20", "cache_sync-2026-11-30"], 3));

    // A worker runs them: the first applies the day's list, the next two find nothing to change.
    let mut options = universe::jobs::WorkerOptions::new(Environment::Default);
    options.sync.source = Some(dir);
    let worker = universe::jobs::Worker::new(db.store.clone(), universe::bars::BarSource::sample(), options);
    let mut messages = Vec::new();
    while let Some(end) = worker.run_one().await.unwrap() {
        let job = db.store.job(&end.job_id).await.unwrap().unwrap();
        assert_eq!(job.status, universe::domain::JobStatus::Completed, "{:?}", job.message);
        assert_eq!((job.counts.progress, job.counts.tasks_done, job.counts.tasks_total), (100, 7, 7));
        messages.push(job.message.unwrap());
    }
    assert_eq!(messages.len(), 3);
    assert!(messages[1..].iter().all(|m| m.ends_with("nothing changed")), "{messages:?}");
    assert_eq!(db.store.symbols().await.unwrap()["S01"].active, Some(false));
}

/// With Redis, the scheduler waits for TickStock's end-of-day signal (a push to one of its lists) before it
/// queues the day's sync, and the job says so; with no signal by the deadline it queues anyway and says that.
async fn scheduled_sync_waits_for_eod(db: &TestDb) {
    use chrono::TimeZone;
    use universe::sync::schedule::{self, Schedule};
    let csv = seed(db).await;
    let dir = list(db, "day2", &csv);
    let redis = crate::redis_jobs::RedisServer::start().await;
    let bus =
        universe::jobs::redis::RedisBus::connect(&redis.url, db.store.database_id().await.unwrap()).await.unwrap();
    let mut s = Schedule::new(schedule::default_time());
    s.eod_wait = Some(std::time::Duration::from_secs(60));
    let slot = |d: u32| {
        chrono_tz::America::New_York.with_ymd_and_hms(2026, 11, d, 16, 10, 0).unwrap().with_timezone(&chrono::Utc)
    };
    let url = redis.url.clone();
    let pusher = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mut c = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::AsyncCommands::rpush(&mut c, "tickstock.eod.complete", "2026-11-30").await.unwrap();
    });
    let started = std::time::Instant::now();
    let (day, submitted) = schedule::tick(&db.store, &s, Some(&bus), slot(30)).await.unwrap().unwrap();
    pusher.await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "queued on the signal, not the deadline");
    assert_eq!(day.to_string(), "2026-11-30");
    let mut options = universe::jobs::WorkerOptions::new(Environment::Default);
    options.sync.source = Some(dir);
    let worker = universe::jobs::Worker::new(db.store.clone(), universe::bars::BarSource::sample(), options);
    worker.run_one().await.unwrap().unwrap();
    let job = db.store.job(&submitted.job_id).await.unwrap().unwrap();
    assert_eq!(job.result.as_ref().unwrap()["eod"], "end-of-day signal on tickstock.eod.complete", "{:?}", job.result);
    assert!(job.message.unwrap().ends_with("(end-of-day signal on tickstock.eod.complete)"));

    // No signal but a stale one (a day before): a second later than its one-second wait, the sync is queued anyway.
    let mut c = redis::Client::open(redis.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::AsyncCommands::rpush(&mut c, "eod_complete", "2026-11-26").await.unwrap();
    s.eod_wait = Some(std::time::Duration::from_secs(1));
    let (_, submitted) = schedule::tick(&db.store, &s, Some(&bus), slot(27)).await.unwrap().unwrap();
    worker.run_one().await.unwrap().unwrap();
    let job = db.store.job(&submitted.job_id).await.unwrap().unwrap();
    assert_eq!(job.status, universe::domain::JobStatus::Completed);
    let eod = job.result.as_ref().unwrap()["eod"].as_str().unwrap().to_string();
    assert_eq!(eod, "no end-of-day signal within 1 s: ran anyway");
}

/// Whether a writer holds the database's write lock now (the sync's transaction is open).
async fn writer_busy(db: &TestDb) -> bool {
    use sqlx::Connection;
    match &db.store {
        universe::store::Store::Postgres(p) => {
            let sql = "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                       WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()";
            sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap() > 0
        }
        universe::store::Store::Sqlite(_) => {
            use std::str::FromStr;
            let opts =
                sqlx::sqlite::SqliteConnectOptions::from_str(&db.url).unwrap().busy_timeout(std::time::Duration::ZERO);
            let mut c = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
            let busy = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut c).await.is_err();
            if !busy {
                sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            }
            busy
        }
    }
}

/// A sync killed (SIGKILL) while its transaction is open leaves nothing applied: symbols, groups, history, cache
/// rows, the change log and the run record are as before; the sync then runs again and applies in full.
async fn killed_sync_leaves_nothing(db: &TestDb) {
    let mut csv = String::from("symbol,name,type,exchange\n");
    for i in 0..20_000 {
        csv.push_str(&format!("K{i:05},Company {i},CS,XNAS\n"));
    }
    db.load_ok(LoadKind::Symbols, &[("symbols.csv", &csv)], Mode::Full).await;
    let members: String = (0..2_000).map(|i| format!("K{i:05}\n")).collect();
    db.load_ok(LoadKind::Universes, &[("sp500.csv", &format!("Symbol\n{members}"))], Mode::Full).await;
    db.organize().await;
    // Every name changes and 400 symbols (2 %) leave, 40 of them from the universe.
    let mut next = String::from("symbol,name,type,exchange\n");
    for i in (0..20_000).filter(|i| i % 50 != 7) {
        next.push_str(&format!("K{i:05},Company {i} Inc,CS,XNAS\n"));
    }
    let dir = list(db, "day2", &next);
    let before = db.state().await;
    let runs_before = db.store.runs(1000).await.unwrap().len();
    // The failpoint holds the sync inside its transaction once its symbol writes are done.
    let marker = db.dir.path().join("applied");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url, "sync", "--source"])
        .arg(&dir)
        .env("UNIVERSE_FAILPOINT_SYNC_APPLIED", &marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !marker.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the sync ended before it reached the failpoint");
        assert!(std::time::Instant::now() < deadline, "the sync never reached the failpoint");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(writer_busy(db).await, "the sync's transaction is open");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(db.state().await, before, "nothing of the killed sync is visible");
    assert_eq!(db.store.runs(1000).await.unwrap().len(), runs_before, "not even its run record");
    assert!(db.store.sync_changes(None, None, 10).await.unwrap().is_empty());
    let r = sync(db, &dir, SyncMode::Full, false, false).await.unwrap();
    assert_eq!((r.status, r.updated, r.delisted, r.memberships_closed), (RunStatus::Applied, 19_600, 400, 40));
}

contract!(
    events_on_redis,
    cache_sync_over_http,
    sync_from_the_console,
    schedule_on_a_fake_clock,
    scheduled_sync_waits_for_eod,
    killed_sync_leaves_nothing
);
