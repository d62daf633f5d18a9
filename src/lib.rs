//! TickStock Universe: the reference data of a stock-analytics platform — which symbols exist, which index
//! universes, ETFs (with weights), sectors, industries and themes they belong to, with history — on an embedded
//! SQLite file or on PostgreSQL, compatible with TickStock's tables.
//!
//! # Layout
//! - [`domain`]: newtypes parsed once at the edge (`Ticker`, `Weight`, `GroupKind`, `GroupName`, `Sector`).
//! - [`store`]: the two storage backends behind one interface, with embedded migrations.
//! - [`load`]: loaders for holdings, universes, sectors, themes and symbols; diff, apply, rollback.
//! - [`market`]: the Massive (ex-Polygon) REST client: rate-limited, retried, paginated.
//! - [`bars`]: OHLCV bars: sources (Massive or CSV folders), CSV import, the loader, the trading calendar.
//! - [`sync`]: symbol metadata refreshed from the market API.
//! - [`jobs`]: data-load jobs: TickStock's messages, the queue, the worker.
//! - [`universes`]: listing, showing and resolving universe keys.
//! - [`cache`]: the relationship cache, one immutable snapshot of the graph swapped atomically on refresh.
//! - [`api`]: the HTTP API (`universe serve`) over the cache.
//! - [`sample`]: the sample data bundled for `universe demo`, and the benchmark data generator.
//! - [`config`] and [`cli`]: the command line (with the server's entry point, the places that use `anyhow`).

pub mod api;
pub mod bars;
pub mod cache;
pub mod cli;
pub mod config;
pub mod console;
pub mod domain;
pub mod jobs;
pub mod load;
pub mod market;
pub mod organize;
pub mod quality;
pub mod report;
pub mod sample;
pub mod store;
pub mod sync;
pub mod transfer;
pub mod universes;
