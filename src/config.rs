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
