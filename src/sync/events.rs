//! The daily sync's events on Redis, in TickStock's channels and envelope (compat §2.4): `cache_sync_triggered`
//! before a sync, then `cache_sync_completed`, a `universe_updated` per changed universe, an `ipo_assignment` per
//! assignment and `delisting_cleanup`.

use serde_json::json;

use super::daily::{SyncError, SyncReport, SyncRequest, public_reason};
use crate::domain::RunStatus;

/// TickStock's channels for the sync's events (compat §2.4).
pub mod channels {
    /// A sync started.
    pub const TRIGGERED: &str = "tickstock:cache:sync_triggered";
    /// A sync ended (any status).
    pub const COMPLETE: &str = "tickstock:cache:sync_complete";
    /// A universe (group) the sync changed.
    pub const UNIVERSE_UPDATED: &str = "tickstock:universe:updated";
    /// Delisted symbols were removed from their groups.
    pub const DELISTING_CLEANUP: &str = "tickstock:cache:delisting_cleanup";
    /// A recent IPO joined a universe.
    pub const IPO_ASSIGNMENT: &str = "tickstock:cache:ipo_assignment";
}

/// Publishes `cache_sync_triggered` before a sync runs.
pub async fn publish_triggered(
    bus: &crate::jobs::redis::RedisBus,
    job_id: &str,
    req: &SyncRequest,
    triggered_by: &str,
) -> redis::RedisResult<()> {
    let payload =
        json!({"job_id": job_id, "mode": req.mode.as_str(), "force": req.force, "triggered_by": triggered_by});
    bus.publish_event(channels::TRIGGERED, "cache_sync_triggered", payload).await
}

/// Publishes what a sync did: `cache_sync_completed` (job, status, mode, total changes, universes updated,
/// duration), a `universe_updated` per changed group and, when symbols were delisted, `delisting_cleanup`. A dry
/// run changed nothing and announces only its completion.
pub async fn publish_completed(
    bus: &crate::jobs::redis::RedisBus,
    job_id: &str,
    req: &SyncRequest,
    result: &Result<SyncReport, SyncError>,
    duration: std::time::Duration,
) -> redis::RedisResult<()> {
    let (status, total, universes) = match result {
        Ok(r) if r.status == RunStatus::DryRun => ("dry_run", r.changes.len(), Vec::new()),
        Ok(r) => ("completed", r.changes.len(), r.universes_updated.clone()),
        Err(_) => ("failed", 0, Vec::new()),
    };
    let mut payload = json!({
        "job_id": job_id,
        "status": status,
        "mode": req.mode.as_str(),
        "total_changes": total,
        "universes_updated": universes,
        "duration_seconds": (duration.as_secs_f64() * 1000.0).round() / 1000.0,
    });
    if let Err(e) = result {
        payload["error"] = json!(public_reason(e));
    }
    bus.publish_event(channels::COMPLETE, "cache_sync_completed", payload).await?;
    let Ok(report) = result else { return Ok(()) };
    if report.status != RunStatus::Applied {
        return Ok(());
    }
    for universe in &universes {
        let payload = json!({"universe": universe, "action": "updated", "job_id": job_id});
        bus.publish_event(channels::UNIVERSE_UPDATED, "universe_updated", payload).await?;
    }
    for c in report.changes.iter().filter(|c| c.change_type == "ipo") {
        let universe = c.universe.as_deref().map(|u| u.strip_prefix("UNIVERSE:").unwrap_or(u));
        let payload = json!({"symbol": c.symbol, "universe": universe, "reason": c.reason, "job_id": job_id});
        bus.publish_event(channels::IPO_ASSIGNMENT, "ipo_assignment", payload).await?;
    }
    if report.delisted > 0 {
        let payload = json!({"removed_count": report.delisted, "memberships_closed": report.memberships_closed, "job_id": job_id});
        bus.publish_event(channels::DELISTING_CLEANUP, "delisting_cleanup", payload).await?;
    }
    Ok(())
}
