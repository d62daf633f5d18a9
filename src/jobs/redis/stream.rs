//! The durable side of production mode: the workers' stream consumer (new entries, and idle entries of dead
//! workers through `XAUTOCLAIM`), the periodic sweep (trim, re-offer queued jobs, restore their status hashes),
//! and acknowledgement in this database's consumer group.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamReadOptions, StreamReadReply};
use serde_json::json;

use super::{IMPORT_EVENTS, RedisBus, STREAM_KEY};
use crate::domain::JobStatus;
use crate::jobs::Worker;

/// Every `every` until `shutdown`: see [`sweep_once`]. On its own timer, so it also runs while this worker is busy
/// with a long job (a queued job's status hash must come back after a Redis restart even then).
pub(super) async fn sweep(
    worker: Arc<Worker>,
    bus: RedisBus,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        sweep_once(&worker, &bus, false).await;
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Trims the stream, offers jobs queued for over 30 s (`all`: every queued job, after the stream itself was lost)
/// to it again (a hand-over lost to a crash or a Redis restart), and writes back queued jobs' missing status
/// hashes.
async fn sweep_once(worker: &Worker, bus: &RedisBus, all: bool) {
    match bus.trim_stream().await {
        Ok(n) if n > 0 => tracing::debug!(entries = n, "trimmed the job stream"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not trim the job stream"),
    }
    let before = crate::store::now() - chrono::Duration::seconds(if all { 0 } else { 30 });
    if let Ok(ids) = worker.store.queued_job_ids(before).await {
        for id in ids {
            let _ = bus.offer(&id).await;
        }
    }
    if let Ok(queued) = worker.store.jobs(Some(JobStatus::Queued), 1000).await {
        for job in &queued {
            if let Ok(true) = bus.restore_status(job).await {
                tracing::info!(job_id = %job.id, "restored the status hash of a queued job");
            }
        }
    }
}

/// Runs jobs from the stream until `shutdown`: new entries, and idle entries of dead workers.
pub async fn consume(
    worker: Arc<Worker>,
    bus: RedisBus,
    consumer: String,
    visibility: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let next = tokio::select! {
            () = &mut shutdown => return,
            n = next_entry(&bus, &consumer, visibility) => n,
        };
        match next {
            Ok(Some((entry, _, Some(db)))) if db != bus.db => {
                // Another database's job (this group sees every entry): its own workers take it in their group.
                tracing::debug!(entry, db, "stream entry of another database; left to its workers");
                ack(&bus, &entry, "").await;
            }
            Ok(Some((entry, job_id, _))) => {
                let run = run_entry(&worker, &bus, &consumer, &entry, &job_id);
                tokio::select! {
                    () = &mut shutdown => return,
                    () = run => {}
                }
            }
            Ok(None) => {}
            Err(e) if e.code() == Some("NOGROUP") => {
                // Redis restarted without persistence: the stream and its group are gone. Recreate them; jobs
                // still queued in the database are offered again by the sweep.
                tracing::warn!("the job stream's consumer group is gone (Redis restarted?); recreating it");
                let mut c = bus.conn.clone();
                let _: redis::RedisResult<()> = c.xgroup_create_mkstream(STREAM_KEY, &bus.group, "0").await;
                sweep_once(&worker, &bus, true).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "Redis unavailable: cannot read the job stream; retrying");
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// The next stream entry for this consumer, as (entry id, job id, database): an idle one of a dead worker
/// first, else a new one (waiting up to a second).
async fn next_entry(
    bus: &RedisBus,
    consumer: &str,
    visibility: Duration,
) -> redis::RedisResult<Option<(String, String, Option<String>)>> {
    let mut c = bus.reader.clone();
    let claimed: StreamAutoClaimReply = c
        .xautoclaim_options(
            STREAM_KEY,
            &bus.group,
            consumer,
            visibility.as_millis() as u64,
            "0-0",
            StreamAutoClaimOptions::default().count(1),
        )
        .await?;
    let entry = match claimed.claimed.into_iter().next() {
        Some(e) => Some(e),
        None => {
            let opts = StreamReadOptions::default().group(&bus.group, consumer).count(1).block(1000);
            let read: Option<StreamReadReply> = c.xread_options(&[STREAM_KEY], &[">"], &opts).await?;
            read.and_then(|r| r.keys.into_iter().next()).and_then(|k| k.ids.into_iter().next())
        }
    };
    Ok(entry.map(|e| {
        let job_id = e.get::<String>("job_id").unwrap_or_default();
        let db = e.get::<String>("db");
        (e.id, job_id, db)
    }))
}

/// Runs the job of one stream entry (if this worker can claim it) and acknowledges the entry.
async fn run_entry(worker: &Worker, bus: &RedisBus, consumer: &str, entry: &str, job_id: &str) {
    let options = &worker.options;
    let claimed = worker.store.claim_job_by_id(job_id, &options.id, options.lease, options.max_attempts).await;
    match claimed {
        Ok(Some(job)) => {
            // Keep the entry's idle time at zero while the job runs, so no other worker reclaims it.
            let keeper = {
                let (bus, consumer, entry, tick) = (bus.clone(), consumer.to_string(), entry.to_string(), options.tick);
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(tick).await;
                        let mut c = bus.conn.clone();
                        let _: redis::RedisResult<redis::Value> = redis::cmd("XCLAIM")
                            .arg(STREAM_KEY)
                            .arg(&bus.group)
                            .arg(&consumer)
                            .arg(0)
                            .arg(&entry)
                            .arg("JUSTID")
                            .query_async(&mut c)
                            .await;
                    }
                })
            };
            let _ = bus.publish_event(IMPORT_EVENTS, "data_import_started", json!({ "job_id": job_id })).await;
            let end = worker.run_job(job).await;
            keeper.abort();
            match end {
                Ok(end) => tracing::info!(job_id, status = %end.status, "job ended"),
                Err(e) => {
                    // The database failed mid-job: leave the entry pending; the lease and XAUTOCLAIM bring it back.
                    tracing::error!(job_id, error = %e, "job interrupted by a database error");
                    return;
                }
            }
        }
        Ok(None) => {} // taken by a live worker, or already ended: this delivery is a duplicate.
        Err(e) => {
            tracing::error!(job_id, error = %e, "cannot claim the job; leaving it for a retry");
            return;
        }
    }
    ack(bus, entry, job_id).await;
}

/// Acknowledges an entry in this database's group.
async fn ack(bus: &RedisBus, entry: &str, job_id: &str) {
    let mut c = bus.conn.clone();
    let acked: redis::RedisResult<usize> = c.xack(STREAM_KEY, &bus.group, &[entry]).await;
    if let Err(e) = acked {
        tracing::warn!(job_id, error = %e, "could not acknowledge the stream entry; it will be re-delivered and found done");
    }
}
