//! Sector classification files: `symbol, sector, industry[, industry_group]` in any vocabulary we map (GICS
//! names as in the S&P constituents file, Yahoo/Morningstar names as in FinanceDatabase, TickStock's keys).
//! Every symbol goes to exactly one SECTOR group; its industry goes in the membership metadata. An empty sector
//! means `unknown`; a label we cannot map is an error, never a guess.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::input::{Input, Problem, Table};
use super::parsed::{
    GroupInput, MemberInput, Parsed, SeenTickers, file_name, load_metadata, source_ticker, ticker_cell,
};
use crate::domain::{GroupKind, GroupName, Sector, Ticker};
use crate::store::SymbolField;

const SYMBOL_COLUMNS: [&str; 3] = ["symbol", "ticker", "Holding Ticker"];
const SECTOR_COLUMNS: [&str; 4] = ["sector", "GICS Sector", "sector_key", "gics_sector"];
const INDUSTRY_COLUMNS: [&str; 6] =
    ["industry", "GICS Sub-Industry", "sub_industry", "sub-industry", "gics_sub_industry", "GICS Industry"];
const INDUSTRY_GROUP_COLUMNS: [&str; 3] = ["industry_group", "industry group", "GICS Industry Group"];

/// Combined checksum of several inputs (MD5 of one file's bytes when there is one).
pub fn combined_checksum(inputs: &[Input]) -> String {
    if let [one] = inputs {
        return one.checksum();
    }
    let joined: Vec<String> = inputs.iter().map(Input::checksum).collect();
    format!("{:x}", md5::compute(joined.join(",")))
}

/// Parses classification files into SECTOR groups.
pub fn parse(inputs: &[Input], problems: &mut Vec<Problem>) -> Parsed {
    let mut seen = SeenTickers::default();
    let mut by_sector: BTreeMap<Sector, BTreeMap<Ticker, MemberInput>> = BTreeMap::new();
    let mut notes = Vec::new();
    for input in inputs {
        let Some(text) = input.text().map_err(|p| problems.push(p)).ok() else {
            continue;
        };
        let is_header = |cells: &[String]| {
            let has = |names: &[&str]| cells.iter().any(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)));
            has(&SYMBOL_COLUMNS) && has(&SECTOR_COLUMNS)
        };
        let table = match Table::read(input, text, is_header) {
            Ok(Some(t)) => t,
            Ok(None) => {
                problems.push(Problem::file(
                    &input.name,
                    "unknown format: expected a header with a symbol column and a sector column \
                     (symbol, sector, industry[, industry_group])",
                ));
                continue;
            }
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let sym = table.col(&SYMBOL_COLUMNS).expect("header has a symbol column");
        let sec = table.col(&SECTOR_COLUMNS).expect("header has a sector column");
        let ind = table.col(&INDUSTRY_COLUMNS);
        let grp = table.col(&INDUSTRY_GROUP_COLUMNS);
        notes.extend(table.notes(&input.name));
        for row in &table.rows {
            let Some(ticker) = ticker_cell(row.get(sym), (&input.name, row.line, table.name(sym)), problems) else {
                continue;
            };
            let Some(sector) = Sector::from_label(row.get(sec)) else {
                problems.push(Problem::at(
                    &input.name,
                    row.line,
                    Some(table.name(sec)),
                    format!(
                        "unknown sector label {:?}: use a GICS or Yahoo sector name or a sector key \
                         (e.g. Information Technology, Technology, information_technology), or leave it empty for unknown",
                        row.get(sec)
                    ),
                ));
                continue;
            };
            if let Err(where_) = seen.first_time(&ticker, &input.name, row.line) {
                problems.push(Problem::at(
                    &input.name,
                    row.line,
                    Some(table.name(sym)),
                    format!("duplicate ticker {ticker} (already on {where_}); a stock has exactly one sector"),
                ));
                continue;
            }
            let mut meta = source_ticker(row.get(sym), &ticker).unwrap_or_default();
            for (col, key) in [(ind, "industry"), (grp, "industry_group")] {
                if let Some(c) = col
                    && !row.get(c).is_empty()
                {
                    // The industry also goes to symbols.industry (VARCHAR(100)) when organize or enrich copy it.
                    if let Some(reason) = SymbolField::Industry.too_long(row.get(c)) {
                        problems.push(Problem::at(&input.name, row.line, Some(table.name(c)), reason));
                    }
                    meta.insert(key.into(), Value::from(row.get(c)));
                }
            }
            let metadata = (!meta.is_empty()).then_some(Value::Object(meta));
            by_sector.entry(sector).or_default().insert(ticker, MemberInput { weight: None, metadata });
        }
    }
    let checksum = combined_checksum(inputs);
    let sources: Vec<String> = inputs.iter().map(|i| file_name(&i.name)).collect();
    let mut out = Parsed { exclusive: true, ..Parsed::default() };
    let total: usize = by_sector.values().map(BTreeMap::len).sum();
    out.notes.push(format!(
        "{total} symbols classified into {} sectors ({} unknown)",
        by_sector.keys().filter(|s| **s != Sector::Unknown).count(),
        by_sector.get(&Sector::Unknown).map_or(0, BTreeMap::len)
    ));
    out.notes.extend(notes);
    for (sector, members) in by_sector {
        let industries: BTreeSet<&str> =
            members.values().filter_map(|m| m.metadata.as_ref()?.get("industry")?.as_str()).collect();
        let mut metadata = load_metadata("stock_count", members.len(), &sources.join(","), &checksum);
        metadata.insert("industries".into(), Value::from(industries.into_iter().collect::<Vec<_>>()));
        out.groups.push(GroupInput {
            kind: GroupKind::Sector,
            name: GroupName::parse(GroupKind::Sector, sector.key()).expect("sector keys are valid names"),
            description: sector.description().to_string(),
            metadata,
            members,
            skipped: Vec::new(),
            checksum: checksum.clone(),
        });
    }
    out
}
