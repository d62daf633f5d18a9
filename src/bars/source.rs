//! Where bars come from: the Massive API, or a folder of CSV files (the sample bundled for `universe demo`, or
//! files a user downloaded). One interface, so the CLI, the jobs and the demo run the same loader online or off.
//!
//! Folder layout: `DIR/<timeframe>/*.csv` (`1min`, `hour`, `day`, `week`, `month`; the other spellings of
//! [`Timeframe`] work too), with `*.csv` directly in `DIR` counted as daily. A file holds many symbols (a symbol
//! column) or one (named by the file, `AAPL.csv`). With daily files but no weekly or monthly ones, weeks and
//! months are built from the days.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use tokio::sync::OnceCell;

use super::csv::{CsvBars, CsvBarsError, parse_bars, read_bars};
use super::{Bar, BarTime, aggregate_daily, time_from_millis};
use crate::domain::{Ticker, Timeframe};
use crate::market::{MassiveClient, MassiveError};

/// Why bars could not be fetched.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub enum SourceError {
    /// The API failed.
    #[error(transparent)]
    Massive(#[from] MassiveError),
    /// A local file is unreadable or malformed.
    #[error(transparent)]
    Local(#[from] CsvBarsError),
    /// Cannot list the folder.
    #[error("bar folder {dir}: {source}")]
    Folder { dir: PathBuf, source: std::io::Error },
    /// The source answered with something unusable.
    #[error("{0}")]
    Invalid(String),
}

impl SourceError {
    /// A failure every further request would repeat (a rejected key, a broken local file): the loader stops.
    pub fn is_fatal(&self) -> bool {
        match self {
            SourceError::Massive(e) => e.is_fatal(),
            SourceError::Local(_) | SourceError::Folder { .. } => true,
            SourceError::Invalid(_) => false,
        }
    }
}

/// A bar source.
#[derive(Clone)]
pub enum BarSource {
    /// The Massive REST API.
    Massive(Box<MassiveClient>),
    /// A folder of CSV files.
    Local(Arc<LocalBars>),
}

impl BarSource {
    /// The Massive API.
    pub fn massive(client: MassiveClient) -> BarSource {
        BarSource::Massive(Box::new(client))
    }

    /// With Massive, shares the rate limit with every other worker on the same key through Redis; other sources
    /// are returned as they are.
    pub fn share_rate(self, redis_url: &str) -> redis::RedisResult<BarSource> {
        Ok(match self {
            BarSource::Massive(client) => BarSource::massive(client.share_rate(redis_url)?),
            other => other,
        })
    }

    /// A local source on a folder.
    pub fn local(dir: impl Into<PathBuf>) -> BarSource {
        BarSource::Local(Arc::new(LocalBars::new(dir.into())))
    }

    /// The sample bars compiled into the binary (the Dow 30, daily, one year).
    pub fn sample() -> BarSource {
        BarSource::Local(Arc::new(LocalBars::embedded(crate::sample::SAMPLE_BARS)))
    }

    /// For messages and `load_runs.source`.
    pub fn describe(&self) -> String {
        match self {
            BarSource::Massive(c) => format!("massive ({}, {})", c.config().base_url, c.config().rate),
            BarSource::Local(l) => match &l.files {
                Files::Dir(dir) => format!("folder {}", dir.display()),
                Files::Embedded(_) => "bundled sample bars (Dow 30, daily, 2017-02-08..2018-02-07)".to_string(),
            },
        }
    }

    /// Whether one request can return the whole market's daily bars for a date.
    pub fn has_grouped_daily(&self) -> bool {
        matches!(self, BarSource::Massive(_))
    }

    /// Requests sent so far (0 for a folder).
    pub fn requests_sent(&self) -> u64 {
        match self {
            BarSource::Massive(c) => c.requests_sent(),
            BarSource::Local(_) => 0,
        }
    }

    /// A symbol's bars of one timeframe between two New York dates, both inclusive.
    pub async fn bars(
        &self,
        symbol: &Ticker,
        tf: Timeframe,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, SourceError> {
        match self {
            BarSource::Massive(client) => {
                let raw = client.aggregates(symbol.as_str(), tf, from, to).await?;
                raw.into_iter()
                    .map(|b| {
                        let time = time_from_millis(tf, b.t).ok_or_else(|| {
                            SourceError::Invalid(format!("{symbol} {tf}: bar timestamp {} is out of range", b.t))
                        })?;
                        Ok(Bar {
                            symbol: symbol.clone(),
                            time,
                            open: b.o,
                            high: b.h,
                            low: b.l,
                            close: b.c,
                            volume: b.v,
                        })
                    })
                    .collect()
            }
            BarSource::Local(local) => local.bars(symbol, tf, from, to).await,
        }
    }

    /// Every ticker's daily bar for `date`, keyed by that date (Massive only; a folder answers per symbol).
    pub async fn grouped_daily(&self, date: NaiveDate) -> Result<Vec<Bar>, SourceError> {
        let BarSource::Massive(client) = self else {
            return Err(SourceError::Invalid("a bar folder has no grouped-daily endpoint".to_string()));
        };
        let rows = client.grouped_daily(date).await?;
        Ok(rows
            .into_iter()
            .filter_map(|b| {
                let symbol = Ticker::parse(&b.ticker).ok()?;
                Some(Bar { symbol, time: BarTime::Date(date), open: b.o, high: b.h, low: b.l, close: b.c, volume: b.v })
            })
            .collect())
    }
}

/// One timeframe's bars, by symbol, in time order.
type SymbolBars = Arc<HashMap<Ticker, Vec<Bar>>>;

/// Where a local source's files are.
enum Files {
    /// A folder on disk.
    Dir(PathBuf),
    /// Files compiled into the binary: (path as `…/<timeframe>/<name>.csv`, contents).
    Embedded(&'static [(&'static str, &'static [u8])]),
}

/// Bars read from CSV files, indexed per timeframe on first use.
pub struct LocalBars {
    files: Files,
    index: [OnceCell<SymbolBars>; 5],
}

impl LocalBars {
    /// A source on `dir` (nothing is read until bars are asked for).
    pub fn new(dir: PathBuf) -> Self {
        LocalBars { files: Files::Dir(dir), index: Default::default() }
    }

    /// A source on embedded files.
    pub fn embedded(files: &'static [(&'static str, &'static [u8])]) -> Self {
        LocalBars { files: Files::Embedded(files), index: Default::default() }
    }

    async fn bars(
        &self,
        symbol: &Ticker,
        tf: Timeframe,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, SourceError> {
        let index = self.index_of(tf).await?;
        let Some(all) = index.get(symbol) else { return Ok(Vec::new()) };
        Ok(all.iter().filter(|b| (from..=to).contains(&b.time.new_york_date())).cloned().collect())
    }

    async fn index_of(&self, tf: Timeframe) -> Result<SymbolBars, SourceError> {
        let slot = &self.index[Timeframe::ALL.iter().position(|t| *t == tf).expect("one of ALL")];
        slot.get_or_try_init(|| async {
            let bars = match &self.files {
                Files::Dir(dir) => {
                    let dir = dir.clone();
                    tokio::task::spawn_blocking(move || read_folder(&dir, tf))
                        .await
                        .map_err(|e| SourceError::Invalid(format!("reading bar files panicked: {e}")))??
                }
                Files::Embedded(files) => read_embedded(files, tf)?,
            };
            let mut by_symbol: HashMap<Ticker, Vec<Bar>> = HashMap::new();
            for bar in bars {
                by_symbol.entry(bar.symbol.clone()).or_default().push(bar);
            }
            for bars in by_symbol.values_mut() {
                bars.sort_by_key(|b| b.time);
            }
            Ok(Arc::new(by_symbol))
        })
        .await
        .cloned()
    }
}

/// The CSV files for a timeframe: `DIR/<tf>/*.csv` under any spelling of the timeframe, plus `DIR/*.csv` for days.
fn files_for(dir: &Path, tf: Timeframe) -> Result<Vec<PathBuf>, SourceError> {
    let folder_err = |source| SourceError::Folder { dir: dir.to_path_buf(), source };
    let mut files = Vec::new();
    let csvs = |d: &Path| -> Result<Vec<PathBuf>, std::io::Error> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
            .collect();
        v.sort();
        Ok(v)
    };
    for entry in std::fs::read_dir(dir).map_err(folder_err)?.filter_map(Result::ok) {
        let path = entry.path();
        let named_tf = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<Timeframe>().ok());
        if path.is_dir() && named_tf == Some(tf) {
            files.extend(csvs(&path).map_err(folder_err)?);
        }
    }
    if tf == Timeframe::Day {
        files.extend(csvs(dir).map_err(folder_err)?);
    }
    Ok(files)
}

/// Reads a set of files of one timeframe; with none for weeks or months, builds them from the days.
fn read_files<F>(
    files: Vec<PathBuf>,
    tf: Timeframe,
    days: impl FnOnce() -> Result<Vec<Bar>, SourceError>,
    read: F,
) -> Result<Vec<Bar>, SourceError>
where
    F: Fn(&Path, Option<&Ticker>) -> Result<CsvBars, CsvBarsError>,
{
    if files.is_empty() && matches!(tf, Timeframe::Week | Timeframe::Month) {
        return Ok(aggregate_daily(&days()?, tf));
    }
    let mut bars = Vec::new();
    for file in files {
        // A file without a symbol column is one symbol's, named by the file.
        let stem = file.file_stem().and_then(|s| s.to_str()).and_then(|s| Ticker::parse(s).ok());
        let got = match read(&file, None) {
            Err(CsvBarsError::Header { .. }) if stem.is_some() => read(&file, stem.as_ref())?,
            other => other?,
        };
        if !got.rejected.is_empty() {
            tracing::warn!(file = %file.display(), rejected = got.rejected.len(), "rows with missing values skipped");
        }
        bars.extend(got.bars);
    }
    Ok(bars)
}

fn read_folder(dir: &Path, tf: Timeframe) -> Result<Vec<Bar>, SourceError> {
    read_files(files_for(dir, tf)?, tf, || read_folder(dir, Timeframe::Day), |f, s| read_bars(f, tf, s))
}

fn read_embedded(files: &'static [(&'static str, &'static [u8])], tf: Timeframe) -> Result<Vec<Bar>, SourceError> {
    let of_tf: Vec<PathBuf> = files
        .iter()
        .map(|(name, _)| PathBuf::from(name))
        .filter(|p| {
            p.parent().and_then(|d| d.file_name()).and_then(|n| n.to_str()).and_then(|n| n.parse().ok()) == Some(tf)
        })
        .collect();
    let contents = |p: &Path| files.iter().find(|(n, _)| Path::new(n) == p).map_or(&[][..], |(_, b)| *b);
    read_files(of_tf, tf, || read_embedded(files, Timeframe::Day), |f, s| parse_bars(f, contents(f), tf, s))
}
