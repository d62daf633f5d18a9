//! The `universe` binary as an operator runs it: exit codes, messages, JSON, environment variables.

use std::process::{Command, Output};

use universe::domain::GroupKind;

use crate::helpers::{TestDb, contract};

fn universe(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &db.url])
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URI")
        .env_remove("ENVIRONMENT")
        .output()
        .expect("run universe")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A bad file exits non-zero, names file, line, field and reason, and writes nothing but the failed run.
async fn cli_bad_input(db: &TestDb) {
    let good = db.write_file("spy_holdings.csv", "Symbol,Weight\nAAPL,60\nMSFT,40\n");
    let out = universe(db, &["load", "holdings", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("SPY"));
    let before = db.state().await;
    let bad = db.write_file("qqq_holdings.csv", "Symbol,Weight\nAAPL,60\nMSFT,forty\n");
    let out = universe(db, &["load", "holdings", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("qqq_holdings.csv:3: field \"Weight\": weight \"forty\" is not a number"), "{err}");
    assert!(err.contains("nothing was loaded"), "{err}");
    assert_eq!(db.state().await, before);
    let missing = universe(db, &["load", "holdings", "/nonexistent/x.csv"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("/nonexistent/x.csv: cannot read file"));
    // The failed run is recorded, as for any other bad input.
    let run = &db.store.runs(1).await.unwrap()[0];
    assert_eq!((run.status.as_str(), run.source.as_str()), ("failed", "/nonexistent/x.csv"));
    assert!(run.error.as_deref().unwrap().starts_with("/nonexistent/x.csv: cannot read file"), "{:?}", run.error);
    // An endless file and one over --max-input-bytes are refused, not read until memory runs out.
    let zero = universe(db, &["load", "universes", "/dev/zero"]);
    assert_eq!(zero.status.code(), Some(1));
    assert!(text(&zero.stderr).contains("/dev/zero: file is binary"), "{}", text(&zero.stderr));
    let big = universe(db, &["--max-input-bytes", "10", "load", "holdings", good.to_str().unwrap()]);
    assert_eq!(big.status.code(), Some(1));
    assert!(text(&big.stderr).contains("over the 10 bytes input limit"), "{}", text(&big.stderr));
    assert_eq!(db.state().await, before);
    // --json gives the problems as data.
    let out = universe(db, &["--json", "load", "holdings", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document on stdout");
    assert_eq!(v["problems"][0]["line"], 3);
    assert_eq!(v["problems"][0]["field"], "Weight");
}

/// Dry-run, runs, rollback and universes through the CLI, with JSON output.
async fn cli_runs_and_rollback(db: &TestDb) {
    let v1 = db.write_file("dow30.csv", "AAPL\nMSFT\n");
    assert!(universe(db, &["load", "universes", v1.to_str().unwrap()]).status.success());
    let v2 = db.write_file("dow30.csv", "AAPL\nNVDA\n");
    let dry = universe(db, &["--json", "load", "universes", v2.to_str().unwrap(), "--mode", "dry-run"]);
    let report: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        (report["status"].as_str(), report["totals"]["added"].as_u64(), report["totals"]["removed"].as_u64()),
        (Some("dry_run"), Some(1), Some(1))
    );
    let applied = universe(db, &["--json", "load", "universes", v2.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&applied.stdout).unwrap();
    let run_id = report["run_id"].as_i64().unwrap();
    assert_eq!(db.symbols_of(GroupKind::Universe, "dow30").await, ["AAPL", "NVDA"]);
    let runs = universe(db, &["runs"]);
    assert!(text(&runs.stdout).contains("dry_run"), "{}", text(&runs.stdout));
    let rb = universe(db, &["rollback", &run_id.to_string()]);
    assert!(rb.status.success(), "{}", text(&rb.stderr));
    assert_eq!(db.symbols_of(GroupKind::Universe, "dow30").await, ["AAPL", "MSFT"]);
    let again = universe(db, &["rollback", &run_id.to_string()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already rolled back"));
    let show = universe(db, &["runs", &run_id.to_string()]);
    assert!(text(&show.stdout).contains("rolled back by"));
    let resolve = universe(db, &["--json", "universes", "resolve", "DOW30"]);
    let v: serde_json::Value = serde_json::from_slice(&resolve.stdout).unwrap();
    assert_eq!(v["symbols"], serde_json::json!(["AAPL", "MSFT"]));
    let unknown = universe(db, &["universes", "resolve", "dow30:nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("\"nope\""));
    let list = universe(db, &["universes", "list", "--type", "universe"]);
    assert!(text(&list.stdout).contains("dow30"));
    let show = universe(db, &["universes", "show", "dow30"]);
    assert!(text(&show.stdout).contains("UNIVERSE dow30: 2 members"));
}

contract!(cli_bad_input, cli_runs_and_rollback);

/// `universe demo` builds the sample database and says what it loaded.
#[test]
fn demo_loads_the_sample_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["demo", "--no-serve", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    // Counted after the closing sync: its new listing joined a fourth universe (small_cap_general).
    for expected in [
        "UNIVERSE       4",
        "ETF           14",
        "SECTOR        12",
        "THEME         20",
        "570 symbols",
        "13 delisted",
        "ipo        UNIVERSE:small_cap_general  SOLS    assigned",
    ] {
        assert!(s.contains(expected), "{expected:?} missing from:\n{s}");
    }
    // Running it again starts fresh rather than piling up.
    let again = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--json", "demo", "--no-serve", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["memberships"], 2508);
    assert_eq!((v["sync"]["delisted"].as_u64(), v["sync"]["ipos"].as_u64()), (Some(13), Some(1)));
    assert_eq!(v["loads"][3]["groups"].as_array().unwrap().len(), 14);
}

/// `universe demo` serves the console: it prints the console's URL and the key to log in with, and that key opens
/// the dashboard.
#[tokio::test]
async fn demo_serves_the_console() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    /// The demo server, stopped however the test ends.
    struct Demo(std::process::Child);
    impl Drop for Demo {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["demo", "--db", db.to_str().unwrap(), "--bind", "127.0.0.1:0"])
        .env_remove("UNIVERSE_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    let read = tokio::task::spawn_blocking(move || {
        let (mut console, mut key) = (None, None);
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(k) = line.strip_prefix("Admin key for this demo: ") {
                key = Some(k.trim().to_string());
            }
            if let Some(rest) = line.trim().strip_prefix("console") {
                console = rest.split_whitespace().next().map(str::to_string);
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
        (console.expect("the console's URL printed"), key.expect("the key printed"))
    });
    let (console, key) = tokio::time::timeout(std::time::Duration::from_secs(300), read)
        .await
        .expect("the demo serves in time")
        .unwrap();
    assert!(console.starts_with("http://127.0.0.1:") && console.ends_with('/'), "{console}");
    let http = crate::console::client();
    let login = crate::console::post_form(&http, format!("{console}login"), &[("key", &key), ("next", "/")]);
    let r = login.send().await.unwrap();
    assert_eq!(r.status(), 303, "the printed key logs in");
    assert!(r.headers()["set-cookie"].to_str().unwrap().starts_with("universe_session="));
}

/// TickStock's DATABASE_URI is accepted; a bad URL is a clear error with a non-zero exit; passwords never print.
#[test]
fn database_url_sources() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["db", "migrate"])
        .env_remove("DATABASE_URL")
        .env("DATABASE_URI", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("x.db").exists());
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", "mysql://root:hunter2@localhost/x", "db", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("unsupported database URL") && !err.contains("hunter2"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", "postgres://app:hunter2@127.0.0.1:1/x", "db", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot connect") && !err.contains("hunter2"), "{err}");
}

/// `universe serve` on port 0: says where it listens, answers, and stops cleanly on SIGTERM.
#[test]
fn serve_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    while addr.is_none() && out.read_line(&mut line).unwrap() > 0 {
        addr = line.trim().strip_prefix("Serving ").and_then(|l| l.split("http://").nth(1)).map(str::to_string);
        line.clear();
    }
    let addr = addr.expect("the server prints its address");
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200") && response.contains("\"ok\""), "{response}");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "exit {status:?}");
    assert!(rest.contains("stopped"), "{rest}");
}

/// An empty API key is refused at start-up, not announced as enabled.
#[test]
fn serve_refuses_an_empty_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_universe"))
        .args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0", "--api-key", ""])
        .env_remove("UNIVERSE_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--api-key (or UNIVERSE_API_KEY) is empty"), "{}", text(&out.stderr));
}
