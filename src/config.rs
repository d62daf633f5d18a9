//! Configuration, loaded once: command-line flags, then environment variables (ours and TickStock's names),
//! then defaults. The only module that reads the process environment.

use std::fmt;

use clap::Args;

use crate::domain::Environment;
use crate::store::redact_url;

/// The embedded default store.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://universe.db";

/// Options every command accepts.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Database URL: sqlite://PATH (embedded, the default: sqlite://universe.db) or postgres://USER@HOST/DB.
    /// Also read from DATABASE_URL, or TickStock's DATABASE_URI.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// TickStock environment of the groups and cache rows to read and write.
    #[arg(long, global = true, env = "ENVIRONMENT", value_enum, default_value_t = Environment::Default, ignore_case = true)]
    pub environment: Environment,
    /// Print data as JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The largest input file a loader or import reads, in bytes (a wrong path such as /dev/zero is refused,
    /// not read until memory runs out).
    #[arg(long, global = true, env = "UNIVERSE_MAX_INPUT_BYTES", default_value_t = crate::load::DEFAULT_MAX_INPUT_BYTES,
          value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_input_bytes: u64,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    /// Where the store is.
    pub database_url: String,
    /// TickStock environment.
    pub environment: Environment,
    /// JSON output.
    pub json: bool,
    /// The largest input file read.
    pub max_input_bytes: u64,
}

impl Config {
    /// Resolves flags > `DATABASE_URL` (via clap) > TickStock's `DATABASE_URI` > default.
    pub fn load(args: &GlobalArgs) -> Config {
        let database_url = args
            .database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URI").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        Config { database_url, environment: args.environment, json: args.json, max_input_bytes: args.max_input_bytes }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("environment", &self.environment)
            .field("json", &self.json)
            .field("max_input_bytes", &self.max_input_bytes)
            .finish()
    }
}

/// Options of the HTTP server (`universe serve`, and `universe demo` when it serves).
#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "UNIVERSE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Key that admin and mutating endpoints require in the X-API-Key header. Without one they are disabled.
    #[arg(long, env = "UNIVERSE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Rebuild the relationship cache when it is older than this many seconds, even if nothing changed.
    #[arg(long, env = "UNIVERSE_CACHE_MAX_AGE", default_value_t = 3600, value_name = "SECONDS")]
    pub cache_max_age: u64,
    /// How often to poll the store's data version, in milliseconds [default: 1000 on SQLite, 5000 on PostgreSQL,
    /// where notifications do the fast path].
    #[arg(long, env = "UNIVERSE_CACHE_POLL_MS", value_name = "MS")]
    pub cache_poll_ms: Option<u64>,
    /// Do not LISTEN for PostgreSQL change notifications (polling alone; for tests of that path).
    #[arg(long, hide = true)]
    pub no_cache_listen: bool,
    /// Serve the benchmark's static ceiling routes (/bench/static/etf, /bench/static/universe).
    #[arg(long, hide = true)]
    pub bench_routes: bool,
    /// Do not run a jobs worker in this process (embedded mode runs one by default).
    #[arg(long)]
    pub no_worker: bool,
    /// A request's headers must arrive within this many seconds; a keep-alive connection idle that long is closed.
    #[arg(long, env = "UNIVERSE_HEADER_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS")]
    pub header_timeout: f64,
    /// A request's body must arrive within this many seconds (408 otherwise).
    #[arg(long, env = "UNIVERSE_BODY_TIMEOUT", default_value_t = 30.0, value_name = "SECONDS")]
    pub body_timeout: f64,
    /// Connections served at once; more wait in the accept queue.
    #[arg(long, env = "UNIVERSE_MAX_CONNECTIONS", default_value_t = 1024, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Where the in-process worker's bars come from, and how it reaches Massive.
    #[command(flatten)]
    pub market: Box<MarketArgs>,
    /// Production mode: job submissions go to this Redis (workers run separately, `universe worker`).
    #[command(flatten)]
    pub redis: RedisArgs,
    /// The daily sync run by the in-process worker.
    #[command(flatten)]
    pub sync: SyncScheduleArgs,
    /// Scheduled validation with data-quality alerts.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// Scheduled validation posting data-quality alerts (`universe serve`, `universe worker`). No `Debug`: a Slack
/// webhook's URL is its secret.
#[derive(clap::Args, Clone)]
pub struct AlertArgs {
    /// Validate on a schedule and post data-quality alerts (Slack-compatible JSON) to this URL when the
    /// unknown-sector share rises, integrity drops or a check newly fails, compared with the previous validation.
    #[arg(long, env = "UNIVERSE_ALERT_WEBHOOK", hide_env_values = true, value_name = "URL")]
    pub alert_webhook: Option<String>,
    /// With --alert-webhook: validate every this many minutes (one process of many does each interval's).
    #[arg(long, env = "UNIVERSE_VALIDATE_EVERY", default_value_t = 60, value_name = "MINUTES",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub validate_every: u64,
}

impl std::fmt::Debug for AlertArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertArgs")
            .field("alert_webhook", &self.alert_webhook.as_ref().map(|_| "<redacted>"))
            .field("validate_every", &self.validate_every)
            .finish()
    }
}

impl AlertArgs {
    /// The schedule, when a webhook is given: the webhook and the interval.
    pub fn schedule(&self) -> Result<Option<(crate::quality::alerts::Webhook, std::time::Duration)>, String> {
        let Some(url) = self.alert_webhook.as_deref().filter(|u| !u.trim().is_empty()) else { return Ok(None) };
        let hook = crate::quality::alerts::Webhook::new(url.trim())?;
        Ok(Some((hook, std::time::Duration::from_secs(self.validate_every * 60))))
    }
}

/// The daily cache sync a worker schedules and runs (`universe worker`, and `serve`'s in-process worker).
#[derive(clap::Args, Debug, Clone)]
pub struct SyncScheduleArgs {
    /// New York time of the daily sync, every trading day.
    #[arg(long, env = "UNIVERSE_SYNC_AT", default_value = "16:10", value_name = "HH:MM",
          value_parser = crate::sync::schedule::parse_time)]
    pub sync_at: chrono::NaiveTime,
    /// Do not schedule the daily sync (it can still be triggered over HTTP or run with `universe sync`).
    #[arg(long, env = "UNIVERSE_NO_SCHEDULE")]
    pub no_schedule: bool,
    /// A folder whose tickers.csv is the day's list for syncs [default: Massive's reference tickers, when an API
    /// key is set].
    #[arg(long, env = "UNIVERSE_SYNC_SOURCE", value_name = "DIR")]
    pub sync_source: Option<std::path::PathBuf>,
    /// Organize definitions for the syncs' cache rebuild [default: the shipped ones].
    #[arg(long, value_name = "FILE")]
    pub sync_definitions: Option<std::path::PathBuf>,
    /// IPO rules for the syncs [default: the shipped data/sync.toml].
    #[arg(long, value_name = "FILE")]
    pub sync_rules: Option<std::path::PathBuf>,
    /// With Redis: how long a scheduled sync waits for TickStock's end-of-day signal before it runs anyway.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub eod_wait_secs: u64,
}

impl SyncScheduleArgs {
    /// Where the syncs read their list and rules.
    pub fn settings(&self) -> crate::jobs::sync_job::SyncSettings {
        crate::jobs::sync_job::SyncSettings {
            source: self.sync_source.clone(),
            definitions: self.sync_definitions.clone(),
            rules: self.sync_rules.clone(),
        }
    }

    /// The schedule to run, if any: not turned off, and a list to sync from (a folder, or Massive). `redis`: the
    /// jobs wait for TickStock's end-of-day signal.
    pub fn schedule(&self, massive: bool, redis: bool) -> Option<crate::sync::schedule::Schedule> {
        if self.no_schedule {
            return None;
        }
        if self.sync_source.is_none() && !massive {
            tracing::info!("daily sync not scheduled: no list to sync from (--sync-source DIR, or a Massive API key)");
            return None;
        }
        let mut schedule = crate::sync::schedule::Schedule::new(self.sync_at);
        schedule.eod_wait = redis.then(|| std::time::Duration::from_secs(self.eod_wait_secs));
        Some(schedule)
    }
}

impl ServeArgs {
    /// The server options for a store backend.
    pub fn options(&self, backend: crate::store::Backend) -> crate::api::ServeOptions {
        let mut watch = crate::cache::WatchOptions::for_backend(backend);
        watch.max_age = std::time::Duration::from_secs(self.cache_max_age);
        if let Some(ms) = self.cache_poll_ms {
            watch.poll = std::time::Duration::from_millis(ms.max(10));
        }
        watch.listen = !self.no_cache_listen;
        crate::api::ServeOptions {
            api_key: self.api_key.clone(),
            watch,
            bench_routes: self.bench_routes,
            jobs: crate::api::JobsOptions::default(),
            alerts: None,
            limits: crate::api::HttpLimits {
                header_timeout: seconds(self.header_timeout),
                body_timeout: seconds(self.body_timeout),
                max_connections: self.max_connections as usize,
            },
        }
    }
}

/// Seconds as a duration, kept between a tenth of a second and a day (not-a-number: a tenth).
fn seconds(s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(if s.is_nan() { 0.1 } else { s.clamp(0.1, 86_400.0) })
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("bind", &self.bind)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("cache_max_age", &self.cache_max_age)
            .field("cache_poll_ms", &self.cache_poll_ms)
            .finish()
    }
}

/// Where bars come from and how to reach Massive (`bars load`, `symbols refresh`, the worker).
#[derive(Args, Clone)]
pub struct MarketArgs {
    /// Bar source: `massive` (the API), `sample` (the bundled Dow 30 daily bars) or a folder of CSV bars
    /// [default: massive when an API key is configured, else the bundled sample].
    #[arg(long, value_name = "massive|sample|DIR")]
    pub source: Option<String>,
    /// Massive API key, sent as `Authorization: Bearer`. Also read from MASSIVE_API_KEY or POLYGON_API_KEY.
    #[arg(
        id = "massive_api_key",
        long = "massive-api-key",
        value_name = "KEY",
        env = "MASSIVE_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// Massive base URL.
    #[arg(long, env = "MASSIVE_BASE_URL", default_value = crate::market::DEFAULT_BASE_URL)]
    pub massive_url: String,
    /// Request budget of your plan: 5/min on the free plan; paid plans e.g. 100/s.
    #[arg(long, env = "MASSIVE_RATE", default_value = "5/min")]
    pub rate: crate::market::RateSpec,
    /// Requests in flight at once.
    #[arg(long, env = "MASSIVE_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// Whole-request timeout, seconds.
    #[arg(long, env = "MASSIVE_TIMEOUT_SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Connect timeout, seconds.
    #[arg(long, env = "MASSIVE_CONNECT_TIMEOUT_SECS", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Retries of a request that hit 429, 5xx or a timeout.
    #[arg(long, env = "MASSIVE_RETRIES", default_value_t = 5)]
    pub retries: usize,
    /// First retry delay in milliseconds (doubles each retry).
    #[arg(long, env = "MASSIVE_MIN_BACKOFF_MS", default_value_t = 500, hide = true)]
    pub min_backoff_ms: u64,
}

impl MarketArgs {
    /// The API key: the flag or MASSIVE_API_KEY (via clap), else TickStock-era POLYGON_API_KEY.
    pub fn api_key(&self) -> Option<String> {
        self.api_key.clone().or_else(|| std::env::var("POLYGON_API_KEY").ok()).filter(|k| !k.trim().is_empty())
    }

    /// The Massive client configuration, if a key is configured.
    pub fn massive(&self) -> Option<crate::market::MassiveConfig> {
        let mut c = crate::market::MassiveConfig::new(self.api_key()?);
        c.base_url = self.massive_url.clone();
        c.rate = self.rate;
        c.concurrency = self.concurrency.max(1);
        c.timeout = std::time::Duration::from_secs(self.timeout.max(1));
        c.connect_timeout = std::time::Duration::from_secs(self.connect_timeout.max(1));
        c.retries = self.retries;
        c.min_backoff = std::time::Duration::from_millis(self.min_backoff_ms.max(1));
        Some(c)
    }
}

impl fmt::Debug for MarketArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MarketArgs")
            .field("source", &self.source)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("massive_url", &self.massive_url)
            .field("rate", &self.rate.to_string())
            .finish_non_exhaustive()
    }
}

/// Where Redis is (production mode of the jobs worker): `--redis-url`, `REDIS_URL`, or TickStock's
/// `REDIS_HOST`/`REDIS_PORT`/`REDIS_DB`. None means embedded mode.
#[derive(Args, Clone, Debug)]
pub struct RedisArgs {
    /// Redis URL (`redis://host:6379/0`). Also REDIS_URL, or TickStock's REDIS_HOST, REDIS_PORT and REDIS_DB.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
}

impl RedisArgs {
    /// The URL, if Redis is configured by any of the names.
    pub fn url(&self) -> Option<String> {
        if let Some(u) = self.redis_url.clone().filter(|u| !u.trim().is_empty()) {
            return Some(u);
        }
        let host = std::env::var("REDIS_HOST").ok().filter(|h| !h.trim().is_empty())?;
        let port = std::env::var("REDIS_PORT").ok().filter(|p| !p.trim().is_empty()).unwrap_or_else(|| "6379".into());
        let db = std::env::var("REDIS_DB").ok().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| "0".into());
        Some(format!("redis://{host}:{port}/{db}"))
    }
}
