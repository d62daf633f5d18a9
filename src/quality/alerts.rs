//! Data-quality alerts: each validation is stored, and compared with the last one whose alerts went out — the
//! unknown-sector share rose, the integrity (the share of checks that pass) dropped, or a check newly fails — and
//! what changed is posted to a webhook as a Slack-compatible message (`{"text": …}`). A delivery that fails
//! leaves the run undelivered, so the next validation compares with the same base and says it again: an alert is
//! never lost to a webhook that was down. Scheduled runs take a slot, so many replicas alert once per interval.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Level, Options, Validation};
use crate::domain::Environment;
use crate::store::{NewValidation, Store, StoreError, StoredCheck, ValidationRow};

/// How long a webhook may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// A rise in the unknown-sector share smaller than this (percentage points) is noise, not an alert.
const SHARE_EPSILON: f64 = 0.005;

/// Where alerts go (no `Debug`: the URL of a Slack webhook is its secret).
#[derive(Clone)]
pub struct Webhook {
    url: reqwest::Url,
    http: reqwest::Client,
}

impl Webhook {
    /// A webhook at an `http(s)` URL.
    pub fn new(url: &str) -> Result<Webhook, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("alert webhook: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("alert webhook: scheme {:?} is not http or https", url.scheme()));
        }
        crate::market::install_crypto_provider();
        let http =
            reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().map_err(|e| format!("alert webhook: {e}"))?;
        Ok(Webhook { url, http })
    }

    /// Where it points, without path or query (which carry a Slack webhook's secret): for logs.
    pub fn redacted(&self) -> String {
        format!("{}://{}/…", self.url.scheme(), self.url.host_str().unwrap_or(""))
    }

    async fn post(&self, text: &str) -> Result<(), String> {
        let r = self.http.post(self.url.clone()).json(&serde_json::json!({ "text": text })).send().await;
        match r {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("the webhook answered {}", r.status())),
            Err(e) => Err(format!("the webhook could not be reached: {}", e.without_url())),
        }
    }
}

/// What one validation with alerts did.
#[derive(Debug)]
pub struct Outcome {
    /// The checks.
    pub validation: Validation,
    /// Its stored id; `None` when another replica took this slot (it neither stored nor alerted).
    pub stored: Option<i64>,
    /// What changed since the last delivered run.
    pub alerts: Vec<String>,
    /// The webhook's answer, when there were alerts and a webhook.
    pub delivery: Option<Result<(), String>>,
}

/// The figures and checks of a validation, as stored.
fn stored_checks(v: &Validation) -> (Option<f64>, f64, Vec<StoredCheck>) {
    let checks: Vec<StoredCheck> = v
        .checks
        .iter()
        .map(|c| StoredCheck {
            id: c.id.into(),
            title: c.title.into(),
            level: level_str(c.level).into(),
            detail: c.detail.clone(),
            count: c.count,
            items: c.items.clone(),
        })
        .collect();
    let passing = v.checks.iter().filter(|c| c.level == Level::Pass).count();
    let integrity = if v.checks.is_empty() { 100.0 } else { passing as f64 * 100.0 / v.checks.len() as f64 };
    let share = v.checks.iter().find(|c| c.id == "sector_coverage").and_then(|c| c.share);
    (share, integrity, checks)
}

fn level_str(l: Level) -> &'static str {
    match l {
        Level::Pass => "PASS",
        Level::Warn => "WARN",
        Level::Fail => "FAIL",
    }
}

/// What changed between the last delivered run and this one (every failing check when there is none before).
pub fn compare(
    before: Option<&ValidationRow>,
    share: Option<f64>,
    integrity: f64,
    checks: &[StoredCheck],
) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(b), Some(now)) = (before.and_then(|b| b.unknown_share), share)
        && now > b + SHARE_EPSILON
    {
        out.push(format!("Unknown-sector share rose from {b:.2} % to {now:.2} %."));
    }
    if let Some(b) = before
        && integrity < b.integrity
    {
        out.push(format!("Integrity dropped from {:.1} % to {integrity:.1} % of checks passing.", b.integrity));
    }
    let failed_before = |id: &str| before.is_some_and(|b| b.checks.iter().any(|c| c.id == id && c.level == "FAIL"));
    for c in checks.iter().filter(|c| c.level == "FAIL" && !failed_before(&c.id)) {
        let items = if c.items.is_empty() { String::new() } else { format!(" ({})", c.items.join(", ")) };
        out.push(format!("Check {} ({}) now fails: {}{items}.", c.id, c.title, c.detail));
    }
    out
}

/// Runs the checks, stores the run (under `slot` for a scheduled one) and posts what changed to `webhook`.
pub async fn validate_and_alert(
    store: &Store,
    env: Environment,
    opts: Options,
    webhook: Option<&Webhook>,
    slot: Option<&str>,
) -> Result<Outcome, StoreError> {
    let validation = super::validate(store, env, opts).await?;
    let checked_at = Utc::now();
    let (share, integrity, checks) = stored_checks(&validation);
    let before = store.validations(env, true, 1).await?.into_iter().next();
    let alerts = compare(before.as_ref(), share, integrity, &checks);
    let worst = level_str(validation.worst());
    let row = NewValidation {
        environment: env,
        checked_at,
        result: worst,
        unknown_share: share,
        integrity,
        checks: &checks,
        // Only a run that had a webhook is a base for the next comparison (at once when it has nothing to say): a
        // run without one (the console's, a plain `validate`) must not swallow what the webhook has not heard.
        delivered: webhook.is_some() && alerts.is_empty(),
        slot,
    };
    let Some(id) = store.record_validation(&row).await? else {
        return Ok(Outcome { validation, stored: None, alerts: Vec::new(), delivery: None });
    };
    let delivery = match (webhook, alerts.is_empty()) {
        (Some(hook), false) => {
            let text = message(env, worst, checked_at, &alerts);
            let sent = hook.post(&text).await;
            match &sent {
                Ok(()) => store.validation_delivered(id).await?,
                Err(e) => {
                    tracing::warn!(webhook = %hook.redacted(), error = %e, "alerts not delivered; the next validation repeats them")
                }
            }
            Some(sent)
        }
        _ => None,
    };
    Ok(Outcome { validation, stored: Some(id), alerts, delivery })
}

/// The Slack message.
fn message(env: Environment, worst: &str, at: DateTime<Utc>, alerts: &[String]) -> String {
    let mut text = format!(
        "TickStock Universe data quality ({env}, {}): {worst}, {} alert{}",
        at.format("%Y-%m-%d %H:%M UTC"),
        alerts.len(),
        if alerts.len() == 1 { "" } else { "s" }
    );
    for a in alerts {
        text.push_str("\n• ");
        text.push_str(a);
    }
    text
}

/// Validates every `every` (when `webhook` is set): each interval is a slot, so of many replicas one validates
/// and alerts per interval. Runs until `shutdown`.
pub async fn schedule(
    store: Store,
    env: Environment,
    webhook: Webhook,
    every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let every_secs = every.as_secs().max(60) as i64;
    let run = async {
        loop {
            let now = Utc::now().timestamp();
            let slot_start = now - now.rem_euclid(every_secs);
            let slot = format!("scheduled:{env}:{slot_start}");
            match validate_and_alert(&store, env, Options::default(), Some(&webhook), Some(&slot)).await {
                Ok(o) if o.stored.is_some() => {
                    tracing::info!(
                        alerts = o.alerts.len(),
                        result = level_str(o.validation.worst()),
                        "scheduled validation"
                    )
                }
                Ok(_) => tracing::debug!(%slot, "scheduled validation: another process took this interval"),
                Err(e) => tracing::warn!(error = %e, "scheduled validation could not run"),
            }
            let next = slot_start + every_secs;
            let wait = (next - Utc::now().timestamp()).max(1) as u64;
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
    };
    tokio::select! {
        () = run => {}
        () = shutdown => {}
    }
}
