//! ETF holdings files: format detection and parsing.
//!
//! Formats, told apart by their header (found after any preamble lines):
//! - **iShares**: `Ticker, Name, Sector, Asset Class, Market Value, Weight (%), …`, with a fund preamble, cash /
//!   money-market / futures rows (skipped by `Asset Class`) and a legal footer;
//! - **Invesco**: `Fund Ticker, Security Identifier, Holding Ticker, …, Weight, …` with space-padded tickers;
//! - **SPDR**: `Name, Ticker, Identifier, SEDOL, Weight, …` — the ticker is `Ticker`, never `Identifier`;
//! - **Vanguard**: a `% of fund` (or `% of net assets`) weight column, ticker in `Ticker` / `Ticker Symbol`;
//! - **simple**: any header with a `Symbol` or `Ticker` column, optionally a weight column;
//! - **ticker list**: no header, one ticker per line.

use serde::Serialize;

use super::input::{Input, Problem, Row, Table};
use super::parsed::{
    GroupInput, MemberSet, Parsed, SkippedRow, file_name, load_metadata, plain_member, ticker_cell, weight_cell,
};
use crate::domain::{GroupKind, GroupName, Ticker, WeightUnit};

/// Header names of a ticker column, in order of preference.
pub(crate) const TICKER_COLUMNS: [&str; 5] = ["Holding Ticker", "Ticker", "Ticker Symbol", "Symbol", "Ticker symbol"];

/// A detected holdings layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldingsFormat {
    /// BlackRock iShares export.
    IShares,
    /// Invesco export.
    Invesco,
    /// State Street SPDR export.
    Spdr,
    /// Vanguard export.
    Vanguard,
    /// A plain table with a Symbol/Ticker column.
    Simple,
    /// One ticker per line, no header.
    TickerList,
}

impl HoldingsFormat {
    /// Identifies the layout from a header row.
    pub fn detect(t: &Table) -> HoldingsFormat {
        let has = |n: &str| t.col(&[n]).is_some();
        if has("Holding Ticker") && has("Fund Ticker") {
            HoldingsFormat::Invesco
        } else if has("Ticker") && has("Asset Class") && (has("Weight (%)") || has("Market Value")) {
            HoldingsFormat::IShares
        } else if has("Ticker") && has("Identifier") && has("Weight") {
            HoldingsFormat::Spdr
        } else if t.col_where(|h| h.starts_with("% of")).is_some() || has("Ticker Symbol") {
            HoldingsFormat::Vanguard
        } else {
            HoldingsFormat::Simple
        }
    }

    fn label(self) -> &'static str {
        match self {
            HoldingsFormat::IShares => "iShares",
            HoldingsFormat::Invesco => "Invesco",
            HoldingsFormat::Spdr => "SPDR",
            HoldingsFormat::Vanguard => "Vanguard",
            HoldingsFormat::Simple => "simple",
            HoldingsFormat::TickerList => "ticker list",
        }
    }
}

/// Whether a header row has a ticker column.
pub(crate) fn is_ticker_header(cells: &[String]) -> bool {
    cells.iter().any(|c| TICKER_COLUMNS.iter().any(|t| c.eq_ignore_ascii_case(t)))
}

/// Asset classes that are equity positions; other values (Cash, Money Market, Futures, …) are skipped.
fn is_equity_class(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "equity" | "equities" | "stock" | "stocks" | "common stock" | "common stocks" | "" | "equity etf"
    )
}

/// Parses holdings files into one ETF group per file.
pub fn parse(inputs: &[Input], etf: Option<&str>, problems: &mut Vec<Problem>) -> Parsed {
    let mut out = Parsed::default();
    if etf.is_some() && inputs.len() > 1 {
        problems.push(Problem::file(&inputs[0].name, "--etf names one fund, but several files were given"));
        return out;
    }
    for input in inputs {
        let before = problems.len();
        if let Some(group) = parse_file(input, etf, problems, &mut out.notes) {
            out.push_group(group, &input.name, problems, before);
        }
    }
    out
}

/// The fund a file name names (`spy_holdings.csv` → `SPY`), if any.
pub(crate) fn etf_from_stem(stem: &str) -> Option<String> {
    let lower = stem.to_ascii_lowercase();
    let base = ["_holdings", "-holdings", " holdings", "_constituents", "-constituents"]
        .iter()
        .find_map(|suffix| lower.strip_suffix(suffix))
        .unwrap_or(&lower);
    Ticker::parse(base).ok().map(|t| t.as_str().to_string())
}

/// Where things are in a holdings file.
struct Layout {
    format: HoldingsFormat,
    /// What the output says about lines not read as data.
    notes: Vec<String>,
    header: Vec<String>,
    rows: Vec<Row>,
    ticker_col: usize,
    weight_col: Option<usize>,
    class_col: Option<usize>,
    fund_col: Option<usize>,
}

impl Layout {
    fn read(input: &Input, text: &str) -> Result<Layout, Problem> {
        let Some(t) = Table::read(input, text, is_ticker_header)? else {
            let (rows, notes) = ticker_list(input, text)?;
            return Ok(Layout {
                format: HoldingsFormat::TickerList,
                notes,
                header: vec!["ticker".into()],
                rows,
                ticker_col: 0,
                weight_col: None,
                class_col: None,
                fund_col: None,
            });
        };
        let format = HoldingsFormat::detect(&t);
        let weight_col = match format {
            HoldingsFormat::IShares => t.col(&["Weight (%)", "Weight"]),
            HoldingsFormat::Vanguard => t.col_where(|h| h.starts_with("% of")),
            _ => t.col_where(|h| h.contains("weight")),
        };
        Ok(Layout {
            format,
            notes: t.notes(&input.name),
            ticker_col: t.col(&TICKER_COLUMNS).expect("the header has a ticker column"),
            weight_col,
            class_col: t.col(&["Asset Class", "Security Type", "Asset Type"]),
            fund_col: t.col(&["Fund Ticker"]),
            header: t.header,
            rows: t.rows,
        })
    }

    fn field(&self, col: usize) -> &str {
        &self.header[col]
    }
}

fn parse_file(
    input: &Input,
    etf: Option<&str>,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> Option<GroupInput> {
    let layout = match input.text().and_then(|text| Layout::read(input, text)) {
        Ok(l) => l,
        Err(p) => {
            problems.push(p);
            return None;
        }
    };
    // The fund: --etf, else Invesco's Fund Ticker column, else the file name.
    let fund = etf
        .map(str::to_string)
        .or_else(|| {
            let c = layout.fund_col?;
            layout.rows.first().map(|r| r.get(c).to_string())
        })
        .or_else(|| etf_from_stem(&input.stem()));
    let Some(fund) = fund else {
        problems.push(Problem::file(
            &input.name,
            "cannot tell which ETF this file holds from its name; name it like SPY.csv or spy_holdings.csv, or pass --etf",
        ));
        return None;
    };
    let name = match GroupName::parse(GroupKind::Etf, &fund) {
        Ok(n) => n,
        Err(e) => {
            problems.push(Problem::file(&input.name, e.to_string()));
            return None;
        }
    };

    let ticker_field = layout.field(layout.ticker_col);
    let weight_field = layout.weight_col.map_or("weight", |c| layout.field(c));
    let mut members = MemberSet::default();
    let mut skipped = Vec::new();
    for row in &layout.rows {
        let cell = row.get(layout.ticker_col);
        let skip_reason = match layout.class_col {
            Some(c) if !is_equity_class(row.get(c)) => {
                Some(format!("non-equity row ({} = {})", layout.field(c), row.get(c)))
            }
            _ if cell.is_empty() || cell == "-" || cell == "--" => Some("no ticker (non-equity row)".to_string()),
            _ => None,
        };
        if let Some(reason) = skip_reason {
            skipped.push(SkippedRow { file: input.name.clone(), line: row.line, ticker: cell.to_string(), reason });
            continue;
        }
        let Some(ticker) = ticker_cell(cell, (&input.name, row.line, ticker_field), problems) else {
            continue;
        };
        let raw_weight = weight_cell(row, layout.weight_col, &input.name, weight_field, problems);
        let member = plain_member(cell, &ticker);
        members.add(ticker, member, raw_weight, (&input.name, row.line, ticker_field), problems);
    }
    if members.is_empty() {
        problems.push(Problem::file(&input.name, format!("no holdings found ({} format)", layout.format.label())));
        return None;
    }
    let has_weights = members.has_weights();
    let mut weight_notes = Vec::new();
    let (members, unit) =
        members.finish(weight_field.contains('%'), &input.name, weight_field, problems, &mut weight_notes);
    let checksum = input.checksum();
    let mut metadata = load_metadata("total_holdings", members.len(), &file_name(&input.name), &checksum);
    metadata.insert("format".into(), layout.format.label().into());
    let weights_note = match (has_weights, unit) {
        (false, _) => "no weights",
        (true, WeightUnit::Percent) => "weights in percent",
        (true, WeightUnit::Fraction) => "weights as fractions",
    };
    let skipped_note =
        if skipped.is_empty() { String::new() } else { format!(", {} non-equity rows skipped", skipped.len()) };
    notes.push(format!(
        "{name}: {} format, {} holdings, {weights_note}{skipped_note}",
        layout.format.label(),
        members.len()
    ));
    notes.extend(weight_notes);
    notes.extend(layout.notes);
    Some(GroupInput { kind: GroupKind::Etf, description: name.to_string(), name, metadata, members, skipped, checksum })
}

/// A headerless file of one ticker per line (no line anywhere is a header: [`Table::read`] looked through the
/// whole file first).
pub(crate) fn ticker_list(input: &Input, text: &str) -> Result<(Vec<Row>, Vec<String>), Problem> {
    let mut rows: Vec<Row> = Vec::new();
    let mut blank = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cell = line.trim().trim_matches('"').trim();
        if cell.is_empty() {
            blank.push(i as u64 + 1);
            continue;
        }
        if cell.contains(',') || cell.contains('\t') || cell.contains(';') {
            return Err(Problem::at(
                &input.name,
                i as u64 + 1,
                None,
                "unknown format: no header with a Symbol or Ticker column, and not one ticker per line",
            ));
        }
        rows.push(Row { line: i as u64 + 1, cells: vec![cell.to_string()] });
    }
    // Blank lines among the tickers are reported; trailing ones are not worth a note.
    let last = rows.last().map_or(0, |r| r.line);
    blank.retain(|l| *l < last);
    let notes = if blank.is_empty() {
        Vec::new()
    } else {
        vec![format!("{}: blank lines skipped: {}", file_name(&input.name), super::input::line_list(&blank))]
    };
    Ok((rows, notes))
}
