//! Index universe files (`sp500`, `nasdaq100`, `dow30`, `russell3000`, or any `--name`): a ticker column with a
//! `Symbol`/`Ticker` header (other columns, such as the seed format's `name,weight,sector,market_cap` or the S&P
//! constituents file's GICS columns, are allowed), or one ticker per line with no header.

use super::holdings::{TICKER_COLUMNS, is_ticker_header, ticker_list};
use super::input::{Input, Problem, Table};
use super::parsed::{GroupInput, MemberSet, Parsed, file_name, load_metadata, plain_member, ticker_cell, weight_cell};
use crate::domain::{GroupKind, GroupName};

/// Known universes: name, the spellings found in file names, and TickStock's description.
const KNOWN: [(&str, &[&str], &str); 4] = [
    (
        "sp500",
        &["sp500", "sp_500", "s&p500", "spx", "snp500", "gspc"],
        "S&P 500 Index - 500 leading large-cap U.S. companies",
    ),
    (
        "nasdaq100",
        &["nasdaq100", "nasdaq_100", "ndx", "qqq"],
        "NASDAQ-100 Index - 100 largest non-financial companies on NASDAQ",
    ),
    (
        "dow30",
        &["dow30", "dowjones30", "dow_30", "djia", "dowjones", "dow"],
        "Dow Jones Industrial Average - 30 blue-chip U.S. companies",
    ),
    ("russell3000", &["russell3000", "russell_3000", "r3000"], "Russell 3000 Index - the 3,000 largest U.S. companies"),
];

/// The universe a file name names: a known alias (`dowjones30_constituents.csv` → `dow30`) or the stem itself.
pub(crate) fn name_from_stem(stem: &str) -> String {
    let lower = stem.to_ascii_lowercase();
    let base = ["_constituents", "-constituents", "_members", "_holdings"]
        .iter()
        .find_map(|s| lower.strip_suffix(s))
        .unwrap_or(&lower)
        .to_string();
    KNOWN
        .iter()
        .find(|(_, aliases, _)| aliases.contains(&base.as_str()))
        .map_or(base, |(name, _, _)| (*name).to_string())
}

/// Parses universe files into one UNIVERSE group per file.
pub fn parse(inputs: &[Input], name: Option<&str>, problems: &mut Vec<Problem>) -> Parsed {
    let mut out = Parsed::default();
    if name.is_some() && inputs.len() > 1 {
        problems.push(Problem::file(&inputs[0].name, "--name names one universe, but several files were given"));
        return out;
    }
    for input in inputs {
        let before = problems.len();
        let raw_name = name.map_or_else(|| name_from_stem(&input.stem()), str::to_string);
        let group_name = match GroupName::parse(GroupKind::Universe, &raw_name) {
            Ok(n) => n,
            Err(e) => {
                problems.push(Problem::file(&input.name, format!("{e}; pass --name to choose the universe name")));
                continue;
            }
        };
        if let Some(group) = parse_file(input, group_name, problems, &mut out.notes) {
            out.push_group(group, &input.name, problems, before);
        }
    }
    out
}

fn parse_file(
    input: &Input,
    name: GroupName,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> Option<GroupInput> {
    let text = input.text().map_err(|p| problems.push(p)).ok()?;
    // The header may follow preamble lines; with none anywhere, the file is one ticker per line.
    let table = Table::read(input, text, is_ticker_header).map_err(|p| problems.push(p)).ok()?;
    let (rows, ticker_col, weight_col, header, table_notes) = match table {
        Some(t) => {
            let ticker_col = t.col(&TICKER_COLUMNS).expect("header has a ticker column");
            let weight_col = t.col_where(|h| h.contains("weight"));
            let notes = t.notes(&input.name);
            (t.rows, ticker_col, weight_col, t.header, notes)
        }
        None => {
            let (rows, notes) = ticker_list(input, text).map_err(|p| problems.push(p)).ok()?;
            (rows, 0, None, vec!["ticker".to_string()], notes)
        }
    };
    let ticker_field = header[ticker_col].as_str();
    let weight_field = weight_col.map_or("weight", |c| header[c].as_str());
    let mut members = MemberSet::default();
    for row in &rows {
        let Some(ticker) = ticker_cell(row.get(ticker_col), (&input.name, row.line, ticker_field), problems) else {
            continue;
        };
        let raw_weight = weight_cell(row, weight_col, &input.name, weight_field, problems);
        let member = plain_member(row.get(ticker_col), &ticker);
        members.add(ticker, member, raw_weight, (&input.name, row.line, ticker_field), problems);
    }
    if members.is_empty() {
        problems.push(Problem::file(&input.name, "no symbols found"));
        return None;
    }
    let mut weight_notes = Vec::new();
    let (members, _) =
        members.finish(weight_field.contains('%'), &input.name, weight_field, problems, &mut weight_notes);
    let description = KNOWN
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .map_or_else(|| format!("{name} universe"), |(_, _, d)| (*d).to_string());
    let checksum = input.checksum();
    let metadata = load_metadata("total_symbols", members.len(), &file_name(&input.name), &checksum);
    notes.push(format!("{name}: {} symbols", members.len()));
    notes.extend(weight_notes);
    notes.extend(table_notes);
    Some(GroupInput { kind: GroupKind::Universe, name, description, metadata, members, skipped: Vec::new(), checksum })
}
