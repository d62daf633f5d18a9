//! The server against slow and greedy clients: partial headers (slowloris), idle keep-alive connections, a
//! declared body that never comes, more connections than the cap. Connection handling touches no storage, so
//! these run on SQLite only.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use universe::api::{HttpLimits, ServeOptions};
use universe::cache::WatchOptions;

use crate::helpers::TestDb;
use crate::server::TestServer;

fn options(limits: HttpLimits) -> ServeOptions {
    ServeOptions {
        api_key: Some("k".into()),
        watch: WatchOptions { poll: Duration::from_millis(200), max_age: Duration::from_secs(3600), listen: false },
        bench_routes: false,
        jobs: Default::default(),
        limits,
        alerts: None,
    }
}

async fn connect(s: &TestServer) -> TcpStream {
    TcpStream::connect(s.base.trim_start_matches("http://")).await.expect("connect")
}

/// Reads until the server closes the connection (or `within` passes); returns what it sent and whether it closed.
async fn read_until_closed(c: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, c.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Slowloris: 20 connections that never finish their headers are closed after the header timeout, and an idle
/// keep-alive connection too; the server keeps answering others.
#[tokio::test]
async fn partial_headers_and_idle_connections_are_closed() {
    let db = TestDb::new(universe::store::Backend::Sqlite).await;
    let limits = HttpLimits { header_timeout: Duration::from_millis(500), ..HttpLimits::default() };
    let s = TestServer::start(&db, options(limits)).await;
    assert_eq!(s.get("/health").await.status(), 200);
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut c = connect(&s).await;
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slow.push(c);
    }
    let mut idle = connect(&s).await;
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let started = Instant::now();
    for c in &mut slow {
        let (_, closed) = read_until_closed(c, Duration::from_secs(5)).await;
        assert!(closed, "a connection with partial headers was still open after {:?}", started.elapsed());
    }
    let (response, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(closed, "an idle keep-alive connection was still open after {:?}", started.elapsed());
    assert_eq!(s.get("/health").await.status(), 200, "the server still answers");
    s.stop().await;
    db.cleanup().await;
}

/// A declared 10 MB body that never comes is answered 408 (a problem document) after the body timeout.
#[tokio::test]
async fn a_body_that_never_comes_is_408() {
    let db = TestDb::new(universe::store::Backend::Sqlite).await;
    let limits = HttpLimits { body_timeout: Duration::from_millis(300), ..HttpLimits::default() };
    let s = TestServer::start(&db, options(limits)).await;
    let mut c = connect(&s).await;
    c.write_all(
        b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nContent-Type: application/json\r\n\
          Content-Length: 10000000\r\n\r\n{\"symbols\":",
    )
    .await
    .unwrap();
    let (response, _) = read_until_closed(&mut c, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("application/problem+json") && response.contains("did not arrive within"), "{response}");
    s.stop().await;
    db.cleanup().await;
}

/// Past the connection cap, a new connection waits until one closes, then is served.
#[tokio::test]
async fn connections_past_the_cap_wait() {
    let db = TestDb::new(universe::store::Backend::Sqlite).await;
    let limits = HttpLimits { max_connections: 2, header_timeout: Duration::from_secs(30), ..HttpLimits::default() };
    let s = TestServer::start(&db, options(limits)).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect(&s).await;
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    let mut third = connect(&s).await;
    third.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 512];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await.is_err(),
        "a third connection was served while two were held"
    );
    drop(held.pop());
    let (response, _) = read_until_closed(&mut third, Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    drop(held);
    s.stop().await;
    db.cleanup().await;
}

/// The database gone while the server runs: `/ready` says 503 and nothing more, and a job submission is 503 (not
/// 400), with the database's own error text in the log only. (PostgreSQL: an SQLite file cannot go away under an
/// open connection.)
#[tokio::test]
async fn database_outage_is_503_without_its_text() {
    if !crate::helpers::postgres_available() {
        return;
    }
    let db = TestDb::new(universe::store::Backend::Postgres).await;
    let s = TestServer::start(&db, options(HttpLimits::default())).await;
    assert_eq!(s.get("/ready").await.status(), 200);
    let name = db.url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    TestDb::drop_postgres(&name).await;
    let (status, body) = s.json("/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["detail"], "the store is not reachable");
    for request in [r#"{"symbols":["AAPL"]}"#, r#"{"universe_key":"dow30"}"#] {
        let r = s.client.post(format!("{}/api/jobs", s.base)).header("X-API-Key", "k");
        let r = r.header("Content-Type", "application/json").body(request).send().await.unwrap();
        let (status, body): (_, serde_json::Value) = (r.status(), r.json().await.unwrap());
        assert_eq!(status, 503, "{request}: {body}");
        assert_eq!(body["detail"], "the job store is unavailable; the server log has the details", "{request}");
    }
    s.stop().await;
    db.cleanup().await;
}
