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
pub(crate) fn client() -> reqwest::Client {
    // reqwest is built without a default TLS crypto provider (see universe::market).
    universe::market::install_crypto_provider();
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

pub(crate) fn post_form(http: &reqwest::Client, url: String, pairs: &[(&str, &str)]) -> reqwest::RequestBuilder {
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

/// A logged-in session: its cookie and CSRF token.
pub(crate) async fn session(http: &reqwest::Client, base: &str) -> (String, String) {
    let r = login(http, base, "k").await;
    let (cookie, _) = session_cookie(&r).expect("a session cookie");
    let page = http.get(format!("{base}/admin/relationships")).header(COOKIE, &cookie).send().await.unwrap();
    (cookie, csrf_of(&page.text().await.unwrap()))
}

/// A `multipart/form-data` body with text fields and one file, as a browser sends the upload form.
fn multipart(fields: &[(&str, &str)], file: (&str, &str)) -> (String, String) {
    let boundary = "----universe-test-boundary";
    let mut body = String::new();
    for (k, v) in fields {
        body += &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
    }
    body += &format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: text/csv\r\n\r\n{}\r\n--{boundary}--\r\n",
        file.0, file.1
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The console's other pages over HTTP: every page needs a login and every post the session's token; bad input is
/// a 4xx page that says why and writes nothing (an upload's problems with their lines, a file not the one
/// previewed, a bad date, an unknown key or group, a job with bad years); a CSV download carries every member; a
/// refused rollback says why in the CLI's words.
async fn console_pages_over_http(db: &TestDb) {
    db.seed_sample().await;
    let server = TestServer::start(db, options(Some("k"), quick_watch())).await;
    let (http, base) = (client(), server.base.clone());
    for path in [
        "/admin/universes",
        "/admin/group?kind=UNIVERSE&name=dow30",
        "/admin/universes/key?key=dow30",
        "/admin/stock?ticker=AAPL",
        "/admin/uploads",
        "/admin/runs",
        "/admin/historical-data",
        "/admin/cache",
    ] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path} needs a login");
    }
    let (cookie, csrf) = session(&http, &base).await;
    let get = async |path: &str| {
        let r = http.get(format!("{base}{path}")).header(COOKIE, &cookie).send().await.unwrap();
        (r.status(), r.headers().clone(), r.text().await.unwrap())
    };
    let post = |path: &str, pairs: &[(&str, &str)]| {
        post_form(&http, format!("{base}{path}"), pairs).header(COOKIE, &cookie).send()
    };
    for path in [
        "/admin/uploads/apply",
        "/admin/runs/rollback",
        "/admin/historical-data/jobs",
        "/admin/historical-data/cancel",
        "/admin/cache/organize/preview",
        "/admin/console/validate",
        "/admin/cache/organize/apply",
    ] {
        let r = post(path, &[("id", "1"), ("mode", "replace"), ("csrf", &"0".repeat(32))]).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} without the session's token");
    }
    let upload = |fields: &[(&str, &str)], file: (&str, &str)| {
        let (ct, body) = multipart(fields, file);
        http.post(format!("{base}/admin/uploads/preview"))
            .header(COOKIE, &cookie)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = upload(&[("kind", "holdings")], ("x.csv", "symbol\nAAPL\n")).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "an upload without the token");

    // Pages that read the snapshot.
    let (status, _, page) = get("/admin/universes?q=dow").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(">dow30</a>"), "{page}");
    let (status, _, page) = get("/admin/group?kind=UNIVERSE&name=dow30").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("30 members."), "{page}");
    let (status, headers, csv) = get("/admin/group?kind=UNIVERSE&name=dow30&format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["content-disposition"], "attachment; filename=\"dow30_members.csv\"");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "ticker,name,weight_percent,sector,industry");
    assert_eq!(lines.len(), 31, "a header and every member");
    let (status, _, page) = get("/admin/group?kind=ETF&name=SPY&sort=weight&dir=desc").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No weights recorded."), "the sample's SPY has none");
    let (status, _, page) = get("/admin/group?kind=UNIVERSE&name=dow30&as_of=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a date"), "{page}");
    let (status, _, page) = get("/admin/group?kind=UNIVERSE&name=dow30&as_of=2001-01-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a day before the history: the page says so");
    assert!(page.contains("has no history before"), "{page}");
    assert_eq!(get("/admin/group?kind=UNIVERSE&name=nope").await.0, StatusCode::NOT_FOUND);
    // A query the page cannot read: a page saying why, not a JSON document.
    let (status, headers, page) = get("/admin/group?name=dow30").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"), "{headers:?}");
    assert!(page.contains("missing field `kind`"), "{page}");
    let (status, headers, _) = get("/admin/universes/key?key=dow30").await;
    assert_eq!(
        (status, headers[LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/admin/group?kind=UNIVERSE&name=dow30")
    );
    let (status, _, page) = get("/admin/universes/key?key=dow30%20%26%20nasdaq100").await;
    assert_eq!(status, StatusCode::OK);
    let both =
        universe::universes::resolve(&db.store, universe::domain::Environment::Default, "dow30 & nasdaq100").await;
    assert!(page.contains(&format!("{} members", both.unwrap().len())), "{page}");
    let (status, _, page) = get("/admin/universes/key?key=nosuchthing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("unknown universe key part"), "{page}");
    let (status, _, page) = get("/admin/stock?ticker=aapl").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("SPY") && page.contains("information_technology"), "{page}");

    // Uploads: problems with their lines, nothing written; a preview writes nothing; apply; a tampered file.
    let before = db.state().await;
    let r = upload(
        &[("csrf", &csrf), ("kind", "holdings"), ("etf", "ZZZT")],
        ("bad.csv", "symbol,weight\nAAPL,5\nMSFT,abc\n"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("<td class=\"num line\">3</td>") && page.contains("Nothing was loaded."), "{page}");
    let r = upload(
        &[("csrf", &csrf), ("kind", "holdings"), ("etf", "ZZZT")],
        ("good.csv", "symbol,weight\nAAPL,5\nMSFT,4\n"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Added: </strong>AAPL, MSFT"), "{page}");
    assert_eq!(db.state().await, before, "a preview writes nothing");
    let field = |page: &str, name: &str| {
        let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap() + name.len() + 15;
        page[at..at + page[at..].find('"').unwrap()].to_string()
    };
    let confirm = |page: &str| (field(page, "content"), field(page, "version"), field(page, "signature"));
    let (content, version, signature) = confirm(&page);
    use base64::Engine;
    let other = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("symbol,weight\nTSLA,9\n");
    let apply = |content: &str, etf: &str, version: &str, signature: &str| {
        let pairs = [
            ("csrf", csrf.as_str()),
            ("kind", "holdings"),
            ("etf", etf),
            ("name", ""),
            ("file_name", "good.csv"),
            ("version", version),
            ("signature", signature),
            ("content", content),
        ];
        post_form(&http, format!("{base}/admin/uploads/apply"), &pairs).header(COOKIE, &cookie).send()
    };
    // Another file, the same file for another fund, or a version made up: not what was previewed.
    for (content, etf, v) in
        [(other.as_str(), "ZZZT", version.as_str()), (&content, "SPY", &version), (&content, "ZZZT", "0")]
    {
        let r = apply(content, etf, v, &signature).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("not the upload previewed"));
        assert_eq!(db.state().await, before, "nothing written");
    }
    // The data changes between the preview and the confirmation: not applied; the diff now, to confirm again.
    db.load_ok(LoadKind::Holdings, &[("zzzt.csv", "symbol,weight\nAAPL,1\n")], Mode::Full).await;
    let changed = db.state().await;
    let r = apply(&content, "ZZZT", &version, &signature).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.unwrap();
    assert!(page.contains("the data changed since the preview") && page.contains("Changed: </strong>AAPL"), "{page}");
    assert_eq!(db.state().await, changed, "nothing written by the stale confirmation");
    let (content, version, signature) = confirm(&page);
    let r = apply(&content, "ZZZT", &version, &signature).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    let run: i64 = to.trim_start_matches("/admin/runs?id=").trim_end_matches("&flash=applied").parse().unwrap();
    assert_eq!(db.members(universe::domain::GroupKind::Etf, "ZZZT").await.len(), 2);
    let (_, _, page) = get("/admin/group?kind=ETF&name=ZZZT").await;
    assert!(page.contains("aria-label=\"holdings by weight\"") && page.contains(">5.00%</text>"), "the chart: {page}");

    // Rollback, then again: refused in the CLI's words.
    let id = run.to_string();
    assert_eq!(
        post("/admin/runs/rollback", &[("csrf", &csrf), ("id", &id)]).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let back: Vec<String> =
        db.members(universe::domain::GroupKind::Etf, "ZZZT").await.into_iter().map(|m| m.0).collect();
    assert_eq!(back, ["AAPL"], "as the load before it left the fund");
    let r = post("/admin/runs/rollback", &[("csrf", &csrf), ("id", &id)]).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains(&format!("run {run} was already rolled back by run")));

    // Jobs: refused with the reason, nothing queued.
    let r = post(
        "/admin/historical-data/jobs",
        &[
            ("csrf", &csrf),
            ("load_type", "universe"),
            ("universe_key", "dow30"),
            ("years", "many"),
            ("timeframes", "day"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("years: &quot;many&quot; is not a number"));
    let r = post(
        "/admin/historical-data/jobs",
        &[("csrf", &csrf), ("load_type", "universe"), ("universe_key", "nope"), ("years", "1"), ("timeframes", "day")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("nope"), "names the key");
    assert!(db.store.jobs(None, 10).await.unwrap().is_empty(), "nothing queued");
    let r = post(
        "/admin/historical-data/jobs",
        &[
            ("csrf", &csrf),
            ("load_type", "universe"),
            ("universe_key", "dow30"),
            ("years", "1"),
            ("timeframes", "day"),
            ("timeframes", "week"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let jobs = db.store.jobs(None, 10).await.unwrap();
    assert_eq!((jobs.len(), jobs[0].counts.total_symbols), (1, 30));
    assert_eq!(jobs[0].spec["timeframes"], serde_json::json!(["day", "week"]));

    // The dashboard: validate from its button, the alerts shown; the report as a download, named as the seeds'.
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('empty_theme', 'THEME', 'DEFAULT')").await;
    let r = post("/admin/console/validate", &[("csrf", &csrf)]).await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/admin/relationships?flash=validated");
    let (status, _, page) = get("/admin/relationships?flash=validated").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<table class=\"alerts\">") && page.contains("Themes with no members"), "{page}");
    assert!(page.contains("empty_theme") && page.contains("aria-label=\"sector coverage over time\""), "{page}");
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    let (status, headers, md) = get(&format!("/admin/relationships/report/relationship_breakdown_{today}.md")).await;
    assert_eq!(status, StatusCode::OK);
    let disposition = format!("attachment; filename=\"relationship_breakdown_{today}.md\"");
    assert_eq!(headers["content-disposition"].to_str().unwrap(), disposition);
    assert!(md.starts_with("# Relationship Breakdown Report") && md.contains("## Theme Coverage"), "{md}");
    let (_, headers, json) = get(&format!("/admin/relationships/report/relationship_breakdown_{today}.json")).await;
    assert_eq!(headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json["theme_coverage"].as_array().is_some_and(|t| !t.is_empty()), "{json}");
    assert!(json["data_quality"]["theme_coverage"].as_f64().is_some());
    let (_, _, html) = get(&format!("/admin/relationships/report/relationship_breakdown_{today}.html")).await;
    assert!(html.contains("aria-label=\"theme coverage\""), "the theme-coverage figure");
    assert_eq!(get("/admin/relationships/report/x.exe").await.0, StatusCode::NOT_FOUND);

    // Organize: the confirmation applies only at the version its preview was computed at.
    let r = post("/admin/cache/organize/preview", &[("csrf", &csrf), ("mode", "replace")]).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let version = page.find("name=\"version\" value=\"").map(|at| {
        let v = &page[at + 22..];
        v[..v.find('"').unwrap()].to_string()
    });
    let version = version.expect("a confirmation (the empty theme and the load above changed groups)");
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "symbol\nAAPL\nMSFT\n")], Mode::Full).await;
    let dow_before = db.cache_symbols("stock_universe", "index_dow30").await;
    let r = post("/admin/cache/organize/apply", &[("csrf", &csrf), ("mode", "replace"), ("version", &version)]);
    let r = r.await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.unwrap();
    assert!(page.contains("the data changed since the preview"), "{page}");
    assert_eq!(db.cache_symbols("stock_universe", "index_dow30").await, dow_before, "nothing written");
    let at = page.find("name=\"version\" value=\"").unwrap() + 22;
    let version = page[at..at + page[at..].find('"').unwrap()].to_string();
    let r = post("/admin/cache/organize/apply", &[("csrf", &csrf), ("mode", "replace"), ("version", &version)]);
    let r = r.await.unwrap();
    let status = r.status();
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(db.cache_symbols("stock_universe", "index_dow30").await, ["AAPL", "MSFT"]);
}

contract!(
    console_sessions_and_dashboard,
    failed_logins_are_limited,
    console_off_without_a_key,
    console_pages_over_http
);
