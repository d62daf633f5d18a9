//! Data bundled in the binary: the sample set `universe demo` loads (derived from real public data, see
//! `data/sample/README.md`), the default themes file, and a deterministic peer-scale data set for benchmarks.

use std::fmt::Write as _;
use std::path::Path;

use crate::load::{Input, LoadKind};

macro_rules! embedded {
    ($path:literal) => {
        ($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/", $path)).as_slice())
    };
}

/// The default themes file (`data/themes.toml`).
pub const THEMES_TOML: (&str, &[u8]) = embedded!("themes.toml");

/// Sample daily bars (`data/sample/bars/day/dow30.csv`): the Dow 30 over the last 252 sessions of the shared
/// 2013–2018 OHLCV file, for the offline bar source.
pub const SAMPLE_BARS: &[(&str, &[u8])] = &[embedded!("sample/bars/day/dow30.csv")];

/// The sample's next-day list (`data/sample/next_day/tickers.csv`): the sample's symbols without the companies
/// acquired or renamed in 2025-26, plus one real new listing; what `universe sync --source sample` and the demo's
/// closing sync read.
pub const NEXT_DAY_TICKERS: (&str, &[u8]) = embedded!("sample/next_day/tickers.csv");

/// The next-day list as an input.
pub fn next_day_list() -> Input {
    Input::from_bytes(format!("data/{}", NEXT_DAY_TICKERS.0), NEXT_DAY_TICKERS.1)
}

/// The S&P 500's dated history (byte copies of the shared `pit/sp500_seed.csv` and `pit/sp500_changes.csv`):
/// the seed roster of 2004-12-30 and 1,026 additions and removals to 2026-07-13.
pub fn sp500_history() -> (Input, Input) {
    let (seed, changes) = (embedded!("sample/history/sp500_seed.csv"), embedded!("sample/history/sp500_changes.csv"));
    (Input::from_bytes(format!("data/{}", seed.0), seed.1), Input::from_bytes(format!("data/{}", changes.0), changes.1))
}

/// Sample loads in the order the demo runs them.
pub fn demo_loads() -> Vec<(LoadKind, Vec<Input>)> {
    let inputs =
        |files: &[(&str, &[u8])]| files.iter().map(|(n, b)| Input::from_bytes(format!("data/{n}"), *b)).collect();
    vec![
        (LoadKind::Symbols, inputs(&[embedded!("sample/symbols.csv")])),
        (
            LoadKind::Universes,
            inputs(&[
                embedded!("sample/universes/sp500.csv"),
                embedded!("sample/universes/nasdaq100.csv"),
                embedded!("sample/universes/dow30.csv"),
            ]),
        ),
        (LoadKind::Sectors, inputs(&[embedded!("sample/universes/sp500.csv"), embedded!("sample/sectors/extras.csv")])),
        (
            LoadKind::Holdings,
            inputs(&[
                embedded!("sample/holdings/spy_holdings.csv"),
                embedded!("sample/holdings/dia_holdings.csv"),
                embedded!("sample/holdings/qqq_holdings.csv"),
                embedded!("sample/holdings/xlb_holdings.csv"),
                embedded!("sample/holdings/xlc_holdings.csv"),
                embedded!("sample/holdings/xle_holdings.csv"),
                embedded!("sample/holdings/xlf_holdings.csv"),
                embedded!("sample/holdings/xli_holdings.csv"),
                embedded!("sample/holdings/xlk_holdings.csv"),
                embedded!("sample/holdings/xlp_holdings.csv"),
                embedded!("sample/holdings/xlre_holdings.csv"),
                embedded!("sample/holdings/xlu_holdings.csv"),
                embedded!("sample/holdings/xlv_holdings.csv"),
                embedded!("sample/holdings/xly_holdings.csv"),
            ]),
        ),
        (LoadKind::Themes, inputs(&[THEMES_TOML])),
    ]
}

/// ETF sizes of TickStock's production report (tickstock-compat.md §3.8): 24 funds, 11,778 holdings.
pub const PEER_ETFS: [(&str, usize); 24] = [
    ("VTI", 3508),
    ("IWV", 2564),
    ("IWM", 1943),
    ("IWB", 1009),
    ("VOO", 505),
    ("SPY", 504),
    ("MDY", 401),
    ("VTV", 316),
    ("SCHG", 195),
    ("VUG", 160),
    ("QQQ", 102),
    ("XLI", 75),
    ("XLK", 72),
    ("XLV", 60),
    ("XLF", 60),
    ("XLY", 55),
    ("ARKK", 46),
    ("XLP", 33),
    ("XLRE", 30),
    ("XLB", 30),
    ("XLU", 30),
    ("DIA", 30),
    ("XLE", 25),
    ("XLC", 25),
];

/// Universe sizes of TickStock's README: nasdaq100 102, sp500 505, dow30 30, russell3000 3,000.
pub const PEER_UNIVERSES: [(&str, usize); 4] =
    [("nasdaq100", 102), ("sp500", 505), ("dow30", 30), ("russell3000", 3000)];

/// Distinct symbols the peer set draws from (the report counts 3,757): the real stocks of [`PEER_STOCKS`].
pub const PEER_SYMBOLS: usize = 3757;

/// The peer set's stocks (`data/bench/peer_stocks.csv`, written by `scripts/peer-stocks.py` from the shared data;
/// see `data/bench/README.md`): 3,757 real US tickers — today's index rosters, live stocks of the 2026 listing,
/// stocks of the 2023 listing — with the GICS sector and sub-industry the index rosters give (blank for a stock
/// in none), so classification sources (`enrich sectors`) meet real tickers.
const PEER_STOCKS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/bench/peer_stocks.csv"));

/// The rows of [`PEER_STOCKS`]: symbol, name, sector, industry.
fn peer_stocks() -> Vec<[String; 4]> {
    csv::Reader::from_reader(PEER_STOCKS.as_bytes())
        .records()
        .map(|r| {
            let r = r.expect("the bundled peer_stocks.csv is valid CSV");
            std::array::from_fn(|k| r.get(k).unwrap_or_default().to_string())
        })
        .collect()
}

/// A CSV field, quoted when it holds a comma or a quote.
fn field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"']) { format!("\"{}\"", s.replace('"', "\"\"")).into() } else { s.into() }
}

/// Symbols with metadata in the peer set (issue #3's scale).
pub const PEER_METADATA_SYMBOLS: usize = 10_000;

const GICS: [&str; 11] = [
    "Information Technology",
    "Health Care",
    "Financials",
    "Consumer Discretionary",
    "Communication Services",
    "Industrials",
    "Consumer Staples",
    "Energy",
    "Utilities",
    "Real Estate",
    "Materials",
];

/// A deterministic pseudo-random number in [0, 1) for index `i` (splitmix64), so the data set is the same bytes
/// on every run without a random-number dependency.
fn unit(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Deterministic synthetic ticker number `i` (`AAAA`, `AAAB`, …): four letters, never a real-data collision
/// concern because only the structure matters for benchmarks.
fn synthetic_ticker(i: usize) -> String {
    let mut n = i;
    let mut s = [b'A'; 4];
    for c in s.iter_mut().rev() {
        *c = b'A' + (n % 26) as u8;
        n /= 26;
    }
    String::from_utf8(s.to_vec()).expect("ASCII")
}

/// Writes the peer-scale data set into `dir`: `holdings/<etf>_holdings.csv` (24 files, 11,778 rows, iShares-like
/// `Ticker,Name,Weight (%)` with weights summing to 100) and `universes/<name>.csv` (4 files). Deterministic: the
/// same bytes every time. With `variant` > 0 a few weights differ, to benchmark an incremental change.
pub fn write_peer_dataset(dir: &Path, variant: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("holdings"))?;
    let real = peer_stocks();
    let ticker = |i: usize| real[i][0].clone();
    for (k, (etf, n)) in PEER_ETFS.iter().enumerate() {
        // Members: a contiguous window over the symbol space, offset per fund; weights decay with rank.
        let offset = (k * 157) % PEER_SYMBOLS;
        let bump = |r: usize| variant > 0 && r.is_multiple_of(97);
        write_holdings(dir, etf, (0..*n).map(|r| ticker((offset + r) % PEER_SYMBOLS)), bump, variant)?;
    }
    write_universes(dir, PEER_SYMBOLS, ticker)?;
    write_metadata(dir, PEER_METADATA_SYMBOLS, PEER_SYMBOLS, &real)
}

/// ETFs in the market-scale data set (about every US-listed fund).
pub const MARKET_ETFS: usize = 3000;
/// Distinct stocks their holdings draw from.
pub const MARKET_STOCKS: usize = 12_000;

/// Holdings of market-scale fund `k`: between 30 and 640, spread evenly.
pub fn market_fund_size(k: usize) -> usize {
    30 + (unit(k as u64 ^ 0x5ca1e) * 611.0) as usize
}

/// Writes the market-scale data set into `dir`: 3,000 holdings files (30–640 holdings each, about 1,000,000
/// memberships over 12,000 stocks; the test pins the exact figures), the four universe files and metadata for
/// the stocks and the funds, in the peer set's layout. Deterministic. With `variant` > 0 only the first fund's
/// file differs (some weights), to benchmark an incremental reload where one file changed.
pub fn write_market_dataset(dir: &Path, variant: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("holdings"))?;
    for k in 0..MARKET_ETFS {
        let etf = synthetic_ticker(MARKET_FUND_BASE + k);
        let offset = (k * 7919) % MARKET_STOCKS;
        let bump = |r: usize| variant > 0 && k == 0 && r.is_multiple_of(7);
        let members = (0..market_fund_size(k)).map(|r| synthetic_ticker((offset + r) % MARKET_STOCKS));
        write_holdings(dir, &etf, members, bump, variant)?;
    }
    write_universes(dir, MARKET_STOCKS, synthetic_ticker)?;
    write_metadata(dir, MARKET_STOCKS, MARKET_STOCKS, &[])
}

/// Where the market-scale funds' tickers start in the synthetic ticker space (after every stock's).
const MARKET_FUND_BASE: usize = 100_000;

/// One holdings file: the members (tickers) with weights decaying by rank and summing to 100,
/// those `bump` picks raised by `variant` %.
fn write_holdings(
    dir: &Path,
    etf: &str,
    members: impl ExactSizeIterator<Item = String>,
    bump: impl Fn(usize) -> bool,
    variant: u32,
) -> std::io::Result<()> {
    let n = members.len();
    let mut csv = String::with_capacity(24 + n * 24);
    csv.push_str("Ticker,Name,Weight (%)\n");
    let sum: f64 = (0..n).map(|r| 1.0 / (r as f64 + 10.0)).sum();
    for (r, t) in members.enumerate() {
        let mut pct = 1.0 / (r as f64 + 10.0) / sum * 100.0;
        if bump(r) {
            pct *= 1.0 + 0.01 * f64::from(variant);
        }
        let _ = writeln!(csv, "{t},{t} Inc,{pct:.4}");
    }
    std::fs::write(dir.join("holdings").join(format!("{}_holdings.csv", etf.to_lowercase())), csv)
}

/// The four universe files, drawn from the first `symbols` tickers.
fn write_universes(dir: &Path, symbols: usize, ticker: impl Fn(usize) -> String) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("universes"))?;
    for (k, (name, n)) in PEER_UNIVERSES.iter().enumerate() {
        let mut csv = String::from("symbol\n");
        for r in 0..*n {
            let _ = writeln!(csv, "{}", ticker((k * 311 + r) % symbols));
        }
        std::fs::write(dir.join("universes").join(format!("{name}.csv")), csv)?;
    }
    Ok(())
}

/// Symbol metadata for `count` symbols (`symbols.csv`: market caps spread log-uniformly from $20M to $4T) and a
/// sector classification of the first `classified` (`sectors.csv`). The first `real.len()` are the real stocks
/// given (their names, and their sector where the file has one: blank is `unknown`); the others synthetic (5 %
/// ETFs, a GICS sector and one of 66 industries each, one in seven left unclassified).
fn write_metadata(dir: &Path, count: usize, classified: usize, real: &[[String; 4]]) -> std::io::Result<()> {
    let mut csv = String::from("symbol,name,type,exchange,market_cap,sector,industry\n");
    let mut sectors = String::from("symbol,sector,industry\n");
    // Synthetic tickers from index `real.len()` on, skipping any that is a real one.
    let taken: std::collections::HashSet<&str> = real.iter().map(|r| r[0].as_str()).collect();
    let synthetic: Vec<String> =
        (real.len()..).map(synthetic_ticker).filter(|t| !taken.contains(t.as_str())).take(count - real.len()).collect();
    for i in 0..count {
        let cap = (20e6f64.ln() + unit(i as u64) * (4e12f64.ln() - 20e6f64.ln())).exp().round();
        let exchange = if i % 3 == 0 { "XNYS" } else { "XNAS" };
        let (t, name, kind, sector, industry, classify) = match real.get(i) {
            Some([t, name, sector, industry]) => {
                // symbols.name holds 100 characters.
                let name: String = name.chars().take(100).collect();
                (t.clone(), name, "CS", sector.clone(), industry.clone(), sector.as_str())
            }
            None => {
                let t = synthetic[i - real.len()].clone();
                let sector = GICS[i % GICS.len()];
                let industry = format!("{sector} industry {}", (i / GICS.len()) % 6);
                let kind = if i % 20 == 7 { "ETF" } else { "CS" };
                (
                    t.clone(),
                    format!("{t} Inc"),
                    kind,
                    sector.to_string(),
                    industry,
                    if i % 7 == 0 { "" } else { sector },
                )
            }
        };
        let (name, industry) = (field(&name), field(&industry));
        let _ = writeln!(csv, "{t},{name},{kind},{exchange},{cap},{sector},{industry}");
        if i < classified && kind == "CS" {
            let _ = writeln!(sectors, "{t},{classify},{industry}");
        }
    }
    std::fs::write(dir.join("symbols.csv"), csv)?;
    std::fs::write(dir.join("sectors.csv"), sectors)
}

/// Stocks in the daily-sync data set.
pub const SYNC_STOCKS: usize = 10_000;

/// The daily-sync data set (issue #16's benchmark): `symbols.csv` (10,000 stocks with shares outstanding), 30 ETF
/// holdings files of 400 (12,000 memberships), `day1.csv` (every stock's close on 2026-11-27), `base/tickers.csv`
/// (the list as loaded) and the next day: `next/tickers.csv` (15 delisted, 20 IPOs) and `day2.csv` (closes on
/// 2026-11-30, each moved by up to ±5 %).
pub fn write_sync_dataset(dir: &Path, _variant: u32) -> std::io::Result<()> {
    let delisted = |i: usize| i % 661 == 5 && i / 661 < 15;
    let shares = |i: usize| 5_000_000 + (unit(i as u64 + 7) * 2e9) as i64;
    let close = |i: usize| (2.0 + unit(i as u64 + 11) * 400.0 * 100.0).round() / 100.0;
    std::fs::create_dir_all(dir.join("holdings"))?;
    std::fs::create_dir_all(dir.join("base"))?;
    std::fs::create_dir_all(dir.join("next"))?;
    let header = "symbol,name,type,exchange,shares_outstanding,sector\n";
    const SECTORS: [&str; 4] = ["Information Technology", "Health Care", "Financials", "Industrials"];
    let (mut base, mut next) = (String::from(header), String::from(header));
    let bars = "symbol,date,open,high,low,close,volume\n";
    let (mut day1, mut day2) = (String::from(bars), String::from(bars));
    for i in 0..SYNC_STOCKS + 20 {
        let t = synthetic_ticker(i);
        let exchange = if i % 3 == 0 { "XNYS" } else { "XNAS" };
        let line = format!("{t},{t} Inc,CS,{exchange},{},{}\n", shares(i), SECTORS[i % SECTORS.len()]);
        let (c1, move_) = (close(i), (unit(i as u64 + 13) - 0.5) / 10.0);
        let c2 = ((c1 * (1.0 + move_)) * 100.0).round() / 100.0;
        if i < SYNC_STOCKS {
            base.push_str(&line);
            let _ = writeln!(day1, "{t},2026-11-27,{c1},{c1},{c1},{c1},1000");
        }
        if !delisted(i) {
            next.push_str(&line);
            let _ = writeln!(day2, "{t},2026-11-30,{c2},{c2},{c2},{c2},1000");
        }
    }
    std::fs::write(dir.join("symbols.csv"), &base)?;
    std::fs::write(dir.join("base/tickers.csv"), base)?;
    std::fs::write(dir.join("next/tickers.csv"), next)?;
    std::fs::write(dir.join("day1.csv"), day1)?;
    std::fs::write(dir.join("day2.csv"), day2)?;
    // A rule-based theme the day's ±5 % moves rebalance (its floor sits inside the caps' range).
    std::fs::write(
        dir.join("themes.toml"),
        "[[theme]]\nkey = \"large_tech\"\nname = \"Large technology\"\n\
         rule = { sectors = [\"technology\"], min_market_cap = 200e9 }\n",
    )?;
    for k in 0..30 {
        let offset = (k * 331) % SYNC_STOCKS;
        let members = (0..400).map(|r| synthetic_ticker((offset + r) % SYNC_STOCKS));
        write_holdings(dir, &synthetic_ticker(20_000 + k), members, |_| false, 0)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_scale_is_every_us_etf() {
        let sizes: Vec<usize> = (0..MARKET_ETFS).map(market_fund_size).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1_012_649);
        assert_eq!((sizes.iter().min(), sizes.iter().max()), (Some(&30), Some(&640)));
        let mut stocks = std::collections::HashSet::new();
        for (k, n) in sizes.iter().enumerate() {
            stocks.extend((0..*n).map(|r| (k * 7919 + r) % MARKET_STOCKS));
        }
        assert_eq!(stocks.len(), MARKET_STOCKS);
        // Fund tickers never collide with stock tickers.
        assert!(synthetic_ticker(MARKET_FUND_BASE) > synthetic_ticker(MARKET_STOCKS));
    }

    #[test]
    fn peer_sizes_match_the_report() {
        assert_eq!(PEER_ETFS.iter().map(|e| e.1).sum::<usize>(), 11_778);
        assert_eq!(synthetic_ticker(0), "AAAA");
        assert_eq!(synthetic_ticker(27), "AABB");
        // The real stocks: distinct valid tickers, and none of the synthetic metadata-only symbols is one of them.
        let real = peer_stocks();
        assert_eq!(real.len(), PEER_SYMBOLS);
        let tickers: std::collections::HashSet<&str> = real.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(tickers.len(), PEER_SYMBOLS);
        assert!(tickers.iter().all(|t| crate::domain::Ticker::parse(t).is_ok()));
        // The written metadata: one row per symbol, names within symbols.name's 100 characters.
        let dir = std::env::temp_dir().join(format!("peer-{}", std::process::id()));
        write_peer_dataset(&dir, 0).unwrap();
        let symbols = std::fs::read_to_string(dir.join("symbols.csv")).unwrap();
        let mut r = csv::Reader::from_reader(symbols.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), PEER_METADATA_SYMBOLS);
        let distinct: std::collections::HashSet<&str> = rows.iter().map(|r| &r[0]).collect();
        assert_eq!(distinct.len(), PEER_METADATA_SYMBOLS);
        assert!(rows.iter().all(|r| r[1].chars().count() <= 100));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
