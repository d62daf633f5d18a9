//! Domain types, parsed once at the edge: tickers, weights, group kinds and names, environments, sectors, universe keys,
//! and the words runs and jobs are recorded with.

mod bar;
mod group;
mod record;
mod sector;
mod ticker;
mod timeframe;
mod universe_expr;
mod universe_key;
mod weight;

pub use bar::{Bar, BarTime, new_york_date};
pub use group::{Environment, GroupKind, GroupName, GroupNameError};
pub use record::{JobStatus, RunKind, RunStatus, UnknownValue};
pub use sector::{Sector, fold};
pub use ticker::{MAX_TICKER_LEN, Ticker, TickerError};
pub use timeframe::{Timeframe, TimeframeError};
pub use universe_expr::{UniverseExpr, UniverseExprError};
pub use universe_key::{CacheKind, KeyPart, Picked, UniverseKey, UniverseKeyError, pick_named};
pub use weight::{RawWeight, Weight, WeightError, WeightUnit};
