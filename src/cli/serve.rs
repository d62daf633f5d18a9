//! `universe serve` (and the demo's serving tail): bind, print where everything is, serve until SIGINT or SIGTERM.

use anyhow::{Context, Result};

use super::bars;
use crate::config::{Config, ServeArgs};
use crate::store::Store;

/// Binds, prints where the API is, and serves until SIGINT or SIGTERM.
pub(super) async fn serve_api(store: Store, config: &Config, args: &ServeArgs, intro: Option<&str>) -> Result<()> {
    if args.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        anyhow::bail!(
            "--api-key (or UNIVERSE_API_KEY) is empty: give a key, or leave it unset to disable admin routes"
        );
    }
    let listener =
        tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    let mut options = args.options(store.backend());
    options.alerts = args.alerts.schedule().map_err(anyhow::Error::msg)?;
    if let Some(url) = args.redis.url() {
        let bus = crate::jobs::redis::RedisBus::connect(&url, store.database_id().await?)
            .await
            .with_context(|| format!("cannot reach Redis at {}", crate::store::redact_url(&url)))?;
        options.jobs.bus = Some(bus);
    } else if !args.no_worker {
        let source = bars::bar_source(&args.market)?;
        options.jobs.sync = args.sync.settings();
        options.jobs.schedule = args.sync.schedule(matches!(source, crate::bars::BarSource::Massive(_)), false);
        options.jobs.worker = Some(source);
    }
    // With --json, stdout carries only data: where the server is goes to stderr.
    macro_rules! say {
        ($($arg:tt)*) => {
            if config.json { eprintln!($($arg)*) } else { println!($($arg)*) }
        };
    }
    if let Some(intro) = intro {
        say!("{intro}");
    }
    say!("Serving {} on http://{addr}", crate::store::redact_url(&config.database_url));
    if options.api_key.is_some() {
        say!("  console       http://{addr}/  (log in with the admin key)");
    }
    say!("  API docs      http://{addr}/api/docs/");
    say!("  ETF holdings  http://{addr}/api/relationships/etf/SPY/holdings?limit=10");
    say!("  stock info    http://{addr}/api/relationships/stock/AAPL/info");
    say!("  universes     http://{addr}/api/universes");
    say!("  union         http://{addr}/api/universes/nasdaq100:dow30/symbols");
    say!("  metrics       http://{addr}/metrics");
    match (&options.jobs.bus, &options.jobs.worker) {
        (Some(_), _) => say!("  jobs          http://{addr}/api/jobs  (queued to Redis; run `universe worker`)"),
        (None, Some(source)) => {
            say!("  jobs          http://{addr}/api/jobs  (worker in this process, bars from {})", source.describe())
        }
        (None, None) => say!("  jobs          http://{addr}/api/jobs  (no worker in this process)"),
    }
    if let Some(s) = &options.jobs.schedule {
        say!(
            "  daily sync    {} New York time, trading days (POST /api/processing/cache-sync/trigger to run one now)",
            s.at.format("%H:%M")
        );
    }
    if let Some((hook, every)) = &options.alerts {
        say!("  validation    every {} min, alerts to {}", every.as_secs() / 60, hook.redacted());
    }
    match &options.api_key {
        Some(_) => say!("  admin         curl -H 'X-API-Key: …' http://{addr}/admin/cache/stats"),
        None => say!("  admin endpoints are disabled: set UNIVERSE_API_KEY or --api-key to enable them"),
    }
    if admin_off_beyond_loopback(addr, options.api_key.as_deref()) {
        tracing::warn!(%addr, "serving beyond loopback without an API key: admin and job routes are off");
        eprintln!(
            "warning: listening on {addr} (not loopback) with no API key: admin and job routes answer 403; \
             set UNIVERSE_API_KEY or --api-key to enable them"
        );
    }
    say!("Press Ctrl-C to stop.");
    crate::api::serve(listener, store, config.environment, options, shutdown_signal()).await?;
    say!("stopped");
    Ok(())
}

/// Whether the server listens beyond loopback with admin routes off (no key): worth a warning at start-up.
fn admin_off_beyond_loopback(addr: std::net::SocketAddr, api_key: Option<&str>) -> bool {
    api_key.is_none() && !addr.ip().is_loopback()
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn warns_beyond_loopback_without_a_key() {
        let warn = |a: &str, k: Option<&str>| super::admin_off_beyond_loopback(a.parse().unwrap(), k);
        assert!(warn("0.0.0.0:8080", None));
        assert!(warn("[::]:8080", None));
        assert!(!warn("0.0.0.0:8080", Some("k")));
        assert!(!warn("127.0.0.1:8080", None));
        assert!(!warn("[::1]:8080", None));
    }
}
