//! Production mode: TickStock's Redis protocol (compat §2) in front of the same worker.
//!
//! - **Intake.** Every worker subscribes to `tickstock.jobs.data_load` and `tickstock.jobs.control`. Pub/sub
//!   delivers each message to every subscriber and keeps nothing, so a received job is recorded in the shared
//!   `jobs` table (insert-if-absent by `job_id`) and handed to a durable Redis Stream with a consumer group by the
//!   one worker whose `SET NX` on the job id wins. An invalid message is recorded `failed` with the reason, on the
//!   status hash too.
//! - **Databases.** Entries carry the identity of the database whose job they are (`db`), and each database's
//!   workers read through their own consumer group: a worker pointed at another database by mistake
//!   acknowledges foreign entries in its own group only, so they stay with their database's workers.
//! - **Running.** Workers read the stream with `XREADGROUP`; the reader claims the job in the database by id (a
//!   duplicate delivery finds it taken and is acknowledged), keeps its stream entry's idle time at zero while it
//!   works, and acknowledges it at the end. A dead worker's entry goes idle; after the visibility timeout another
//!   worker takes it with `XAUTOCLAIM` and resumes the job once its database lease has run out. Jobs recorded but
//!   never handed over (a crash between the two) are offered to the stream again by a periodic sweep.
//! - **Status.** `tickstock.jobs.status:{job_id}` is a hash of string fields with a 24 h TTL, as TickStock's UI
//!   reads it; `tickstockpl:heartbeat` is set with a TTL while the worker lives; start, progress and completion
//!   are published on TickStock's colon-named channels with the `{event, timestamp, source, version, payload}`
//!   envelope.
//! - **Faults.** Commands go through a reconnecting `ConnectionManager`; the subscription is re-established after
//!   a disconnect. While Redis is down the worker logs a clear error and keeps the job's truth in the database.

use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::{Value, json};

mod status;
mod stream;

pub use status::StatusView;
pub use stream::consume;

use super::message::{self, MAX_MESSAGE_BYTES};
use super::{Worker, WorkerOptions};
use crate::domain::JobStatus;
use crate::store::{JobProgress, JobRow, Store};

/// Channel TickStock publishes job messages on.
pub const DATA_LOAD_CHANNEL: &str = "tickstock.jobs.data_load";
/// Channel TickStock publishes `{job_id, action: "cancel"}` on.
pub const CONTROL_CHANNEL: &str = "tickstock.jobs.control";
/// Prefix of the status hash TickStock's UI polls.
pub const STATUS_PREFIX: &str = "tickstock.jobs.status:";
/// Prefix of the job metadata hash TickStock's trigger route writes when analysis follows the import.
pub const METADATA_PREFIX: &str = "tickstock.jobs.metadata:";
/// Presence means a pipeline worker is alive (TickStock's admin page reads it).
pub const HEARTBEAT_KEY: &str = "tickstockpl:heartbeat";
/// Our durable queue.
pub const STREAM_KEY: &str = "universe:jobs:stream";
/// Its consumer groups' name before the database's identity: one group per database, so every database's
/// workers see every entry, and each takes only its own database's (entries carry it in `db`).
pub const GROUP: &str = "universe-workers";
/// Jobs handed to the stream (`SET NX`), so N subscribers enqueue each job once.
const HANDED_PREFIX: &str = "universe:jobs:handed:";
/// Status hash and hand-over markers live a day.
const STATUS_TTL_SECS: i64 = 86_400;
/// Channel for job events (TickStock's data-import status channel).
const IMPORT_EVENTS: &str = "tickstock:data:import:status";
/// Channel for progress updates.
const MONITORING: &str = "tickstock:monitoring";

/// A Redis connection with the protocol's operations.
#[derive(Clone)]
pub struct RedisBus {
    client: redis::Client,
    conn: ConnectionManager,
    /// A second connection for the blocking stream read: a `BLOCK`ed `XREADGROUP` holds its multiplexed
    /// connection, and every other command on it (the intake's `XADD`, status writes) would wait behind it.
    reader: ConnectionManager,
    /// The identity of the database this process works on ([`crate::store::Store::database_id`]).
    db: String,
    /// This database's consumer group.
    group: String,
}

/// TickStock's end-of-day signal lists (compat §5.3): its data pipeline pushes to one when the day's bars are in.
pub const EOD_LISTS: [&str; 3] = ["eod_complete", "tickstock.eod.complete", "market_data.eod_complete"];

/// Waits on TickStock's end-of-day signal lists ([`EOD_LISTS`]).
pub struct EodListener {
    conn: redis::aio::MultiplexedConnection,
}

impl EodListener {
    /// The longest single `BLPOP`, so a caller can stop waiting between them.
    pub const CHUNK: Duration = Duration::from_secs(5);

    /// Pops the first item any of the lists receives within `max` (at most [`Self::CHUNK`]): the list and the item.
    pub async fn pop(&mut self, max: Duration) -> redis::RedisResult<Option<(String, String)>> {
        let wait = max.min(Self::CHUNK).as_secs_f64().max(0.01);
        let popped: Option<[String; 2]> = self.conn.blpop(&EOD_LISTS[..], wait).await?;
        Ok(popped.map(|[list, item]| (list, item)))
    }
}

/// A consumer group none of whose consumers has touched the stream for this long no longer holds trimming back.
const STALE_GROUP_MS: usize = 3_600_000;

/// The consumer group of a database's workers.
pub fn group_for(db: &str) -> String {
    format!("{GROUP}:{db}")
}

/// A stream id as numbers, for ordering (`1700000000000-3` → (1700000000000, 3)).
fn id_order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

impl RedisBus {
    /// Connects (reconnecting on its own afterwards) for the database `db` (its
    /// [`crate::store::Store::database_id`]) and makes sure that database's consumer group exists.
    pub async fn connect(url: &str, db: String) -> redis::RedisResult<RedisBus> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let mut conn = client.get_connection_manager_with_config(config.clone()).await?;
        let reader = client.get_connection_manager_with_config(config).await?;
        let group = group_for(&db);
        let created: redis::RedisResult<()> = conn.xgroup_create_mkstream(STREAM_KEY, &group, "0").await;
        if let Err(e) = created
            && e.code() != Some("BUSYGROUP")
        {
            return Err(e);
        }
        Ok(RedisBus { client, conn, reader, db, group })
    }

    /// This database's consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Hands a job to the stream unless another worker already did. Returns whether this call did.
    pub async fn hand_over(&self, job_id: &str) -> redis::RedisResult<bool> {
        let mut c = self.conn.clone();
        let first: Option<String> = redis::cmd("SET")
            .arg(format!("{HANDED_PREFIX}{}:{job_id}", self.db))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(STATUS_TTL_SECS)
            .query_async(&mut c)
            .await?;
        if first.is_none() {
            return Ok(false);
        }
        self.offer(job_id).await?;
        Ok(true)
    }

    /// Adds a stream entry for a job (duplicates are harmless: the database claim decides who runs it).
    pub async fn offer(&self, job_id: &str) -> redis::RedisResult<()> {
        let mut c = self.conn.clone();
        let _: String = c.xadd(STREAM_KEY, "*", &[("job_id", job_id), ("db", self.db.as_str())]).await?;
        Ok(())
    }

    /// Writes the status hash (string fields) and its TTL.
    pub async fn write_status(&self, job_id: &str, fields: &[(&str, String)]) -> redis::RedisResult<()> {
        let key = format!("{STATUS_PREFIX}{job_id}");
        let mut c = self.conn.clone();
        // A legacy pipeline may have left a JSON string here; the UI checks TYPE, but a hash is the contract.
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut c).await?;
        if kind != "hash" && kind != "none" {
            let _: () = c.del(&key).await?;
        }
        let _: () = c.hset_multiple(&key, fields).await?;
        let _: () = c.expire(&key, STATUS_TTL_SECS).await?;
        Ok(())
    }

    /// Trims the stream of entries every live consumer group is done with: everything older than each group's
    /// oldest pending (delivered, not yet acknowledged) entry, or, with none pending, its last delivered one. Entries not
    /// yet delivered are newer than that, so nothing waiting or running is lost. Returns the entries removed.
    pub async fn trim_stream(&self) -> redis::RedisResult<usize> {
        let mut c = self.conn.clone();
        let groups: redis::streams::StreamInfoGroupsReply = c.xinfo_groups(STREAM_KEY).await?;
        let mut keep_from: Option<String> = None;
        // Every live database's group must be done with an entry before it goes. A group nobody has read for an
        // hour (the pre-upgrade group, a database dropped or pointed at by mistake once) holds nothing back: the
        // jobs' truth is in their database, whose sweep offers queued ones again.
        for g in &groups.groups {
            let consumers: redis::streams::StreamInfoConsumersReply = c.xinfo_consumers(STREAM_KEY, &g.name).await?;
            let live = g.name == self.group || consumers.consumers.iter().any(|c| c.idle < STALE_GROUP_MS);
            if !live {
                continue;
            }
            let pending: redis::streams::StreamPendingReply = c.xpending(STREAM_KEY, &g.name).await?;
            let from = match pending {
                redis::streams::StreamPendingReply::Data(d) => d.start_id,
                _ => g.last_delivered_id.clone(),
            };
            if keep_from.as_deref().is_none_or(|k| id_order(&from) < id_order(k)) {
                keep_from = Some(from);
            }
        }
        let Some(keep_from) = keep_from else { return Ok(0) };
        redis::cmd("XTRIM").arg(STREAM_KEY).arg("MINID").arg(keep_from).query_async(&mut c).await
    }

    /// What TickStock's trigger route writes when it submits a job: the `submitted` status hash (so the app's
    /// page finds the job before a worker takes it) and, when analysis is asked for, the job metadata hash.
    pub async fn write_submitted(
        &self,
        job_id: &str,
        symbol_count: usize,
        universe_key: &str,
        run_analysis: bool,
    ) -> redis::RedisResult<()> {
        let now = chrono::Local::now().naive_local().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
        let fields = [
            ("status", "submitted".to_string()),
            ("progress", "0".to_string()),
            ("message", format!("Loading {symbol_count} symbols from {universe_key}")),
            ("submitted_at", now.clone()),
        ];
        self.write_status(job_id, &fields).await?;
        if run_analysis {
            let key = format!("{METADATA_PREFIX}{job_id}");
            let meta = [
                ("run_analysis_after_import", "true".to_string()),
                ("universe_key", universe_key.to_string()),
                ("timeframe", "daily".to_string()),
                ("submitted_at", now),
            ];
            let mut c = self.conn.clone();
            let _: () = c.hset_multiple(&key, &meta).await?;
            let _: () = c.expire(&key, STATUS_TTL_SECS).await?;
        }
        Ok(())
    }

    /// Writes a queued job's status hash if it is missing (Redis restarted while the job waited behind another:
    /// the app marks a missing key "expired" and stops polling).
    pub async fn restore_status(&self, job: &JobRow) -> redis::RedisResult<bool> {
        // Check and write in one script: a worker's final status written in between is never overwritten.
        const WRITE_IF_ABSENT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(WRITE_IF_ABSENT).arg(1).arg(format!("{STATUS_PREFIX}{}", job.id)).arg(STATUS_TTL_SECS);
        for (k, v) in StatusView::of(job).fields() {
            cmd.arg(k).arg(v);
        }
        let written: i64 = cmd.query_async(&mut self.conn.clone()).await?;
        Ok(written == 1)
    }

    /// A connection of its own for waiting on TickStock's end-of-day lists (a `BLPOP` holds the connection it
    /// runs on).
    pub async fn eod_listener(&self) -> redis::RedisResult<EodListener> {
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(EodListener::CHUNK * 3));
        Ok(EodListener { conn: self.client.get_multiplexed_async_connection_with_config(&config).await? })
    }

    /// Publishes a TickStock event envelope.
    pub async fn publish_event(&self, channel: &str, event: &str, payload: Value) -> redis::RedisResult<()> {
        let envelope = json!({
            "event": event,
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "source": "universe",
            "version": "1.0",
            "payload": payload,
        });
        let mut c = self.conn.clone();
        let _: usize = c.publish(channel, envelope.to_string()).await?;
        Ok(())
    }

    /// Sets the heartbeat key with a TTL.
    pub async fn heartbeat(&self, ttl: Duration) -> redis::RedisResult<()> {
        let mut c = self.conn.clone();
        let _: () = c.set_ex(HEARTBEAT_KEY, chrono::Utc::now().to_rfc3339(), ttl.as_secs().max(1)).await?;
        Ok(())
    }

    /// Mirrors a job's state onto its status hash (and publishes progress), logging rather than failing: the
    /// database holds the truth while Redis is away.
    pub async fn mirror(&self, job: &StatusView<'_>) {
        let fields = job.fields();
        if let Err(e) = self.write_status(job.id, &fields).await {
            tracing::warn!(job_id = job.id, error = %e, "Redis unavailable: could not write the job status hash");
            return;
        }
        let status = job.status.for_tickstock();
        let payload = json!({ "job_id": job.id, "phase": "data_import", "percentage": job.counts.progress,
            "status": status, "current_symbol": job.counts.current_symbol });
        let (channel, event) = match job.status {
            JobStatus::Running | JobStatus::Cancelling => (MONITORING, "job_progress_update"),
            _ => (IMPORT_EVENTS, "data_import_completed"),
        };
        if let Err(e) = self.publish_event(channel, event, payload).await {
            tracing::warn!(job_id = job.id, error = %e, "could not publish the job event");
        }
    }
}

/// Runs the Redis intake (pub/sub) and the stream consumer side by side until `shutdown`.
pub async fn run(
    store: Store,
    source: crate::bars::BarSource,
    options: WorkerOptions,
    bus: RedisBus,
    visibility: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let consumer = options.id.clone();
    let heartbeat_every = options.heartbeat_every;
    let worker = std::sync::Arc::new(Worker::new(store.clone(), source, options.clone()).with_redis(bus.clone()));
    let listen = listen(bus.clone(), store, options, stopped(stop_rx.clone()));
    let sweep = stream::sweep(worker.clone(), bus.clone(), worker.options.sweep_every, stopped(stop_rx.clone()));
    let consume = consume(worker, bus.clone(), consumer, visibility, stopped(stop_rx.clone()));
    let heartbeat = heartbeat(bus.clone(), heartbeat_every, stopped(stop_rx.clone()));
    let signal = async {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(listen, consume, sweep, heartbeat, signal);
}

/// How long `tickstockpl:heartbeat` lives without a refresh (TickStock's admin page reads it).
const HEARTBEAT_TTL: Duration = Duration::from_secs(60);

/// Sets the heartbeat key every `every` until `shutdown`: on its own timer, so a job of any length never lets it
/// lapse.
async fn heartbeat(bus: RedisBus, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = bus.heartbeat(HEARTBEAT_TTL).await {
            tracing::warn!(error = %e, "Redis unavailable: could not refresh the worker heartbeat");
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Handles one `tickstock.jobs.data_load` message: record it, hand it over, or record why it cannot run.
pub async fn accept_job(bus: &RedisBus, store: &Store, options: &WorkerOptions, raw: &[u8]) {
    let job_id = if raw.len() <= MAX_MESSAGE_BYTES { message::job_id_of(raw) } else { None };
    let parsed = message::parse(raw);
    let outcome = match parsed {
        Ok(spec) => {
            super::submit(store, options.environment, spec, options.csv_dir.as_deref()).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    match outcome {
        Ok(submitted) => {
            if submitted.created
                || store.job(&submitted.job_id).await.is_ok_and(|j| j.is_some_and(|j| j.status == JobStatus::Queued))
            {
                match bus.hand_over(&submitted.job_id).await {
                    Ok(true) => {
                        if let Ok(Some(job)) = store.job(&submitted.job_id).await {
                            let _ = bus.write_status(&job.id, &StatusView::of(&job).fields()).await;
                        }
                        tracing::info!(job_id = %submitted.job_id, symbols = submitted.symbol_count, "job queued");
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(job_id = %submitted.job_id, error = %e, "Redis unavailable: job recorded, stream hand-over pending")
                    }
                }
            }
        }
        Err(reason) => {
            // Without the sender's job id there is no status key the app polls: a hash under a made-up id would
            // show on its page as an unexplained failure. The jobs table keeps the message and the reason.
            let Some(id) = job_id else {
                let id = super::new_job_id();
                tracing::warn!(job_id = %id, error = %reason, bytes = raw.len(), "invalid job message without a string job_id");
                let _ = super::record_invalid(store, &id, raw, &reason).await;
                return;
            };
            tracing::warn!(job_id = %id, error = %reason, bytes = raw.len(), "invalid job message");
            let _ = super::record_invalid(store, &id, raw, &reason).await;
            let counts = JobProgress::default();
            let view = StatusView {
                id: &id,
                status: JobStatus::Failed,
                message: &reason,
                counts: &counts,
                started_at: None,
                completed_at: Some(chrono::Utc::now()),
                failures: None,
            };
            let _ = bus.write_status(&id, &view.fields()).await;
        }
    }
}

/// Handles one `tickstock.jobs.control` message.
pub async fn accept_control(bus: &RedisBus, store: &Store, raw: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(&raw[..raw.len().min(MAX_MESSAGE_BYTES)]) else {
        tracing::warn!(bytes = raw.len(), "control message is not JSON; ignored");
        return;
    };
    let (Some(id), Some("cancel")) = (v.get("job_id").and_then(Value::as_str), v.get("action").and_then(Value::as_str))
    else {
        tracing::warn!(message = %v, "control message without job_id and action \"cancel\"; ignored");
        return;
    };
    match store.cancel_job(id).await {
        Ok(Some(job)) => {
            if matches!(job.status, JobStatus::Cancelled | JobStatus::Cancelling) {
                let _ = bus.write_status(id, &StatusView::of(&job).fields()).await;
            }
        }
        Ok(None) => tracing::warn!(job_id = id, "cancel for an unknown job"),
        Err(e) => tracing::error!(job_id = id, error = %e, "cannot record the cancellation"),
    }
}

/// Subscribes to the job channels until `shutdown`, re-subscribing after every disconnect.
pub async fn listen(
    bus: RedisBus,
    store: Store,
    options: WorkerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut delay = Duration::from_millis(200);
    loop {
        let session = async {
            let mut pubsub = match bus.client.get_async_pubsub().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "Redis unavailable: cannot subscribe to the job channels; retrying");
                    return false;
                }
            };
            if let Err(e) = pubsub.subscribe(&[DATA_LOAD_CHANNEL, CONTROL_CHANNEL]).await {
                tracing::error!(error = %e, "Redis unavailable: subscribe failed; retrying");
                return false;
            }
            tracing::info!("subscribed to {DATA_LOAD_CHANNEL} and {CONTROL_CHANNEL}");
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let raw: &[u8] = msg.get_payload_bytes();
                match msg.get_channel_name() {
                    DATA_LOAD_CHANNEL => accept_job(&bus, &store, &options, raw).await,
                    CONTROL_CHANNEL => accept_control(&bus, &store, raw).await,
                    _ => {}
                }
            }
            tracing::warn!("Redis subscription lost; re-subscribing");
            true
        };
        let connected = tokio::select! {
            () = &mut shutdown => return,
            c = session => c,
        };
        delay = if connected { Duration::from_millis(200) } else { (delay * 2).min(Duration::from_secs(5)) };
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}
