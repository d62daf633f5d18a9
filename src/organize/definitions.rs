//! The organize definitions file (TOML): which `cache_entries` rows to build, each with a rule.
//!
//! ```toml
//! [thresholds]            # market-cap buckets in dollars (these are the defaults)
//! mega = 200e9
//! large = 10e9
//! mid = 2e9
//! small = 300e6
//! micro = 50e6
//!
//! [[row]]
//! type = "stock_universe"       # stock_universe | etf_universe | stock_stats
//! name = "S&P 500"              # display name or category; "{description}" / "{name}" in templates
//! key = "index_sp500"           # "{sector}", "{industry}", "{name}" in templates
//! rule = { group = "UNIVERSE:sp500" }
//! shape = "list"                # list (JSON array, default) | detailed ({count, stocks|etfs: [...]})
//! ```
//!
//! Rules: `{ group = "TYPE:name" }`, `{ list = [..] }`, `{ union = [rule, ..] }`, `{ market_cap = "mega" }`,
//! `{ top = N }` (by market cap), `{ top_etfs = N }`, `{ all = "CS" | "ETF" }`, `{ sector_leaders = N }` (one row per sector),
//! `{ industry_leaders = { top = N, min_stocks = 3, max_industries = 20 } }` (one row per industry),
//! `{ industry = { contains = ["bank"], top = 15 } }`, `{ etf_name = { include = ["bond"], exclude = ["equity"] } }`,
//! `{ each_group = "THEME" }` (one row per group of a kind), and `"stats"` (the `stock_stats` summary).

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{GroupKind, Ticker};
use crate::load::{Input, Problem};

/// Row types organize owns. Every other type in `cache_entries` is left alone.
pub const MANAGED_TYPES: [&str; 4] = ["stock_universe", "etf_universe", "stock_stats", "themes"];
/// The obsolete type organize deletes.
pub const OBSOLETE_TYPE: &str = "stock_etf_combo";

/// Market-cap bucket lower bounds, in dollars.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Mega cap: at least this.
    pub mega: f64,
    /// Large cap: [large, mega).
    pub large: f64,
    /// Mid cap: [mid, large).
    pub mid: f64,
    /// Small cap: [small, mid).
    pub small: f64,
    /// Micro cap: [micro, small).
    pub micro: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { mega: 200e9, large: 10e9, mid: 2e9, small: 300e6, micro: 50e6 }
    }
}

/// A market-cap bucket.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// ≥ mega.
    Mega,
    /// [large, mega).
    Large,
    /// [mid, large).
    Mid,
    /// [small, mid).
    Small,
    /// [micro, small).
    Micro,
}

impl Thresholds {
    /// The bucket's [low, high) range in dollars.
    pub fn range(&self, b: Bucket) -> (f64, f64) {
        match b {
            Bucket::Mega => (self.mega, f64::INFINITY),
            Bucket::Large => (self.large, self.mega),
            Bucket::Mid => (self.mid, self.large),
            Bucket::Small => (self.small, self.mid),
            Bucket::Micro => (self.micro, self.small),
        }
    }
}

/// Options of an industry-leaders rule.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndustryLeaders {
    /// Stocks per industry.
    pub top: usize,
    /// Industries with fewer stocks are left out.
    #[serde(default = "three")]
    pub min_stocks: usize,
    /// At most this many industries (largest first).
    #[serde(default = "twenty")]
    pub max_industries: usize,
}

/// Options of an industry rule.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndustryMatch {
    /// Words, any of which the industry must contain (ignoring case, spaces, `_`, `-`, `&`).
    pub contains: Vec<String>,
    /// At most this many stocks, largest first.
    #[serde(default = "fifteen")]
    pub top: usize,
}

/// Options of a fund-name rule.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EtfName {
    /// Words, any of which the name must contain.
    pub include: Vec<String>,
    /// Words none of which it may contain.
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn fifteen() -> usize {
    15
}
fn three() -> usize {
    3
}
fn twenty() -> usize {
    20
}

/// How a row's symbols are chosen.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Members of one relational group, `TYPE:name`.
    Group(String),
    /// A fixed list.
    List(Vec<String>),
    /// The union of other rules.
    Union(Vec<Rule>),
    /// Active common stocks in a market-cap bucket, largest first.
    MarketCap(Bucket),
    /// The N largest active common stocks.
    Top(usize),
    /// The N largest ETFs (by market cap where known, then by symbol).
    TopEtfs(usize),
    /// Every active symbol of a type (`CS`, `ETF`); for `ETF` also every ETF group.
    All(String),
    /// One row per sector: its N largest stocks. Key template `{sector}`.
    SectorLeaders(usize),
    /// One row per industry with enough stocks. Key template `{industry}`.
    IndustryLeaders(IndustryLeaders),
    /// One row per group of a kind (e.g. `THEME`). Templates `{name}`, `{description}`.
    EachGroup(String),
    /// The largest active common stocks whose industry contains one of the words (TickStock's `banks`,
    /// `software`, … rows).
    Industry(IndustryMatch),
    /// Active ETFs whose name contains one of `include` and none of `exclude`, ignoring case (TickStock's fund
    /// categories, which it chose by name patterns).
    EtfName(EtfName),
    /// The `stock_stats` summary.
    Stats,
}

/// The JSON shape of a row's value.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A JSON array of tickers.
    #[default]
    List,
    /// `{count, stocks: [...]}` (or `etfs` for `etf_universe`), with name, rank, sector, industry, market cap.
    Detailed,
}

/// One row definition, with its line for messages.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct RowDef {
    /// 1-based line of the `type` field.
    pub line: u64,
    /// `cache_entries.type`.
    pub kind: String,
    /// Name (may hold a template).
    pub name: String,
    /// Key (may hold a template).
    pub key: String,
    pub rule: Rule,
    /// Value shape.
    pub shape: Shape,
}

/// A parsed definitions file.
#[derive(Debug, Clone)]
pub struct Definitions {
    /// Where it came from.
    pub source: String,
    /// MD5 of its bytes.
    pub checksum: String,
    /// Bucket thresholds.
    pub thresholds: Thresholds,
    /// Rows in file order.
    pub rows: Vec<RowDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(rename = "row", default)]
    rows: Vec<RawRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    name: String,
    key: String,
    rule: Spanned<Rule>,
    #[serde(default)]
    shape: Shape,
}

fn line_of(text: &str, offset: usize) -> u64 {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() as u64 + 1
}

/// Checks a rule's references; problems name the row's line.
fn check_rule(rule: &Rule, file: &str, line: u64, problems: &mut Vec<Problem>) {
    let bad = |why: String| Problem::at(file, line, Some("rule"), why);
    match rule {
        Rule::Group(g) | Rule::EachGroup(g) => {
            let kind =
                if matches!(rule, Rule::Group(_)) { g.split_once(':').map(|(k, _)| k) } else { Some(g.as_str()) };
            if kind.and_then(GroupKind::parse).is_none() {
                problems.push(bad(format!("{g:?}: expected TYPE:name with TYPE one of UNIVERSE, ETF, SECTOR, THEME")));
            }
        }
        Rule::List(items) => {
            for t in items {
                if let Err(e) = Ticker::parse(t) {
                    problems.push(bad(e.to_string()));
                }
            }
        }
        Rule::Union(rules) => rules.iter().for_each(|r| check_rule(r, file, line, problems)),
        Rule::All(t) if !matches!(t.as_str(), "CS" | "ETF") => {
            problems.push(bad(format!("all = {t:?}: expected \"CS\" or \"ETF\"")))
        }
        Rule::Top(0) | Rule::TopEtfs(0) | Rule::SectorLeaders(0) => problems.push(bad("N must be at least 1".into())),
        Rule::Industry(m) if m.contains.is_empty() || m.top == 0 => {
            problems.push(bad("industry: give at least one word in `contains` and a `top` of at least 1".into()))
        }
        Rule::EtfName(n) if n.include.is_empty() => {
            problems.push(bad("etf_name: give at least one `include` word".into()))
        }
        _ => {}
    }
}

/// Parses a definitions file, reporting every problem with its line.
pub fn parse(input: &Input) -> Result<Definitions, Vec<Problem>> {
    let text = input.text().map_err(|p| vec![p])?;
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        vec![Problem::at(&input.name, line, None, format!("invalid definitions file: {}", e.message()))]
    })?;
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for r in file.rows {
        let line = line_of(text, r.kind.span().start);
        let kind = r.kind.into_inner();
        if !MANAGED_TYPES.contains(&kind.as_str()) {
            problems.push(Problem::at(
                &input.name,
                line,
                Some("type"),
                format!("type {kind:?}: organize writes only {}", MANAGED_TYPES.join(", ")),
            ));
        }
        let rule_line = line_of(text, r.rule.span().start);
        let rule = r.rule.into_inner();
        check_rule(&rule, &input.name, rule_line, &mut problems);
        let templated = r.key.contains('{');
        if !templated && let Some(first) = seen.insert((kind.clone(), r.key.clone()), line) {
            problems.push(Problem::at(
                &input.name,
                line,
                Some("key"),
                format!("{kind}:{} is defined twice (also line {first})", r.key),
            ));
        }
        rows.push(RowDef { line, kind, name: r.name, key: r.key, rule, shape: r.shape });
    }
    if rows.is_empty() {
        problems.push(Problem::file(&input.name, "no [[row]] definitions"));
    }
    if problems.is_empty() {
        Ok(Definitions { source: input.name.clone(), checksum: input.checksum(), thresholds: file.thresholds, rows })
    } else {
        Err(problems)
    }
}
