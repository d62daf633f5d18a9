//! Index history files: a seed roster (`effective_date,ticker`) and dated changes (`date,action,ticker,name,
//! reason`, `action` = `added` | `removed`), as the shared point-in-time data has them. The membership on date T
//! is the seed with every event dated on or before T applied in file order; parsed here into each ticker's
//! membership intervals and the roster after the last event. Every problem — a removal of a non-member, an
//! addition of a member, dates out of order or before the seed, a bad action or date — names its file, line and
//! field, and nothing is loaded.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::input::{Input, Problem, Table};
use crate::domain::Ticker;

/// One membership interval: from its first day to the day it ended (exclusive), open while a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// First day as a member.
    pub from: NaiveDate,
    /// The day of the removal (not a member that day), `None` while still a member.
    pub to: Option<NaiveDate>,
}

/// A parsed history.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The seed roster's date: history starts here.
    pub start: NaiveDate,
    /// Each ticker's intervals, in order.
    pub intervals: BTreeMap<Ticker, Vec<Interval>>,
    /// Members after the last event.
    pub roster: BTreeSet<Ticker>,
    /// Events applied.
    pub events: usize,
    /// The last event's date (the seed's date when there are none).
    pub end: NaiveDate,
}

fn date_cell(input: &Input, line: u64, field: &str, raw: &str, problems: &mut Vec<Problem>) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            problems.push(Problem::at(&input.name, line, Some(field), format!("{raw:?} is not a date (YYYY-MM-DD)")));
            None
        }
    }
}

fn ticker_cell(input: &Input, line: u64, raw: &str, problems: &mut Vec<Problem>) -> Option<Ticker> {
    match Ticker::parse(raw) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(Problem::at(&input.name, line, Some("ticker"), e.to_string()));
            None
        }
    }
}

/// Reads a CSV with the given required columns; a missing column is a problem on the header line.
fn table(input: &Input, columns: &[&str], problems: &mut Vec<Problem>) -> Option<(Table, Vec<usize>)> {
    let text = input.text().map_err(|p| problems.push(p)).ok()?;
    let is_header = |cells: &[String]| cells.iter().any(|c| c.eq_ignore_ascii_case("ticker"));
    let t = match Table::read(input, text, is_header) {
        Ok(Some(t)) => t,
        Ok(None) => {
            problems.push(Problem::file(&input.name, format!("no header line with {}", columns.join(", "))));
            return None;
        }
        Err(p) => {
            problems.push(p);
            return None;
        }
    };
    let mut cols = Vec::new();
    for c in columns {
        match t.col(&[c]) {
            Some(i) => cols.push(i),
            None => {
                problems.push(Problem::at(&input.name, t.header_line, Some(c), format!("no {c:?} column")));
                return None;
            }
        }
    }
    Some((t, cols))
}

/// Parses a seed roster and its changes. `None` (with problems) when anything is wrong.
pub fn parse(seed: &Input, changes: &Input, problems: &mut Vec<Problem>) -> Option<History> {
    let before = problems.len();
    let (seed_table, sc) = table(seed, &["effective_date", "ticker"], problems)?;
    let (changes_table, cc) = table(changes, &["date", "action", "ticker"], problems)?;
    let mut start: Option<NaiveDate> = None;
    let mut members: BTreeMap<Ticker, NaiveDate> = BTreeMap::new();
    for row in &seed_table.rows {
        let date = date_cell(seed, row.line, "effective_date", row.get(sc[0]), problems);
        let ticker = ticker_cell(seed, row.line, row.get(sc[1]), problems);
        let (Some(date), Some(ticker)) = (date, ticker) else { continue };
        match start {
            None => start = Some(date),
            Some(s) if s != date => {
                problems.push(Problem::at(
                    &seed.name,
                    row.line,
                    Some("effective_date"),
                    format!("{date}: a seed roster has one date, and this one's is {s}"),
                ));
                continue;
            }
            Some(_) => {}
        }
        if members.insert(ticker.clone(), date).is_some() {
            problems.push(Problem::at(&seed.name, row.line, Some("ticker"), format!("{ticker} is listed twice")));
        }
    }
    let Some(start) = start else {
        problems.push(Problem::file(&seed.name, "the seed roster has no rows"));
        return None;
    };
    let mut intervals: BTreeMap<Ticker, Vec<Interval>> = BTreeMap::new();
    let mut last = start;
    let mut events = 0;
    for row in &changes_table.rows {
        let Some(date) = date_cell(changes, row.line, "date", row.get(cc[0]), problems) else { continue };
        let Some(ticker) = ticker_cell(changes, row.line, row.get(cc[2]), problems) else { continue };
        let at = |field: &str, why: String| Problem::at(&changes.name, row.line, Some(field), why);
        if date < start {
            problems.push(at("date", format!("{date} is before the seed roster's date {start}")));
            continue;
        }
        if date < last {
            problems.push(at("date", format!("{date} comes after an event of {last}: events must be in date order")));
            continue;
        }
        last = date;
        match row.get(cc[1]).to_ascii_lowercase().as_str() {
            "added" => {
                if let Some(since) = members.get(&ticker) {
                    problems.push(at("action", format!("{ticker} is added but has been a member since {since}")));
                    continue;
                }
                members.insert(ticker, date);
            }
            "removed" => match members.remove(&ticker) {
                Some(from) => intervals.entry(ticker).or_default().push(Interval { from, to: Some(date) }),
                None => {
                    problems.push(at("action", format!("{ticker} is removed on {date} but is not a member then")));
                    continue;
                }
            },
            other => {
                problems.push(at("action", format!("{other:?}: expected added or removed")));
                continue;
            }
        }
        events += 1;
    }
    if problems.len() > before {
        return None;
    }
    let roster: BTreeSet<Ticker> = members.keys().cloned().collect();
    for (ticker, from) in members {
        intervals.entry(ticker).or_default().push(Interval { from, to: None });
    }
    // A ticker removed and added the same day (or added back) keeps its intervals apart; sorted by start.
    for list in intervals.values_mut() {
        list.sort();
    }
    Some(History { start, intervals, roster, events, end: last })
}

impl History {
    /// Members on a date: the seed with every event dated on or before it applied (`None` before the start).
    pub fn members_on(&self, day: NaiveDate) -> Option<BTreeSet<&Ticker>> {
        (day >= self.start).then(|| {
            self.intervals
                .iter()
                .filter(|(_, list)| list.iter().any(|i| i.from <= day && i.to.is_none_or(|to| to > day)))
                .map(|(t, _)| t)
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(seed: &str, changes: &str) -> (Input, Input) {
        (Input::from_bytes("seed.csv", seed), Input::from_bytes("changes.csv", changes))
    }

    #[test]
    fn intervals_and_roster() {
        let (s, c) = inputs(
            "effective_date,ticker\n2005-01-03,AAA\n2005-01-03,LEH\n",
            "date,action,ticker,name,reason\n2008-09-15,removed,LEH,,bankrupt\n2008-09-15,added,BBB,,\n\
             2010-01-04,removed,AAA,,\n2012-01-03,added,AAA,,back\n",
        );
        let mut problems = Vec::new();
        let h = parse(&s, &c, &mut problems).unwrap();
        assert!(problems.is_empty());
        assert_eq!(h.events, 4);
        let t = |s: &str| Ticker::parse(s).unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(h.roster, [t("AAA"), t("BBB")].into_iter().collect());
        assert_eq!(h.intervals[&t("AAA")].len(), 2);
        let on = |day: &str| h.members_on(d(day)).unwrap().into_iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(on("2008-09-12"), ["AAA", "LEH"]);
        assert_eq!(on("2008-09-15"), ["AAA", "BBB"]);
        assert_eq!(on("2011-01-01"), ["BBB"]);
        assert!(h.members_on(d("2004-12-31")).is_none());
    }

    #[test]
    fn every_problem_names_its_line() {
        let (s, c) = inputs(
            "effective_date,ticker\n2005-01-03,AAA\n",
            "date,action,ticker\n2005-02-01,removed,ZZZ\n2005-01-01,added,BBB\n2005-03-01,added,AAA\n\
             2005-02-15,added,CCC\n2005-04-01,moved,DDD\nnot-a-date,added,EEE\n",
        );
        let mut problems = Vec::new();
        assert!(parse(&s, &c, &mut problems).is_none());
        let got: Vec<(u64, &str)> =
            problems.iter().map(|p| (p.line.unwrap(), p.field.as_deref().unwrap_or_default())).collect();
        assert_eq!(got, [(2, "action"), (3, "date"), (4, "action"), (5, "date"), (6, "action"), (7, "date")]);
        assert!(problems[0].reason.contains("ZZZ is removed"), "{}", problems[0].reason);
        assert!(problems[1].reason.contains("before the seed"), "{}", problems[1].reason);
    }
}
