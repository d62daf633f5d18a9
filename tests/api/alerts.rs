//! Data-quality alerts (issue #18): every validation is stored; compared with the last delivered one, a rise of
//! the unknown-sector share, a drop of integrity and a newly failing check are posted to a webhook as
//! Slack-compatible JSON — here a real HTTP receiver on a loopback port. A receiver that answers 500 leaves the
//! alerts undelivered: the next validation says them again; the CLI exits 3 then. Scheduled runs take one slot per
//! interval, so two schedulers alert once.

use std::sync::{Arc, Mutex};

use universe::domain::Environment;
use universe::load::{LoadKind, Mode};
use universe::quality::Options;
use universe::quality::alerts::{Webhook, validate_and_alert};

use crate::helpers::{TestDb, contract};

/// A webhook receiver: the JSON bodies it got, and whether it answers 500.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<serde_json::Value>>>,
    failing: Arc<Mutex<bool>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook/T000/B000/secret",
            axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
                let me = me.clone();
                async move {
                    if *me.failing.lock().unwrap() {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    me.got.lock().unwrap().push(v);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook/T000/B000/secret", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn texts(&self) -> Vec<String> {
        self.got.lock().unwrap().iter().map(|v| v["text"].as_str().unwrap().to_string()).collect()
    }
}

async fn alerts_reach_a_webhook(db: &TestDb) {
    db.seed_sample().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let hook = Webhook::new(&url).unwrap();
    assert!(!hook.redacted().contains("secret"), "the webhook's secret path stays out of logs");
    let run = async || {
        validate_and_alert(&db.store, Environment::Default, Options::default(), Some(&hook), None)
            .await
            .unwrap()
            .unwrap()
    };

    // The first run alerts on whatever fails; the second, with nothing changed, says nothing.
    let first = run().await;
    assert!(first.stored.is_some(), "{:?}", first.not_stored);
    let posted = receiver.texts().len();
    assert_eq!(posted, usize::from(!first.alerts.is_empty()));
    let second = run().await;
    assert!(second.alerts.is_empty(), "{:?}", second.alerts);
    assert_eq!(receiver.texts().len(), posted, "nothing new, nothing posted");

    // Stocks move to unknown and a theme is left empty: the share rises, integrity drops, a check newly fails.
    db.load_ok(LoadKind::Sectors, &[("sectors.csv", "Symbol,Sector\nAAPL,\nMSFT,\nNVDA,\n")], Mode::Full).await;
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('empty_theme', 'THEME', 'DEFAULT')").await;
    let third = run().await;
    assert_eq!(third.delivery, Some(Ok(())));
    let text = receiver.texts().pop().unwrap();
    assert!(text.starts_with("TickStock Universe data quality (DEFAULT, "), "{text}");
    assert!(text.contains("Unknown-sector share rose from"), "{text}");
    assert!(text.contains("Integrity dropped from"), "{text}");
    assert!(
        text.contains("Check theme_empty (Themes with no members) now fails") && text.contains("empty_theme"),
        "{text}"
    );

    // The receiver fails: not delivered, and the next validation (receiver back) says it again.
    *receiver.failing.lock().unwrap() = true;
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('EMPTYETF', 'ETF', 'DEFAULT')").await;
    let fourth = run().await;
    assert!(matches!(&fourth.delivery, Some(Err(e)) if e.contains("500")), "{:?}", fourth.delivery);
    let before = receiver.texts().len();
    *receiver.failing.lock().unwrap() = false;
    let fifth = run().await;
    assert_eq!(fifth.delivery, Some(Ok(())));
    assert_eq!(receiver.texts().len(), before + 1);
    assert!(receiver.texts().pop().unwrap().contains("Check etf_empty (ETF groups with no holdings) now fails"));

    // A run without a webhook (the console's) is stored but is no base: the webhook still hears of a change.
    validate_and_alert(&db.store, Environment::Default, Options::default(), None, None).await.unwrap().unwrap();
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('empty_universe', 'UNIVERSE', 'DEFAULT')")
        .await;
    validate_and_alert(&db.store, Environment::Default, Options::default(), None, None).await.unwrap().unwrap();
    let sixth = run().await;
    assert!(sixth.alerts.iter().any(|a| a.contains("universe_empty")), "{:?}", sixth.alerts);

    // Runs with other thresholds are no base for the default ones, nor the default ones for them.
    let strict = Options { unknown_max: 0.0, ..Options::default() };
    let other = validate_and_alert(&db.store, Environment::Default, strict, Some(&hook), None).await.unwrap().unwrap();
    assert!(
        other.alerts.iter().any(|a| a.contains("now fails")),
        "compared with nothing of its own: {:?}",
        other.alerts
    );
    assert!(run().await.alerts.is_empty(), "the default runs still compare with their own");

    // Scheduled runs of one interval, started together as replicas do: one claims the slot, checks and alerts; the
    // others check nothing.
    let slot = Some("scheduled:DEFAULT:0");
    let runs = futures_util::future::join_all(
        (0..4).map(|_| validate_and_alert(&db.store, Environment::Default, Options::default(), Some(&hook), slot)),
    )
    .await;
    let ran: Vec<_> = runs.into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(ran.len(), 1, "one of four took the slot");
    let stored = db.store.validations(Environment::Default, 100).await.unwrap();
    assert_eq!(stored.len(), 11, "every run, the slot's once");
}

/// `universe validate --alert-webhook URL`: posts, prints what changed, exits 3 when the webhook fails.
async fn validate_cli_posts_alerts(db: &TestDb) {
    db.seed_sample().await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('empty_theme', 'THEME', 'DEFAULT')").await;
    let url2 = url.clone();
    let dburl = db.url.clone();
    let cli = move |url: String| {
        let dburl = dburl.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_universe"))
                .args(["--database-url", &dburl, "validate", "--alert-webhook", &url])
                .env_remove("DATABASE_URL")
                .env_remove("UNIVERSE_ALERT_WEBHOOK")
                .output()
                .unwrap()
        })
    };
    let out = cli(url2).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a check fails: {stdout}");
    assert!(stdout.contains("Since the previous validation (posted to the webhook):"), "{stdout}");
    assert!(receiver.texts().pop().unwrap().contains("theme_empty"));
    *receiver.failing.lock().unwrap() = true;
    db.exec("INSERT INTO definition_groups (name, type, environment) VALUES ('EMPTYETF', 'ETF', 'DEFAULT')").await;
    let out = cli(url).await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("alerts not delivered"));
}

contract!(alerts_reach_a_webhook, validate_cli_posts_alerts);
