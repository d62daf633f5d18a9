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
}

impl Config {
    /// Resolves flags > `DATABASE_URL` (via clap) > TickStock's `DATABASE_URI` > default.
    pub fn load(args: &GlobalArgs) -> Config {
        let database_url = args
            .database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URI").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        Config { database_url, environment: args.environment, json: args.json }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("environment", &self.environment)
            .field("json", &self.json)
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
        crate::api::ServeOptions { api_key: self.api_key.clone(), watch, bench_routes: self.bench_routes }
    }
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
