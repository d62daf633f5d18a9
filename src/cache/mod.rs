//! The relationship cache: the whole relationship graph as one immutable [`Snapshot`] behind an atomic pointer.
//!
//! Readers take the current snapshot with one atomic load and never wait, never touch the database and always
//! see one consistent version. A refresh reads the store in one transaction, builds a new snapshot off the
//! request path and swaps it in. What triggers a refresh ([`watch`]):
//! - the data version moving: every applied load, organize, rollback and import bumps it in its own
//!   transaction. PostgreSQL also `NOTIFY`s it on commit, so replicas hear within milliseconds; the version is
//!   polled too, because a notification can be missed (a dropped listener connection);
//! - an in-process signal ([`RelationshipCache::changed`]), for writes made by the serving process itself;
//! - a maximum age, so edits made behind the tool's back are picked up eventually;
//! - an explicit [`RelationshipCache::refresh`] (`POST /admin/cache/refresh`).
//!
//! When the version moved, the next snapshot is built from the current one: every writer records beside the
//! version it commits which groups, symbols and cache rows it touched (`universe_data_changes`), and only those
//! are re-read and re-indexed; everything else is shared. A gap in that log (a replica far behind, a database
//! written by an older build) and the two time-based triggers above rebuild in full.

mod build;
pub mod heap;
mod history;
mod snapshot;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::{Mutex, Notify};

pub use snapshot::{
    AS_OF_MEMO_SPANS, CacheUniverse, Group, GroupHistory, GroupId, HistoryChange, HistoryIndex, HistoryInterval,
    Member, Memo, Resolved, Snapshot, SnapshotCounts, Symbol, SymbolId, changes_in,
};

use crate::domain::Environment;
use crate::store::{Backend, Store, StoreError};
use build::Builder;

/// Counters an operator watches.
#[derive(Debug, Default)]
struct Counters {
    lookups: AtomicU64,
    not_found: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    last_refresh_ms: AtomicU64,
}

/// The cache: the current snapshot and how to build the next one.
#[derive(Debug)]
pub struct RelationshipCache {
    current: ArcSwap<Snapshot>,
    store: Store,
    environment: Environment,
    /// One rebuild at a time; a trigger that arrives during a rebuild waits and then finds nothing to do.
    rebuild: Mutex<()>,
    changed: Notify,
    counters: Counters,
}

/// What `GET /admin/cache/stats` and `/api/relationships/stats` report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// Data version of the snapshot being served.
    pub version: i64,
    /// Its entity tag.
    pub etag: String,
    /// Environment it holds.
    #[schema(value_type = String)]
    pub environment: Environment,
    /// When it was built (RFC 3339).
    pub built_at: String,
    /// Its age in seconds.
    pub age_seconds: f64,
    /// Lookups served.
    pub lookups: u64,
    /// Lookups that named nothing.
    pub not_found: u64,
    /// Share of lookups that found something, in percent (2 dp).
    pub hit_rate: f64,
    /// Snapshots built since start (the first included).
    pub refreshes: u64,
    /// Rebuilds that failed (the previous snapshot kept serving).
    pub refresh_failures: u64,
    /// Duration of the last rebuild (read + index), in milliseconds.
    pub last_refresh_ms: u64,
    /// Of which reading the store.
    pub read_ms: f64,
    /// Of which indexing.
    pub index_ms: f64,
    /// Heap bytes the snapshot holds, counted from the sizes of its allocations (parts shared with the previous
    /// version included). The benchmark checks it against a counting allocator.
    pub approx_bytes: usize,
    /// Live heap bytes of the whole process, as the allocator counts them.
    pub heap_bytes: usize,
    /// Whether the snapshot was built from the previous one and the change log (else read in full).
    pub incremental: bool,
    /// Groups re-read for it (all of them on a full build).
    pub groups_reread: usize,
    /// `symbols` rows re-read for it.
    pub symbols_reread: usize,
    /// Entry counts.
    pub entries: SnapshotCounts,
    /// TickStock's field: lookups that found something.
    pub hits: u64,
    /// TickStock's field: lookups that named nothing.
    pub misses: u64,
    /// TickStock's field: snapshots loaded (its cache counts loads from the database).
    pub loads: u64,
    /// TickStock's field: entries evicted. A snapshot is replaced whole, never evicted from: always 0.
    pub evictions: u64,
    /// TickStock's field: lookups served.
    pub total_requests: u64,
    /// TickStock's field: how many keys each of its lookups answers for.
    pub cache_sizes: CacheSizes,
}

/// TickStock's `cache_sizes`: keys per lookup kind.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CacheSizes {
    /// ETFs with holdings.
    pub etf_holdings: usize,
    /// Stocks whose ETFs can be looked up.
    pub stock_etfs: usize,
    /// Stocks whose sector can be looked up.
    pub stock_sector: usize,
    /// Sector → stocks entries.
    pub sector_stocks: usize,
    /// Theme → members entries.
    pub theme_members: usize,
    /// Universes (groups and `cache_entries` rows).
    pub universe_members: usize,
}

/// How the background task keeps the snapshot fresh.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// How often to compare the store's data version with the snapshot's.
    pub poll: Duration,
    /// Rebuild a snapshot older than this even when the version has not moved.
    pub max_age: Duration,
    /// Listen for PostgreSQL notifications (off only to test that polling alone converges).
    pub listen: bool,
}

impl WatchOptions {
    /// Defaults for a backend: poll every second on SQLite (a local read; nothing notifies other processes),
    /// every 5 s on PostgreSQL (notifications do the fast path); rebuild after an hour regardless.
    pub fn for_backend(backend: Backend) -> WatchOptions {
        let poll = match backend {
            Backend::Sqlite => Duration::from_secs(1),
            Backend::Postgres => Duration::from_secs(5),
        };
        WatchOptions { poll, max_age: Duration::from_secs(3600), listen: true }
    }
}

impl RelationshipCache {
    /// Builds the first snapshot.
    pub async fn load(store: Store, environment: Environment) -> Result<Arc<RelationshipCache>, StoreError> {
        let first = build(&store, environment).await?;
        let cache = RelationshipCache {
            current: ArcSwap::from_pointee(first),
            store,
            environment,
            rebuild: Mutex::new(()),
            changed: Notify::new(),
            counters: Counters::default(),
        };
        cache.note_refresh(&cache.current.load());
        Ok(Arc::new(cache))
    }

    /// The snapshot being served. Hold the `Arc` for as long as one request needs a consistent view.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The environment it serves.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The store it reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Counts a lookup and whether it found anything.
    pub fn record_lookup(&self, found: bool) {
        self.counters.lookups.fetch_add(1, Ordering::Relaxed);
        if !found {
            self.counters.not_found.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Tells the watcher that this process changed the data (embedded mode's in-process notification).
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// Rebuilds now, in full (it is how an operator picks up edits made behind the tool's back), and swaps the
    /// new snapshot in. On failure the current snapshot keeps serving.
    pub async fn refresh(&self) -> Result<Arc<Snapshot>, StoreError> {
        let _one = self.rebuild.lock().await;
        self.rebuild_locked(false).await
    }

    /// Rebuilds if the store's data version differs from the snapshot's or the snapshot is older than `max_age`.
    /// Returns whether it rebuilt.
    pub async fn refresh_if_stale(&self, max_age: Duration) -> Result<bool, StoreError> {
        let _one = self.rebuild.lock().await;
        let current = self.current.load_full();
        let version = self.store.data_version().await?;
        let age = (chrono::Utc::now() - current.full_built_at).to_std().unwrap_or_default();
        if version == current.version && age < max_age {
            return Ok(false);
        }
        // A moved version is read from the change log; an old snapshot is re-read in full.
        self.rebuild_locked(age < max_age).await?;
        Ok(true)
    }

    async fn rebuild_locked(&self, incremental: bool) -> Result<Arc<Snapshot>, StoreError> {
        let current = incremental.then(|| self.current.load_full());
        match build_from(&self.store, self.environment, current.as_deref()).await {
            Ok(next) => {
                let next = Arc::new(next);
                let old = self.current.swap(next.clone());
                // Freeing the old snapshot (about 100k allocations) takes milliseconds: not on an async worker.
                tokio::task::spawn_blocking(move || drop(old));
                self.note_refresh(&next);
                tracing::info!(
                    cache.version = next.version,
                    incremental = next.incremental,
                    groups_reread = next.reread.0,
                    symbols_reread = next.reread.1,
                    read_ms = next.read_time.as_secs_f64() * 1e3,
                    index_ms = next.index_time.as_secs_f64() * 1e3,
                    "relationship cache refreshed"
                );
                Ok(next)
            }
            Err(e) => {
                self.counters.refresh_failures.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("universe_cache_refresh_failures_total").increment(1);
                Err(e)
            }
        }
    }

    fn note_refresh(&self, s: &Snapshot) {
        self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
        let ms = (s.read_time + s.index_time).as_millis() as u64;
        self.counters.last_refresh_ms.store(ms, Ordering::Relaxed);
        metrics::counter!("universe_cache_refreshes_total").increment(1);
        metrics::gauge!("universe_cache_snapshot_version").set(s.version as f64);
        metrics::gauge!("universe_cache_snapshot_bytes").set(s.approx_bytes as f64);
        metrics::gauge!("universe_heap_bytes").set(heap::live_bytes() as f64);
        metrics::gauge!("universe_cache_snapshot_built_timestamp_seconds").set(s.built_at.timestamp() as f64);
        metrics::histogram!("universe_cache_refresh_seconds").record((s.read_time + s.index_time).as_secs_f64());
    }

    /// Current statistics.
    pub fn stats(&self) -> CacheStats {
        let s = self.current.load();
        let c = &self.counters;
        let lookups = c.lookups.load(Ordering::Relaxed);
        let not_found = c.not_found.load(Ordering::Relaxed);
        let hit_rate = if lookups == 0 {
            0.0
        } else {
            (lookups.saturating_sub(not_found) as f64 * 10000.0 / lookups as f64).round() / 100.0
        };
        CacheStats {
            version: s.version,
            etag: s.etag.clone(),
            environment: s.environment,
            built_at: s.built_at.to_rfc3339(),
            age_seconds: (chrono::Utc::now() - s.built_at).num_milliseconds() as f64 / 1000.0,
            lookups,
            not_found,
            hit_rate,
            refreshes: c.refreshes.load(Ordering::Relaxed),
            refresh_failures: c.refresh_failures.load(Ordering::Relaxed),
            last_refresh_ms: c.last_refresh_ms.load(Ordering::Relaxed),
            read_ms: s.read_time.as_secs_f64() * 1e3,
            index_ms: s.index_time.as_secs_f64() * 1e3,
            approx_bytes: s.approx_bytes,
            heap_bytes: heap::live_bytes(),
            incremental: s.incremental,
            groups_reread: s.reread.0,
            symbols_reread: s.reread.1,
            hits: lookups.saturating_sub(not_found),
            misses: not_found,
            loads: c.refreshes.load(Ordering::Relaxed),
            evictions: 0,
            total_requests: lookups,
            cache_sizes: {
                let n = s.counts();
                CacheSizes {
                    etf_holdings: n.etfs,
                    stock_etfs: n.symbols,
                    stock_sector: n.symbols,
                    sector_stocks: n.sectors,
                    theme_members: n.themes,
                    universe_members: n.universes + n.cache_universes,
                }
            },
            entries: s.counts(),
        }
    }
}

/// Reads and indexes a snapshot in full.
pub async fn build(store: &Store, environment: Environment) -> Result<Snapshot, StoreError> {
    build_from(store, environment, None).await
}

/// Builds the next snapshot after `prev`, in one read transaction: when the change log covers every version
/// since `prev`, only what those versions touched is re-read and everything else is shared with `prev`; else (no
/// `prev`, another environment, a gap in the log) the whole graph is read.
pub async fn build_from(
    store: &Store,
    environment: Environment,
    prev: Option<&Snapshot>,
) -> Result<Snapshot, StoreError> {
    let started = Instant::now();
    let env = environment;
    let mut tx = store.begin_read().await?;
    let version = tx.data_version().await?;
    let touched = match prev {
        Some(p) if p.environment == env => tx.changes_between(p.version, version).await?,
        _ => None,
    };
    let mut b = match (prev, &touched) {
        (Some(p), Some(_)) => Builder::on(p),
        _ => Builder::full(),
    };
    match &touched {
        Some(t) => {
            let tickers: Vec<&str> = t.symbols.iter().map(String::as_str).collect();
            if !tickers.is_empty() {
                b.symbol_rows(tx.snapshot_symbols(Some(&tickers)).await?, &tickers);
            }
            let mut ids: Vec<i32> = t.groups.iter().copied().collect();
            let rows_only: Vec<i32> = t.group_rows.difference(&t.groups).copied().collect();
            if !rows_only.is_empty() {
                ids.extend(b.group_row_updates(tx.snapshot_groups(env, Some(&rows_only)).await?, &rows_only));
            }
            if !ids.is_empty() {
                b.group_rows(tx.snapshot_groups(env, Some(&ids)).await?, &ids);
                tx.snapshot_members(env, Some(&ids), |id, symbols, weights| b.members(id, symbols, weights)).await?;
                b.industries(tx.snapshot_industries(env, Some(&ids)).await?);
            }
            if t.cache_rows {
                b.cache_rows(tx.snapshot_cache_rows(env).await?);
            }
            if t.history {
                b.history(tx.snapshot_history(env).await?);
            }
        }
        None => {
            b.symbol_rows(tx.snapshot_symbols(None).await?, &[]);
            b.group_rows(tx.snapshot_groups(env, None).await?, &[]);
            tx.snapshot_members(env, None, |id, symbols, weights| b.members(id, symbols, weights)).await?;
            b.industries(tx.snapshot_industries(env, None).await?);
            b.cache_rows(tx.snapshot_cache_rows(env).await?);
            b.history(tx.snapshot_history(env).await?);
            b.aliases(tx.snapshot_aliases().await?);
        }
    }
    tx.rollback().await?;
    Ok(b.finish(version, env, started.elapsed()))
}

/// Keeps the cache fresh until `shutdown` resolves: polls the data version, rebuilds past the maximum age, reacts
/// to in-process signals and (on PostgreSQL) to notifications. Errors are logged and retried on the next tick;
/// the current snapshot keeps serving meanwhile.
pub async fn watch(cache: Arc<RelationshipCache>, options: WatchOptions, shutdown: impl Future<Output = ()>) {
    let (notified_tx, mut notified) = tokio::sync::mpsc::channel::<()>(1);
    let listener = if options.listen { cache.store.listen_for_updates(notified_tx) } else { None };
    let mut tick = tokio::time::interval(options.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {}
            Some(()) = notified.recv() => {}
            () = cache.changed.notified() => {}
        }
        if let Err(e) = cache.refresh_if_stale(options.max_age).await {
            tracing::warn!(error = %e, "relationship cache refresh failed; still serving the previous snapshot");
        }
    }
    if let Some(l) = listener {
        l.abort();
    }
}
