//! `universe report` in all four formats, snapshot-tested (the same snapshots for both backends), with the
//! figures TickStock's script got wrong checked directly.

use chrono::{NaiveDate, TimeZone, Utc};
use universe::domain::Environment;
use universe::load::{LoadKind, Mode};
use universe::report::{self, Format, Report};

use crate::helpers::{TestDb, contract};

async fn seed(db: &TestDb) {
    db.load_ok(
        LoadKind::Symbols,
        &[("s.csv", "symbol,name,type\nAAPL,Apple,CS\nMSFT,Microsoft,CS\nNVDA,Nvidia,CS\nJPM,JPMorgan,CS\n")],
        Mode::Full,
    )
    .await;
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\nJPM\n")], Mode::Full).await;
    db.load_ok(
        LoadKind::Sectors,
        &[("s.csv", "symbol,sector\nAAPL,Technology\nMSFT,Technology\nNVDA,Technology\nJPM,\n")],
        Mode::Full,
    )
    .await;
    // Weights deliberately not in alphabetical order: the top holdings must come by weight.
    db.load_ok(
        LoadKind::Holdings,
        &[("spy.csv", "Symbol,Weight\nAAPL,5\nJPM,2\nMSFT,6\nNVDA,7\nZZZZ,1\n")],
        Mode::Full,
    )
    .await;
    db.load_ok(LoadKind::Holdings, &[("qqq.csv", "Symbol\nAAPL\n")], Mode::Full).await;
    db.load_err(LoadKind::Holdings, &[("bad.csv", "")]).await;
}

/// Fixes the clock-dependent fields so renderings are byte-stable.
fn pin(mut r: Report) -> Report {
    let t = Utc.with_ymd_and_hms(2026, 11, 21, 6, 0, 0).unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    r.generated_at = t;
    r.activity.iter_mut().for_each(|a| a.day = day);
    r.last_loads.iter_mut().for_each(|l| l.at = t);
    if let Some(points) = r.coverage_over_time.as_mut() {
        points.iter_mut().for_each(|p| p.day = day);
    }
    r
}

async fn report_formats(db: &TestDb) {
    seed(db).await;
    let r = pin(report::gather(&db.store, Environment::Default, true).await.unwrap());
    // Correct where TickStock's script was not: top 10 by weight, integrity computed, JSON serialises.
    let spy = r.etfs.as_ref().unwrap().iter().find(|e| e.symbol == "SPY").unwrap();
    let order: Vec<&str> = spy.top_10.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(order, ["NVDA", "MSFT", "AAPL", "JPM", "ZZZZ"]);
    assert_eq!(spy.metadata_count, Some(5));
    assert_eq!(r.data_quality.orphans, 1, "ZZZZ has neither a symbols row nor a sector");
    assert!(r.data_quality.bidirectional_integrity < 100.0);
    assert_eq!(r.summary.total_relationships, 3 + 4 + 5 + 1);
    assert_eq!(r.activity[0].failed, 1);
    insta::assert_snapshot!("report_console", report::render(&r, Format::Console));
    insta::assert_snapshot!("report_markdown", report::render(&r, Format::Markdown));
    insta::assert_snapshot!("report_json", report::render(&r, Format::Json));
    let html = report::render(&r, Format::Html);
    assert!(!html.contains("http://") || html.matches("http://").all(|_| html.contains("http://www.w3.org/2000/svg")));
    assert!(!html.contains("<script") && !html.contains("src=\"http"), "self-contained, no network");
    insta::assert_snapshot!("report_html", html);
    let summary = pin(report::gather(&db.store, Environment::Default, false).await.unwrap());
    insta::assert_snapshot!("report_summary_json", report::render(&summary, Format::Json));
}

contract!(report_formats);

/// The HTML report opens in headless Chromium with no network: the browser's DOM holds both charts, and a
/// screenshot is kept as a test artifact (target/test-artifacts/report.png).
#[tokio::test]
async fn html_report_opens_in_chromium() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("Chromium is not installed: run the tests with scripts/test.sh, which installs it");
    let db = TestDb::new(universe::store::Backend::Sqlite).await;
    seed(&db).await;
    let r = report::gather(&db.store, Environment::Default, true).await.unwrap();
    let page = db.write_file("report.html", report::render(&r, Format::Html));
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium")
    };
    let dom = run(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("aria-label=\"sector distribution\""), "the bar chart is in the DOM");
    assert!(dom.contains("aria-label=\"sector coverage over time\""), "the line chart is in the DOM");
    assert!(dom.contains("Relationship Breakdown Report"));
    let out = run(&["--window-size=1000,1400", &format!("--screenshot={}", shot.display())]);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot missing or blank ({size} bytes): {}", String::from_utf8_lossy(&out.stderr));
    db.cleanup().await;
}
