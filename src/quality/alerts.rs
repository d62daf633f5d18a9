//! Data-quality alerts: each validation is stored, and compared with the last one whose alerts went out — the
//! unknown-sector share rose, the integrity (the share of checks that pass) dropped, or a check newly fails — and
//! what changed is posted to a webhook as a Slack-compatible message (`{"text": …}`). A delivery that fails
//! leaves the run undelivered, so the next validation compares with the same base and says it again: an alert is
//! never lost to a webhook that was down. A scheduled run claims its interval's slot before it checks anything, so
//! of many replicas one validates and alerts per interval. Runs compare only with runs of the same thresholds.

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
    /// Its stored id; `None` when it could not be stored (see `not_stored`).
    pub stored: Option<i64>,
    /// Why it could not be stored (the checks still ran; nothing was compared or posted).
    pub not_stored: Option<String>,
    /// What changed since the last delivered run.
    pub alerts: Vec<String>,
    /// The webhook's answer, when there were alerts and a webhook.
    pub delivery: Option<Result<(), String>>,
}

/// The thresholds a run used, as stored: runs compare only with runs made with the same.
fn options_key(o: &Options) -> String {
    format!("unknown_max={} stale_days={} strict={}", o.unknown_max, o.stale_days, o.strict)
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

/// Claims the run (under `slot` for a scheduled one: `None` back when another replica has this interval's), runs
/// the checks, stores them, and posts what changed since the last delivered run with the same thresholds to
/// `webhook`. A run that cannot be stored (a read-only role) still returns its checks, saying why.
pub async fn validate_and_alert(
    store: &Store,
    env: Environment,
    opts: Options,
    webhook: Option<&Webhook>,
    slot: Option<&str>,
) -> Result<Option<Outcome>, StoreError> {
    let key = options_key(&opts);
    let (id, not_stored) = match store.claim_validation(env, &key, slot, Utc::now()).await {
        Ok(Some(id)) => (Some(id), None),
        Ok(None) => return Ok(None),
        Err(e) if slot.is_some() => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "the validation cannot be stored; its checks still run");
            (None, Some(e.to_string()))
        }
    };
    let validation = super::validate(store, env, opts).await?;
    let Some(id) = id else {
        return Ok(Some(Outcome { validation, stored: None, not_stored, alerts: Vec::new(), delivery: None }));
    };
    let checked_at = Utc::now();
    let (share, integrity, checks) = stored_checks(&validation);
    let before = store.validation_base(env, &key).await?;
    let alerts = compare(before.as_ref(), share, integrity, &checks);
    let worst = level_str(validation.worst());
    let row = NewValidation {
        checked_at,
        result: worst,
        unknown_share: share,
        integrity,
        checks: &checks,
        // Only a run that had a webhook is a base for the next comparison (at once when it has nothing to say): a
        // run without one (the console's, a plain `validate`) must not swallow what the webhook has not heard.
        delivered: webhook.is_some() && alerts.is_empty(),
    };
    store.finish_validation(id, &row).await?;
    let delivery = match (webhook, alerts.is_empty()) {
        (Some(hook), false) => {
            let sent = hook.post(&message(env, worst, checked_at, &alerts)).await;
            match &sent {
                Ok(()) => {
                    if let Err(e) = store.validation_delivered(id).await {
                        tracing::warn!(error = %e, "alerts delivered but not marked so; the next validation repeats them");
                    }
                }
                Err(e) => {
                    tracing::warn!(webhook = %hook.redacted(), error = %e, "alerts not delivered; the next validation repeats them")
                }
            }
            Some(sent)
        }
        _ => None,
    };
    Ok(Some(Outcome { validation, stored: Some(id), not_stored: None, alerts, delivery }))
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
                Ok(Some(o)) => {
                    tracing::info!(
                        alerts = o.alerts.len(),
                        result = level_str(o.validation.worst()),
                        "scheduled validation"
                    )
                }
                Ok(None) => tracing::debug!(%slot, "scheduled validation: another process took this interval"),
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
