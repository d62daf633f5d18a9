//! The daily sync's schedule: every NYSE trading day (the calendar in [`crate::bars::calendar`]) at a New York
//! time (16:10 by default, after the close; chrono-tz keeps daylight saving right), each worker queues that day's
//! `cache_sync` job under an id made of the day. The id is the lock: the `jobs` table takes one row per id, so with
//! N workers exactly one job exists per day, and a worker that starts after a missed slot (machine down) queues
//! the latest due day once — not one job per missed day, nor one per worker. With Redis, the scheduler first
//! waits for TickStock's end-of-day signal (up to an hour after the slot by default) and then queues the job, so
//! no worker sits blocked on the wait; the first scheduler to hear the signal queues, the others stop waiting.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;

use super::daily::SyncMode;
use crate::bars::calendar::is_trading_day;
use crate::jobs::Submitted;
use crate::jobs::redis::RedisBus;
use crate::jobs::sync_job;
use crate::store::{Store, StoreError};

/// When the sync runs.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// New York time of day.
    pub at: NaiveTime,
    /// The steps.
    pub mode: SyncMode,
    /// With Redis: how long a scheduled job waits for TickStock's end-of-day signal before it runs anyway.
    pub eod_wait: Option<Duration>,
    /// How often the scheduler checks (also the longest it sleeps, so a changed clock is noticed).
    pub check_every: Duration,
}

impl Schedule {
    /// 16:10 New York, full mode, no end-of-day wait, checked every minute.
    pub fn new(at: NaiveTime) -> Schedule {
        Schedule { at, mode: SyncMode::Full, eod_wait: None, check_every: Duration::from_secs(60) }
    }
}

/// The default time: ten minutes after the close, as TickStock's pipeline ran it.
pub fn default_time() -> NaiveTime {
    NaiveTime::from_hms_opt(16, 10, 0).expect("a valid time")
}

/// Parses `HH:MM` (New York time).
pub fn parse_time(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| format!("{s:?}: expected HH:MM, New York time (16:10)"))
}

/// The instant of a day's slot (the earlier one if the time falls in a daylight-saving overlap; the hour after a
/// skipped time).
fn slot_of(day: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(at);
    match New_York.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => New_York
            .from_local_datetime(&(local + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The latest slot at or before `now`: its trading day and instant.
pub fn due_slot(at: NaiveTime, now: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
    let mut day = now.with_timezone(&New_York).date_naive();
    loop {
        if is_trading_day(day) {
            let slot = slot_of(day, at);
            if slot <= now {
                return (day, slot);
            }
        }
        day = day.pred_opt().expect("a date after year 1");
    }
}

/// The first slot after `now`.
pub fn next_slot(at: NaiveTime, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut day = now.with_timezone(&New_York).date_naive();
    loop {
        if is_trading_day(day) {
            let slot = slot_of(day, at);
            if slot > now {
                return slot;
            }
        }
        day = day.succ_opt().expect("a date before year 262143");
    }
}

/// The scheduled job's id for a day: one job per day, whoever queues it.
pub fn job_id(day: NaiveDate) -> String {
    format!("cache_sync-{day}")
}

/// One look at the schedule at `now`: if the due day's sync is not queued yet, wait for TickStock's end-of-day
/// signal first (with a bus and a wait configured, until the slot plus the wait; `now` places the slot, the wait
/// itself runs on the real clock), then queue it — unless another worker did meanwhile. Returns the day and the
/// submission when this call queued it.
pub async fn tick(
    store: &Store,
    schedule: &Schedule,
    bus: Option<&RedisBus>,
    now: DateTime<Utc>,
) -> Result<Option<(NaiveDate, Submitted)>, StoreError> {
    let (day, slot) = due_slot(schedule.at, now);
    let id = job_id(day);
    if store.job(&id).await?.is_some() {
        return Ok(None);
    }
    let eod = match (bus, schedule.eod_wait) {
        (Some(bus), Some(wait)) => {
            let deadline = slot + chrono::Duration::from_std(wait).unwrap_or_default();
            Some(wait_for_eod(store, bus, &id, day, deadline, now).await?)
        }
        _ => None,
    };
    let submitted = sync_job::submit_with_id(store, &id, schedule.mode, false, "scheduler", eod).await?;
    Ok(submitted.created.then_some((day, submitted)))
}

/// Waits for the end-of-day signal until the slot plus `wait`, a few seconds at a time, stopping early when
/// another worker has queued the day's job. An item that names an earlier day (a signal nobody took that day) is
/// stale and skipped. Returns what happened, for the job's record.
async fn wait_for_eod(
    store: &Store,
    bus: &RedisBus,
    id: &str,
    day: NaiveDate,
    deadline_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let left = (deadline_at - now).to_std().unwrap_or_default();
    if left.is_zero() {
        return Ok("past the end-of-day wait: queued at once".into());
    }
    let mut listener = match bus.eod_listener().await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(job_id = %id, error = %e, "cannot wait for the end-of-day signal: queueing the sync");
            return Ok(format!("could not wait for the end-of-day signal ({e}): ran anyway"));
        }
    };
    tracing::info!(job_id = %id, wait_secs = left.as_secs(), "waiting for TickStock's end-of-day signal");
    let deadline = tokio::time::Instant::now() + left;
    loop {
        let chunk = deadline.saturating_duration_since(tokio::time::Instant::now());
        if chunk.is_zero() {
            tracing::warn!(job_id = %id, "no end-of-day signal in time: queueing the sync anyway");
            return Ok(format!("no end-of-day signal within {} s: ran anyway", left.as_secs()));
        }
        match listener.pop(chunk).await {
            Ok(Some((list, item))) => match stale_day(&item, day) {
                Some(old) => tracing::info!(%list, %old, "skipped a stale end-of-day signal"),
                None => return Ok(format!("end-of-day signal on {list}")),
            },
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "could not wait for the end-of-day signal: queueing the sync");
                return Ok(format!("could not wait for the end-of-day signal ({e}): ran anyway"));
            }
        }
        if store.job(id).await?.is_some() {
            return Ok("queued by another worker".into());
        }
    }
}

/// The day an end-of-day item names, when it is earlier than `day` (the first `YYYY-MM-DD` in it, if any).
fn stale_day(item: &str, day: NaiveDate) -> Option<NaiveDate> {
    let named = (0..item.len().saturating_sub(9))
        .filter(|i| item.is_char_boundary(*i) && item.is_char_boundary(i + 10))
        .find_map(|i| NaiveDate::parse_from_str(&item[i..i + 10], "%Y-%m-%d").ok())?;
    (named < day).then_some(named)
}

/// Queues each trading day's sync at its slot (after the end-of-day signal, with Redis) until `shutdown`
/// resolves. Database errors are logged and retried at the next check.
pub async fn run(
    store: Store,
    schedule: Schedule,
    bus: Option<RedisBus>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    tracing::info!(at = %schedule.at, mode = schedule.mode.as_str(), "daily sync scheduled (New York time, trading days)");
    loop {
        let now = Utc::now();
        let ticked = tokio::select! {
            () = &mut shutdown => return,
            t = tick(&store, &schedule, bus.as_ref(), now) => t,
        };
        match ticked {
            Ok(Some((day, s))) => tracing::info!(%day, job_id = %s.job_id, "queued the day's scheduled sync"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not queue the scheduled sync; retrying"),
        }
        let now = Utc::now();
        let until_next = (next_slot(schedule.at, now) - now).to_std().unwrap_or_default();
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(until_next.min(schedule.check_every)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        New_York.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn slots_follow_the_trading_calendar() {
        let at = default_time();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // Friday before and after the slot.
        assert_eq!(due_slot(at, ny(2026, 11, 20, 16, 5)).0, day(2026, 11, 19));
        assert_eq!(due_slot(at, ny(2026, 11, 20, 16, 10)).0, day(2026, 11, 20));
        // The weekend is Friday's; Monday's slot comes at 16:10 Monday.
        assert_eq!(due_slot(at, ny(2026, 11, 22, 12, 0)).0, day(2026, 11, 20));
        assert_eq!(next_slot(at, ny(2026, 11, 21, 9, 0)), ny(2026, 11, 23, 16, 10));
        // Thanksgiving (Thursday 2026-11-26) has no slot.
        assert_eq!(due_slot(at, ny(2026, 11, 26, 20, 0)).0, day(2026, 11, 25));
        assert_eq!(next_slot(at, ny(2026, 11, 25, 17, 0)), ny(2026, 11, 27, 16, 10));
        // Daylight saving: 16:10 New York is 20:10 UTC in summer, 21:10 in winter.
        assert_eq!(next_slot(at, ny(2026, 7, 1, 9, 0)).format("%H:%M").to_string(), "20:10");
        assert_eq!(next_slot(at, ny(2026, 12, 1, 9, 0)).format("%H:%M").to_string(), "21:10");
        assert!(parse_time("25:00").is_err());
        assert_eq!(stale_day("2026-11-27", day(2026, 11, 30)), Some(day(2026, 11, 27)));
        assert_eq!(stale_day(r#"{"date":"2026-11-30"}"#, day(2026, 11, 30)), None);
        assert_eq!(stale_day("done", day(2026, 11, 30)), None);
        assert_eq!(parse_time("07:30").unwrap(), NaiveTime::from_hms_opt(7, 30, 0).unwrap());
    }
}
