//! The one integration-test binary. Storage behaviours run on SQLite and PostgreSQL through the [`contract!`]
//! macro; each test gets a fresh database.

mod helpers;

mod alerts;
mod bars;
mod cli;
mod console;
mod console_browser;
mod deployment;
mod history;
mod holdings;
mod http_limits;
mod incremental;
mod input_edges;
mod jobs;
mod market;
mod migration;
mod organize;
mod quality;
mod real_data;
mod redis_jobs;
mod report;
mod rollback;
mod sectors_themes_symbols;
mod server;
mod sync;
mod sync_jobs;
mod transfer;
mod universes;
