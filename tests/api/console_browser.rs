//! The console in a real browser (issue #18): headless Chromium driven over WebDriver (Debian's
//! `chromium-driver`) against a real `serve` on port 0, on both backends, clicking and typing as a person would.
//! Each step saves a screenshot under `target/test-artifacts/` and fails on any error in the browser's console.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use universe::domain::{Environment, GroupKind, GroupName, JobStatus};
use universe::load::{EventsRequest, LoadKind, Mode, load_events};

use crate::helpers::{TestDb, contract};
use crate::server::{TestServer, options, quick_watch};

/// A chromedriver on a free loopback port, stopped when dropped.
struct Chromedriver(std::process::Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver's legacy log endpoint: the browser console's entries since the last call.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_string()))
    }
}

/// Headless Chromium driven over WebDriver (Debian's `chromium-driver`, which `scripts/test.sh` installs).
async fn browser() -> (fantoccini::Client, Chromedriver) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
    let driver = Chromedriver(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--window-size=1280,1000", "--lang=en-US"] }),
    );
    caps.insert("goog:loggingPrefs".into(), serde_json::json!({ "browser": "ALL" }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match fantoccini::ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (c, driver),
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    }
}

/// Saves a screenshot under `target/test-artifacts/` and fails on any error the browser's console logged.
async fn screenshot_and_console(client: &Client, name: &str) {
    screenshot_expecting(client, name, None).await
}

/// [`screenshot_and_console`] on a page answered with a deliberate 4xx (a form shown again with its errors):
/// Chromium logs the page's own status as a network error, which is expected; any other error still fails.
async fn screenshot_expecting(client: &Client, name: &str, status: Option<u16>) {
    let png = client.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    let entries = log.as_array().unwrap_or_else(|| panic!("{name}: the browser log is not a list: {log}"));
    let expected = |e: &serde_json::Value| {
        status.is_some_and(|s| {
            e["source"] == "network" && e["message"].as_str().is_some_and(|m| m.contains(&format!("status of {s} ")))
        })
    };
    let errors: Vec<&serde_json::Value> = entries.iter().filter(|e| e["level"] == "SEVERE" && !expected(e)).collect();
    assert!(errors.is_empty(), "{name}: the browser console logged errors: {errors:?}");
}

fn backend(db: &TestDb) -> &'static str {
    if db.url.starts_with("postgres") { "postgres" } else { "sqlite" }
}

/// Waits for a field of the page, then types into it.
async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c.wait().at_most(PAGE_WAIT).for_element(Locator::Css(css)).await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Logs in with the key through the login page.
async fn log_in(c: &Client, base: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    type_into(c, "input[name=key]", "k").await;
    c.find(Locator::Css("main button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("table.counts")).await.unwrap();
}

/// How long a page may take under a loaded test run (two cores, eight browsers, every other test).
const PAGE_WAIT: Duration = Duration::from_secs(90);

/// Clicks, then waits for an element only the next page has. An element replaced between finding and clicking
/// (htmx swapping a part of the page in) is found again.
async fn click_then(c: &Client, what: Locator<'_>, next: &str) -> fantoccini::elements::Element {
    let mut tries = 0;
    loop {
        let clicked = match c.find(what).await {
            Ok(e) => e.click().await.map(|_| ()),
            Err(e) => Err(e),
        };
        match clicked {
            Ok(()) => break,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference && tries < 20 =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot click {what:?}: {e}"),
        }
    }
    c.wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css(next))
        .await
        .unwrap_or_else(|e| panic!("no {next} after the click: {e}"))
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}")).text().await.unwrap()
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

/// Waits until `css`'s text satisfies `ok` (the page changes it without a reload).
async fn wait_text(c: &Client, css: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    loop {
        let t = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ok(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "{css} never became as expected; last {t:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A person at the console: a wrong key is refused with a message, the right one opens the dashboard, a file
/// named with markup shows as text, "Refresh cache" says what it did.
async fn console_in_a_browser(db: &TestDb) {
    db.seed_sample().await;
    let _ = db.load(LoadKind::Universes, &[("<script>alert(1)</script>.csv", "symbol\nAAPL\n")], Mode::Full).await;
    let server = TestServer::start(db, options(Some("k"), quick_watch())).await;
    let (c, _driver) = browser().await;
    let backend = backend(db);
    c.goto(&format!("{}/", server.base)).await.unwrap();
    type_into(&c, "input[name=key]", "not-the-key").await;
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let error = c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("p.error")).await.unwrap().text().await.unwrap();
    assert_eq!(error, "That is not the admin key.");
    c.find(Locator::Css("input[name=key]")).await.unwrap().send_keys("k").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    // Wait for an element only the dashboard has (the login page's own h1 would match a bare `main h1`).
    c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("table.counts")).await.unwrap();
    assert_eq!(text(&c, "main h1").await, "Relationships dashboard");
    assert_eq!(c.current_url().await.unwrap().path(), "/admin/relationships");
    let sources = texts(&c, "td.source").await;
    assert!(sources.iter().any(|s| s == "<script>alert(1)</script>.csv"), "shown as text: {sources:?}");
    screenshot_and_console(&c, &format!("console-dashboard-{backend}")).await;
    // A form whose CSRF token is gone (as a forged post from elsewhere would be) is refused, and changes nothing.
    c.execute("document.querySelector(\"form[action='/admin/console/refresh'] input[name=csrf]\").remove();", vec![])
        .await
        .unwrap();
    click_then(&c, Locator::XPath("//button[normalize-space()='Refresh cache']"), "p.error").await;
    assert_eq!(text(&c, "main h1").await, "Refused");
    screenshot_expecting(&c, &format!("console-csrf-refused-{backend}"), Some(403)).await;
    c.back().await.unwrap();
    c.refresh().await.unwrap();
    c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("table.counts")).await.unwrap();
    c.find(Locator::XPath("//button[normalize-space()='Refresh cache']")).await.unwrap().click().await.unwrap();
    let flash = c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("p.flash")).await.unwrap().text().await.unwrap();
    assert!(flash.starts_with("Cache refreshed: version"), "{flash}");
    screenshot_and_console(&c, &format!("console-refreshed-{backend}")).await;
    c.find(Locator::XPath("//button[normalize-space()='Run validate']")).await.unwrap().click().await.unwrap();
    wait_text(&c, "p.flash", Duration::from_secs(20), |t| t.starts_with("Validation done")).await;
    assert!(text(&c, "section.alerts").await.contains("Validated "), "the latest validation is shown");
    assert!(c.find(Locator::Css("div.chart svg")).await.is_ok(), "sector coverage over time as a chart");
    screenshot_and_console(&c, &format!("console-validated-{backend}")).await;
    c.find(Locator::XPath("//button[normalize-space()='Log out']")).await.unwrap().click().await.unwrap();
    c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("input[name=key]")).await.unwrap();
    c.close().await.unwrap();
}

/// A universe of 3,000 members: every known symbol of the sample and made-up ones to make up the number.
pub(crate) async fn big_universe(db: &TestDb) -> Vec<String> {
    let mut tickers: Vec<String> = db.store.symbols().await.unwrap().into_keys().collect();
    tickers.sort();
    tickers.truncate(3000);
    let mut n = 0;
    while tickers.len() < 3000 {
        tickers.push(format!("ZQ{n:04}"));
        n += 1;
    }
    let file = format!("symbol\n{}\n", tickers.join("\n"));
    db.load_ok(LoadKind::Universes, &[("big3000.csv", &file)], Mode::Full).await;
    tickers.sort();
    tickers
}

/// Universes: search, a 3,000-member universe paged and sorted, the key box, a universe as of a past day from the
/// stored history, a stock's page, and a group named with markup rendered as text.
async fn universes_in_a_browser(db: &TestDb) {
    db.seed_sample().await;
    let tickers = big_universe(db).await;
    let (seed, changes) = universe::sample::sp500_history();
    let name = GroupName::parse(GroupKind::Universe, "sp500").unwrap();
    let req = EventsRequest { seed, changes, name, environment: Environment::Default, dry_run: false };
    load_events(&db.store, &req).await.unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2008, 9, 12).unwrap();
    let then: Vec<String> =
        universe::universes::group_members_on(&db.store, Environment::Default, GroupKind::Universe, "sp500", day)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert!(then.iter().any(|t| t == "LEH"), "Lehman was a member that day");
    db.exec(
        "INSERT INTO definition_groups (name, type, description, environment) \
         VALUES ('<b>bold</b>_theme', 'THEME', '<script>alert(2)</script>', 'DEFAULT')",
    )
    .await;
    let server = TestServer::start(db, options(Some("k"), quick_watch())).await;
    let (c, _driver) = browser().await;
    let backend = backend(db);
    log_in(&c, &server.base).await;

    // Search, then the 3,000-member universe: 30 pages of 100, by ticker.
    click_then(&c, Locator::LinkText("Universes"), "form.search").await;
    // The results follow the typing (htmx), without the button.
    c.find(Locator::Css("input[name=q]")).await.unwrap().send_keys("big3000").await.unwrap();
    wait_text(&c, "#hits p.count", PAGE_WAIT, |t| t == "1 match.").await;
    click_then(&c, Locator::LinkText("big3000"), "table.members").await;
    assert_eq!(text(&c, "p.count").await, "3000 members, page 1 of 30.");
    assert_eq!(texts(&c, "td.ticker").await, tickers[..100].to_vec());
    screenshot_and_console(&c, &format!("console-universe-3000-{backend}")).await;
    // The ticker header again reverses; the next page follows on: the table is replaced in place (htmx), the page
    // stays (a mark set on it survives) and the address follows.
    c.execute("window.universeMark = 1;", vec![]).await.unwrap();
    c.find(Locator::Css("a.sort")).await.unwrap().click().await.unwrap();
    wait_text(&c, "td.ticker", Duration::from_secs(10), |t| t == tickers[2999]).await;
    click_then(&c, Locator::Css("a[rel=next]"), "a[rel=prev]").await;
    assert_eq!(text(&c, "span.page").await, "2");
    let page2: Vec<String> = tickers.iter().rev().skip(100).take(100).cloned().collect();
    assert_eq!(texts(&c, "td.ticker").await, page2);
    let mark = c.execute("return window.universeMark === 1;", vec![]).await.unwrap();
    assert_eq!(mark, serde_json::json!(true), "sorted and paged without loading the page again");
    assert!(c.current_url().await.unwrap().query().unwrap_or("").contains("page=2"), "the address follows");
    screenshot_and_console(&c, &format!("console-universe-sorted-{backend}")).await;

    // The key box: a union of two groups.
    click_then(&c, Locator::LinkText("Universes"), "form.key").await;
    c.find(Locator::Css("input[name=key]")).await.unwrap().send_keys("nasdaq100:dow30").await.unwrap();
    click_then(&c, Locator::Css("form.key button"), "code.key").await;
    let union = universe::universes::resolve(&db.store, Environment::Default, "nasdaq100:dow30").await.unwrap();
    assert!(text(&c, "p.count").await.starts_with(&format!("{} members", union.len())));

    // The S&P 500 as of the Friday before Lehman's bankruptcy, typed into the date picker.
    c.goto(&format!("{}/admin/group?kind=UNIVERSE&name=sp500", server.base)).await.unwrap();
    let date = c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("input[name=as_of]")).await.unwrap();
    date.send_keys("09122008").await.unwrap();
    click_then(&c, Locator::Css("form.as-of button"), "p.as-of-note").await;
    assert_eq!(text(&c, "p.as-of-note").await, "Members at the end of 2008-09-12.");
    assert!(text(&c, "p.count").await.starts_with(&format!("{} members", then.len())));
    assert_eq!(texts(&c, "td.ticker").await, then[..100].to_vec());
    assert!(!texts(&c, "table.changes td").await.is_empty(), "the changes up to that day are listed");
    screenshot_and_console(&c, &format!("console-universe-as-of-{backend}")).await;

    // A stock's page from a member link.
    click_then(&c, Locator::LinkText(&then[0]), "span.ticker").await;
    assert_eq!(text(&c, "span.ticker").await, then[0]);
    screenshot_and_console(&c, &format!("console-stock-{backend}")).await;

    // A group named with markup, found by search, renders as text.
    c.goto(&format!("{}/admin/universes?q=bold", server.base)).await.unwrap();
    c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("table.hits")).await.unwrap();
    click_then(&c, Locator::LinkText("<b>bold</b>_theme"), "span.group-name").await;
    assert_eq!(text(&c, "span.group-name").await, "<b>bold</b>_theme");
    assert_eq!(text(&c, "p.description").await, "<script>alert(2)</script>");
    assert!(c.find_all(Locator::Css("main h1 b")).await.unwrap().is_empty(), "no markup from the name");
    screenshot_and_console(&c, &format!("console-markup-{backend}")).await;
    c.close().await.unwrap();
}

/// Uploads: a bad holdings file shows every problem with its line and writes nothing; a good one is previewed,
/// applied, shows on its ETF's page, and is rolled back. Then organize through its preview, append and replace.
async fn uploads_in_a_browser(db: &TestDb) {
    db.seed_sample().await;
    let bad = db.write_file("bad_holdings.csv", "symbol,weight\nAAPL,5.0\nMSFT,abc\nNVDA,3.0\n");
    let good = db.write_file("good_holdings.csv", "symbol,weight\nAAPL,5.0\nMSFT,4.0\nNVDA,3.0\n");
    // A stale managed row (replace removes it, append keeps it), and a defined row missing (both add it back).
    db.exec(
        "INSERT INTO cache_entries (type, name, key, value, environment) \
         VALUES ('stock_universe', 'Stale', 'stale_one', '[\"AAPL\"]', 'DEFAULT')",
    )
    .await;
    let server = TestServer::start(db, options(Some("k"), quick_watch())).await;
    let (c, _driver) = browser().await;
    let backend = backend(db);
    log_in(&c, &server.base).await;
    let before = db.state().await;

    click_then(&c, Locator::LinkText("Uploads"), "form.upload").await;
    c.find(Locator::Css("select[name=kind]")).await.unwrap().select_by_value("holdings").await.unwrap();
    c.find(Locator::Css("input[name=etf]")).await.unwrap().send_keys("ZZZT").await.unwrap();
    c.find(Locator::Css("input[name=file]")).await.unwrap().send_keys(bad.to_str().unwrap()).await.unwrap();
    click_then(&c, Locator::Css("form.upload button"), "table.problems").await;
    assert_eq!(texts(&c, "td.line").await, vec!["3".to_string()], "the bad weight's line");
    assert!(text(&c, "p.error").await.starts_with("Nothing was loaded."));
    assert_eq!(db.state().await, before, "nothing written");
    screenshot_expecting(&c, &format!("console-upload-errors-{backend}"), Some(422)).await;

    // The form is shown again under the problems, as it was filled in (the file excepted).
    let etf = c.find(Locator::Css("input[name=etf]")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(etf.as_deref(), Some("ZZZT"));
    let kind = c.find(Locator::Css("select[name=kind]")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kind.as_deref(), Some("holdings"));
    c.find(Locator::Css("input[name=file]")).await.unwrap().send_keys(good.to_str().unwrap()).await.unwrap();
    click_then(&c, Locator::Css("form.upload button"), "section.preview").await;
    assert_eq!(text(&c, "td.added").await, "3");
    assert_eq!(text(&c, "p.added").await, "Added: AAPL, MSFT, NVDA");
    assert_eq!(db.state().await, before, "a preview writes nothing");
    screenshot_and_console(&c, &format!("console-upload-preview-{backend}")).await;
    click_then(&c, Locator::XPath("//button[normalize-space()='Apply this change']"), "p.flash").await;
    assert!(text(&c, "p.flash").await.starts_with("Applied as run"));
    assert_eq!(db.members(GroupKind::Etf, "ZZZT").await.len(), 3);
    click_then(&c, Locator::LinkText("ZZZT"), "table.members").await;
    assert_eq!(texts(&c, "td.ticker").await, ["AAPL", "MSFT", "NVDA"], "by weight, heaviest first");
    assert!(c.find(Locator::Css("div.chart svg")).await.is_ok(), "holdings drawn as a chart");
    screenshot_and_console(&c, &format!("console-etf-{backend}")).await;

    // Roll the run back, through its confirmation.
    c.back().await.unwrap();
    click_then(&c, Locator::LinkText("Roll back…"), "form.rollback").await;
    click_then(&c, Locator::Css("form.rollback button"), "p.flash").await;
    assert!(text(&c, "p.flash").await.starts_with("Rolled back"), "{}", text(&c, "p.flash").await);
    assert!(db.members(GroupKind::Etf, "ZZZT").await.is_empty());
    // The memberships come back; the history keeps the closed intervals of what the run did.
    let after = db.state().await;
    let differ: Vec<&String> = after.iter().filter(|l| !before.contains(l) && !l.starts_with("history rows")).collect();
    assert!(differ.is_empty() && after.len() == before.len(), "the rollback restores the state: {differ:?}");
    screenshot_and_console(&c, &format!("console-rolled-back-{backend}")).await;

    // Organize, append: the stale row is kept.
    click_then(&c, Locator::LinkText("Cache"), "form.organize").await;
    c.find(Locator::Css("input[value=append]")).await.unwrap().click().await.unwrap();
    click_then(&c, Locator::Css("form.organize button"), "table.rows").await;
    let stale = "//tr[td[normalize-space()='stale_one']]/td[contains(@class,'action')]";
    assert_eq!(c.find(Locator::XPath(stale)).await.unwrap().text().await.unwrap(), "kept");
    screenshot_and_console(&c, &format!("console-organize-append-{backend}")).await;
    // Nothing but the stale row differs, so append has nothing to apply.
    assert!(text(&c, "main").await.contains("Nothing to change."));
    assert_eq!(db.cache_symbols("stock_universe", "stale_one").await, ["AAPL"]);

    // Replace: the stale row goes, once confirmed.
    click_then(&c, Locator::LinkText("Back"), "form.organize").await;
    c.find(Locator::Css("input[value=replace]")).await.unwrap().click().await.unwrap();
    click_then(&c, Locator::Css("form.organize button"), "table.rows").await;
    assert_eq!(c.find(Locator::XPath(stale)).await.unwrap().text().await.unwrap(), "removed");
    assert_eq!(db.cache_symbols("stock_universe", "stale_one").await, ["AAPL"], "not before the confirmation");
    screenshot_and_console(&c, &format!("console-organize-replace-{backend}")).await;
    click_then(&c, Locator::XPath("//button[normalize-space()='Apply this change']"), "p.flash").await;
    assert!(text(&c, "p.flash").await.starts_with("Organize applied as run"));
    assert!(db.cache_symbols("stock_universe", "stale_one").await.is_empty());
    c.close().await.unwrap();
}

/// Historical data: a load started from the form runs in the server's worker and its row reaches 100 % without a
/// reload (the live log fills); another job, queued behind it, is cancelled from its button.
async fn jobs_in_a_browser(db: &TestDb) {
    db.seed_sample().await;
    let massive = crate::jobs::week_server(Duration::from_millis(300)).await;
    // Symbols SLOWA and SLOWB answer after six seconds: a job of them keeps the worker (one job at a time) busy.
    wiremock::Mock::given(wiremock::matchers::path_regex("^/v2/aggs/ticker/SLOW[A-Z]/range/1/week/"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(r#"{"status":"OK","results":[]}"#, "application/json")
                .set_delay(Duration::from_secs(6)),
        )
        .with_priority(1)
        .mount(&massive)
        .await;
    let mut opts = options(Some("k"), quick_watch());
    opts.jobs.worker = Some(universe::bars::BarSource::massive(crate::market::client(&massive)));
    let server = TestServer::start(db, opts).await;
    let (c, _driver) = browser().await;
    let backend = backend(db);
    log_in(&c, &server.base).await;

    let submit = async |symbols: &str| -> String {
        c.goto(&format!("{}/admin/historical-data", server.base)).await.unwrap();
        c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("form.load")).await.unwrap();
        c.find(Locator::Css("input[value=symbols]")).await.unwrap().click().await.unwrap();
        c.find(Locator::Css("input[name=symbols]")).await.unwrap().send_keys(symbols).await.unwrap();
        c.find(Locator::Css("input[value=day]")).await.unwrap().click().await.unwrap(); // off
        c.find(Locator::Css("input[value=week]")).await.unwrap().click().await.unwrap(); // on
        // The flash of a fresh page (the page before has none: it was loaded without one).
        click_then(&c, Locator::Css("form.load button"), "p.flash").await;
        let flash = text(&c, "p.flash").await;
        flash.trim_start_matches("Job ").trim_end_matches(" submitted.").to_string()
    };
    // The first job's row moves to 100 % from its events while the page stays; the log fills.
    let first = submit("AAPL, MSFT, NVDA, AMZN, GOOGL, META").await;
    let row = format!("tr[data-job='{first}']");
    c.find(Locator::Css(&row)).await.expect("the job is listed as active");
    // A mark on this page: gone if the page reloaded.
    c.execute("window.universeMark = 1;", vec![]).await.unwrap();
    wait_text(&c, &format!("{row} .pct"), Duration::from_secs(60), |t| t == "100 %").await;
    wait_text(&c, &format!("{row} .status"), Duration::from_secs(30), |t| t == "completed").await;
    assert!(!texts(&c, "ol.log li").await.is_empty(), "the live log lists the job's messages");
    let mark = c.execute("return window.universeMark === 1;", vec![]).await.unwrap();
    assert_eq!(mark, serde_json::json!(true), "still the same page: no reload");
    screenshot_and_console(&c, &format!("console-jobs-done-{backend}")).await;
    // Another, queued behind a slow one, cancelled from its button.
    let slow = submit("SLOWA, SLOWB").await;
    let second = submit("JPM, XOM").await;
    assert_eq!(db.store.job(&second).await.unwrap().unwrap().status, JobStatus::Queued, "behind {slow}");
    let cancel = format!("tr[data-job='{second}'] form.cancel button");
    c.find(Locator::Css(&cancel)).await.unwrap().click().await.unwrap();
    wait_text(&c, "p.flash", Duration::from_secs(10), |t| t.starts_with("Cancellation of job")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = db.store.job(&second).await.unwrap().unwrap();
        if job.status.is_final() {
            assert_eq!(job.status, JobStatus::Cancelled);
            break;
        }
        assert!(Instant::now() < deadline, "the cancelled job never ended: {:?}", job.status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(db.store.job(&first).await.unwrap().unwrap().status, JobStatus::Completed);
    // The history lists both, after a reload.
    c.goto(&format!("{}/admin/historical-data", server.base)).await.unwrap();
    c.wait().at_most(PAGE_WAIT).for_element(Locator::Css("table.history")).await.unwrap();
    let statuses = texts(&c, "table.history td.status").await;
    assert!(statuses.contains(&"cancelled".to_string()) && statuses.contains(&"completed".to_string()), "{statuses:?}");
    screenshot_and_console(&c, &format!("console-jobs-history-{backend}")).await;
    c.close().await.unwrap();
}

contract!(console_in_a_browser, universes_in_a_browser, uploads_in_a_browser, jobs_in_a_browser);
