//! The operator's console over HTTP (issue #18, first part), on both backends: off without an admin key; a login
//! with the key starts a signed, HttpOnly, SameSite=Strict session; a wrong key is refused and login attempts are
//! rate-limited per address; `next` never leaves the site; a form post without the session's CSRF token is
//! refused; the dashboard shows the data and escapes what it shows (a file named with markup renders as text); a
//! tampered cookie is no session; pages are never cached and allow no foreign script.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use universe::load::{LoadKind, Mode};

use crate::helpers::{TestDb, contract};
use crate::server::{TestServer, options, quick_watch};

/// A client that does not follow redirects (the tests look at them).
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The `name=value` of a response's session cookie, and its attributes.
fn session_cookie(r: &reqwest::Response) -> Option<(String, String)> {
    r.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
        pair.starts_with("universe_session=").then(|| (pair.to_string(), attrs.to_string()))
    })
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    page[at..at + 32].to_string()
}

/// An `application/x-www-form-urlencoded` body, as a browser sends a form.
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn post_form(http: &reqwest::Client, url: String, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
    http.post(url).header("content-type", "application/x-www-form-urlencoded").body(form(pairs))
}

async fn login(http: &reqwest::Client, base: &str, key: &str) -> reqwest::Response {
    post_form(http, format!("{base}/login"), &[("key", key), ("next", "/admin/relationships")]).send().await.unwrap()
}

async fn console_sessions_and_dashboard(db: &TestDb) {
    db.seed_sample().await;
    // A run whose source is a file named with markup (refused: not a valid group name), listed on the dashboard.
    let _ = db.load(LoadKind::Universes, &[("<script>alert(1)</script>.csv", "symbol\nAAPL\n")], Mode::Full).await;
    let server = TestServer::start(db, options(Some("k"), quick_watch())).await;
    let (http, base) = (client(), server.base.clone());
    let get = |path: &str, cookie: Option<&str>| {
        let mut r = http.get(format!("{base}{path}"));
        if let Some(c) = cookie {
            r = r.header(COOKIE, c);
        }
        r.send()
    };

    let r = get("/", None).await.unwrap();
    assert_eq!((r.status(), r.headers()[LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/admin/relationships"));
    let r = get("/admin/relationships", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "no session: to the login page");
    assert_eq!(r.headers()[LOCATION], "/login?next=/admin/relationships");
    let page = get("/login?next=/admin/relationships", None).await.unwrap().text().await.unwrap();
    assert!(page.contains("type=\"password\""), "{page}");

    let wrong = login(&http, &base, "not-the-key").await;
    assert_eq!(wrong.status(), StatusCode::OK, "the form again, with the reason");
    assert!(session_cookie(&wrong).is_none());
    assert!(wrong.text().await.unwrap().contains("That is not the admin key."));

    let right = login(&http, &base, "k").await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()[LOCATION], "/admin/relationships");
    let (cookie, attrs) = session_cookie(&right).expect("a session cookie");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict") && attrs.contains("Path=/"), "{attrs}");
    assert!(!attrs.contains("Secure"), "plain HTTP: {attrs}");

    let r = get("/admin/relationships", Some(&cookie)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("Relationships dashboard") && page.contains("ETFs"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;.csv"), "the file name as text: {page}");
    assert!(!page.contains("<script>alert(1)"), "never as markup");
    assert!(page.contains("/assets/htmx-2.0.11.min.js"));
    let csrf = csrf_of(&page);
    let r = get("/admin/relationships", Some(&cookie)).await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));

    // A state-changing post: refused without the token or with another, done with the session's.
    let post = |path: &str, token: Option<&str>| {
        let form: Vec<(&str, &str)> = token.map(|t| vec![("csrf", t)]).unwrap_or_default();
        post_form(&http, format!("{base}{path}"), &form).header(COOKIE, &cookie).send()
    };
    assert_eq!(post("/admin/console/refresh", None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post("/admin/console/refresh", Some(&"0".repeat(32))).await.unwrap().status(), StatusCode::FORBIDDEN);
    let done = post("/admin/console/refresh", Some(&csrf)).await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()[LOCATION], "/admin/relationships?flash=refreshed");
    let page = get("/admin/relationships?flash=refreshed", Some(&cookie)).await.unwrap().text().await.unwrap();
    assert!(page.contains("Cache refreshed: version"), "{page}");

    // `next` stays on this site, whatever it is given (a tab would make `/\t/evil` into `//evil` in a browser).
    for hostile in ["//evil.example/", "/\t/evil.example", "https://evil.example/"] {
        let r = post_form(&http, format!("{base}/login"), &[("key", "k"), ("next", hostile)]).send().await.unwrap();
        assert_eq!(r.headers()[LOCATION], "/admin/relationships", "{hostile:?}");
    }

    // A tampered cookie is no session. Logging out deletes the cookie in the browser.
    let tampered = cookie.replacen("universe_session=", "universe_session=x", 1);
    assert_eq!(get("/admin/relationships", Some(&tampered)).await.unwrap().status(), StatusCode::SEE_OTHER);
    let out = post("/logout", Some(&csrf)).await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (cleared, _) = session_cookie(&out).expect("the cookie cleared");
    assert_eq!(cleared, "universe_session=");

    // htmx comes from the binary, cacheable for a year.
    let js = get("/assets/htmx-2.0.11.min.js", None).await.unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.headers()["cache-control"].to_str().unwrap().contains("max-age=31536000"));
    assert!(js.bytes().await.unwrap().len() > 40_000);
}

/// Five login attempts a minute from one address; the sixth is refused before the key is compared (429, saying to
/// wait), so the right key gets no further from there than a guess.
async fn failed_logins_are_limited(db: &TestDb) {
    let server = TestServer::start(db, options(Some("k"), quick_watch())).await;
    let http = client();
    for i in 0..5 {
        let r = login(&http, &server.base, "guess").await;
        assert!(session_cookie(&r).is_none(), "attempt {i}");
        assert!(r.text().await.unwrap().contains("That is not the admin key."), "attempt {i}");
    }
    let limited = login(&http, &server.base, "guess").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.text().await.unwrap().contains("wait a moment"));
    let right = login(&http, &server.base, "k").await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "over the budget even the key is not compared");
    assert!(session_cookie(&right).is_none());
}

/// With no admin key the console is off, as the admin API is: `/` stays the API's 404, the pages are 404.
async fn console_off_without_a_key(db: &TestDb) {
    let server = TestServer::start(db, options(None, quick_watch())).await;
    let http = client();
    let root = http.get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(root.status(), StatusCode::NOT_FOUND);
    assert!(root.headers()["content-type"].to_str().unwrap().contains("json"));
    for path in ["/admin/relationships", "/login"] {
        assert_eq!(http.get(format!("{}{path}", server.base)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    }
}

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
                                     "--window-size=1280,1000"] }),
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
async fn screenshot_and_console(client: &fantoccini::Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    let log = client.issue_cmd(BrowserLog).await.unwrap();
    let entries = log.as_array().unwrap_or_else(|| panic!("{name}: the browser log is not a list: {log}"));
    let errors: Vec<&serde_json::Value> = entries.iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(errors.is_empty(), "{name}: the browser console logged errors: {errors:?}");
}

/// A person at the console: a wrong key is refused with a message, the right one opens the dashboard, a file
/// named with markup shows as text, "Refresh cache" says what it did; screenshots kept, no console error.
async fn console_in_a_browser(db: &TestDb) {
    use fantoccini::Locator;
    db.seed_sample().await;
    let _ = db.load(LoadKind::Universes, &[("<script>alert(1)</script>.csv", "symbol\nAAPL\n")], Mode::Full).await;
    let server = TestServer::start(db, options(Some("k"), quick_watch())).await;
    let (c, _driver) = browser().await;
    let backend = if db.url.starts_with("postgres") { "postgres" } else { "sqlite" };
    c.goto(&format!("{}/", server.base)).await.unwrap();
    c.wait().for_element(Locator::Css("input[name=key]")).await.unwrap().send_keys("not-the-key").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let error = c.wait().for_element(Locator::Css("p.error")).await.unwrap().text().await.unwrap();
    assert_eq!(error, "That is not the admin key.");
    c.find(Locator::Css("input[name=key]")).await.unwrap().send_keys("k").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    // Wait for an element only the dashboard has (the login page's own h1 would match a bare `main h1`).
    c.wait().for_element(Locator::Css("table.counts")).await.unwrap();
    let h1 = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert_eq!(h1, "Relationships dashboard");
    assert_eq!(c.current_url().await.unwrap().path(), "/admin/relationships");
    let sources: Vec<String> = {
        let mut out = Vec::new();
        for cell in c.find_all(Locator::Css("td.source")).await.unwrap() {
            out.push(cell.text().await.unwrap());
        }
        out
    };
    assert!(sources.iter().any(|s| s == "<script>alert(1)</script>.csv"), "shown as text: {sources:?}");
    screenshot_and_console(&c, &format!("console-dashboard-{backend}")).await;
    c.find(Locator::XPath("//button[normalize-space()='Refresh cache']")).await.unwrap().click().await.unwrap();
    let flash = c.wait().for_element(Locator::Css("p.flash")).await.unwrap().text().await.unwrap();
    assert!(flash.starts_with("Cache refreshed: version"), "{flash}");
    screenshot_and_console(&c, &format!("console-refreshed-{backend}")).await;
    c.find(Locator::XPath("//button[normalize-space()='Log out']")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("input[name=key]")).await.unwrap();
    c.close().await.unwrap();
}

contract!(console_sessions_and_dashboard, failed_logins_are_limited, console_off_without_a_key, console_in_a_browser);
