//! Index history files: a seed roster (`effective_date,ticker`) and dated changes (`date,action,ticker,name,
//! reason`, `action` = `added` | `removed`), as the shared point-in-time data has them. The membership on date T
//! is the seed with every event dated on or before T applied in file order; parsed here into each ticker's
//! membership intervals and the roster after the last event. Every problem — a removal of a non-member, an
//! addition of a member, dates out of order or before the seed, a bad action or date — names its file, line and
//! field, and nothing is loaded. An event whose "ticker" is not a ticker at all (the shared S&P 400 file has two
//! scraping artifacts) is skipped and listed with its line. A ticker change the file states (a removal whose reason
//! reads `rename → NEW` and NEW's addition that day) is recorded as one security's two tickers (`symbol_aliases`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use super::LoadError;
use super::input::{Input, Problem, Table};
use crate::domain::{Environment, GroupKind, GroupName, RunKind, RunStatus, Ticker};
use crate::store::{
    Action, Counts, GroupBefore, GroupChange, GroupMember, GroupWrite, NewRun, Reader, RunDetails, RunOutcome, Store,
    Tx,
};

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
    /// Events skipped because their "ticker" is not one (scraping artifacts of the source, e.g. the S&P 400
    /// file's `TEMPLATE:INVESTORS EXCHANGE LINK`), with file, line and reason: listed, never silently dropped.
    pub skipped: Vec<Problem>,
    /// Ticker changes the file states (a removal whose reason reads `rename → NEW` and the addition of NEW on
    /// the same day): one security under two tickers, for `symbol_aliases`.
    pub renames: Vec<Rename>,
}

/// One security's ticker change, as an index history states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The day the new ticker starts.
    pub on: NaiveDate,
    /// The ticker until then.
    pub old: Ticker,
    /// The ticker from then on.
    pub new: Ticker,
    /// The company's name, when the file gives it.
    pub name: Option<String>,
}

impl History {
    /// The securities the renames describe, each as its tickers in order with the days it held them: chains
    /// (A → B → C) followed from their first ticker, which names the security (`history:A@<its change>`).
    pub fn alias_chains(&self, source: &str) -> Vec<(String, Vec<crate::store::Alias>)> {
        // A ticker can be renamed more than once over the years (reused by another company in between).
        let mut next: BTreeMap<&Ticker, Vec<&Rename>> = BTreeMap::new();
        for r in &self.renames {
            next.entry(&r.old).or_default().push(r);
        }
        for list in next.values_mut() {
            list.sort_by_key(|r| r.on);
        }
        // A chain starts at a rename whose old ticker no earlier rename produced.
        let starts = self.renames.iter().filter(|r| !self.renames.iter().any(|q| q.new == r.old && q.on <= r.on));
        let mut out = Vec::new();
        for start in starts {
            // Named by its first ticker and that ticker's first change, which later files do not move.
            let id = format!("history:{}@{}", start.old, start.on);
            let (mut ticker, mut from, mut rows) = (&start.old, None, Vec::new());
            let mut seen = BTreeSet::new();
            while seen.insert(ticker) {
                let step = next.get(ticker).and_then(|list| {
                    list.iter().find(|r| from.is_none_or(|f| r.on >= f) && (from.is_some() || r.on >= start.on))
                });
                rows.push(crate::store::Alias {
                    security_id: id.clone(),
                    symbol: ticker.to_string(),
                    valid_from: from,
                    valid_to: step.map(|r| r.on),
                    name: step.and_then(|r| r.name.clone()),
                    source: source.to_string(),
                });
                let Some(r) = step else { break };
                (ticker, from) = (&r.new, Some(r.on));
            }
            let name = rows.iter().rev().find_map(|a| a.name.clone());
            for a in &mut rows {
                a.name = name.clone();
            }
            out.push((id, rows));
        }
        out
    }
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
    let mut skipped = Vec::new();
    let (name_col, reason_col) = (changes_table.col(&["name"]), changes_table.col(&["reason"]));
    // Removals that say `rename → NEW`, and the additions, each by day: paired once the file is read.
    let mut renamed_away: Vec<(NaiveDate, Ticker, String)> = Vec::new();
    let mut added_on: BTreeMap<(NaiveDate, Ticker), Option<String>> = BTreeMap::new();
    for row in &changes_table.rows {
        let Some(date) = date_cell(changes, row.line, "date", row.get(cc[0]), problems) else { continue };
        let ticker = match Ticker::parse(row.get(cc[2])) {
            Ok(t) => t,
            Err(e) => {
                skipped.push(Problem::at(&changes.name, row.line, Some("ticker"), format!("skipped: {e}")));
                continue;
            }
        };
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
                let name = name_col.map(|c| row.get(c).trim().to_string()).filter(|n| !n.is_empty());
                added_on.insert((date, ticker.clone()), name);
                members.insert(ticker, date);
            }
            "removed" => match members.remove(&ticker) {
                Some(from) => {
                    // A rename that corrects the seed's ticker (on the seed's own date, or one the file marks as
                    // a bootstrap-time correction, as the shared S&P 500 file's LEHMQ → LEH) is no ticker change.
                    let reason = reason_col.map(|c| row.get(c)).unwrap_or_default();
                    let correction = date == start || reason.to_ascii_lowercase().contains("bootstrap-time");
                    if let Some(new) = reason.strip_prefix("rename → ").filter(|_| !correction) {
                        let new = new.split(|c: char| c == ':' || c.is_whitespace()).next().unwrap_or_default();
                        renamed_away.push((date, ticker.clone(), new.to_string()));
                    }
                    intervals.entry(ticker).or_default().push(Interval { from, to: Some(date) })
                }
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
    let renames = renamed_away
        .into_iter()
        .filter_map(|(on, old, new)| {
            let new = Ticker::parse(&new).ok()?;
            let name = added_on.get(&(on, new.clone()))?.clone();
            Some(Rename { on, old, new, name })
        })
        .collect();
    Some(History { start, intervals, roster, events, end: last, skipped, renames })
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

/// An index history load: a seed roster and its dated changes onto one UNIVERSE group.
#[derive(Debug, Clone)]
pub struct EventsRequest {
    /// The seed roster (`effective_date,ticker`).
    pub seed: Input,
    /// The changes (`date,action,ticker[,name,reason]`).
    pub changes: Input,
    /// The group.
    pub name: GroupName,
    /// Its environment.
    pub environment: Environment,
    /// Report, write only the run record.
    pub dry_run: bool,
}

/// What an index history load did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct EventsReport {
    /// The `load_runs` id.
    pub run_id: i64,
    /// `applied`, `skipped` (the same history again) or `dry_run`.
    pub status: RunStatus,
    /// `UNIVERSE:name`.
    pub group: String,
    /// The seed's date: `as_of` answers from here on.
    pub start: NaiveDate,
    /// The last event's date.
    pub end: NaiveDate,
    /// Events read.
    pub events: usize,
    /// Membership intervals in the history.
    pub intervals: usize,
    /// Intervals written (new, or changed by newer events).
    pub intervals_added: usize,
    /// Stored intervals the history no longer has (replaced).
    pub intervals_removed: usize,
    /// Members after the last event (the group's members now).
    pub roster: usize,
    /// Members the group had that the roster lacks (from a constituents file, say): they leave the group.
    pub only_in_members: Vec<String>,
    /// Roster members the group lacked: they join it.
    pub only_in_roster: Vec<String>,
    /// Events skipped because their ticker is not one, with file, line and reason.
    pub skipped: Vec<Problem>,
    /// Ticker changes the file states: securities in `symbol_aliases` (`stock/FB/info` then answers for META).
    pub renames: usize,
    /// Securities whose tickers this run wrote (new, or differing from what `symbol_aliases` had).
    pub securities_recorded: usize,
}

/// One interval as compared with the stored rows: symbol, start, end.
type Span<'a> = (&'a str, DateTime<Utc>, Option<DateTime<Utc>>);

/// Midnight UTC of a day: an event dated D holds for the whole of D (`--as-of D` reads the end of D).
fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// Loads an index history: the group's members become the roster after the last event (any disagreement with
/// the members it had is reported, not hidden), and its `membership_history` becomes exactly the history's
/// intervals — only the intervals that differ are deleted or inserted, so loading the same files again changes
/// nothing and a newer changes file adds only its new events. One transaction under the writers' lock.
pub async fn load_events(store: &Store, req: &EventsRequest) -> Result<EventsReport, LoadError> {
    let mut problems = Vec::new();
    let Some(history) = parse(&req.seed, &req.changes, &mut problems) else {
        return Err(LoadError::Invalid { problems, run_id: None });
    };
    let source = format!("{} + {}", req.seed.name, req.changes.name);
    let checksum = format!("{:x}", md5::compute([req.seed.bytes.as_slice(), req.changes.bytes.as_slice()].concat()));
    let run = NewRun {
        kind: RunKind::Events,
        source: &source,
        mode: if req.dry_run { "dry-run" } else { "full" },
        environment: req.environment,
        checksum: Some(&checksum),
        validated: false,
        rollback_of: None,
        started_at: crate::store::now(),
    };
    let kind = GroupKind::Universe;
    let name = req.name.as_str();
    let tx = store.begin_write().await?;
    tx.commit_after(async |tx: &mut Tx| -> Result<EventsReport, LoadError> {
        let mut groups = Reader::Tx(tx).groups_of_kind(req.environment, kind).await?;
        groups.retain(|g| g.name.as_str() == name);
        Reader::Tx(tx).load_members(&mut groups).await?;
        let group = groups.into_iter().next();
        let members: BTreeSet<&Ticker> = group.iter().flat_map(|g| g.members.keys()).collect();
        let roster: BTreeSet<&Ticker> = history.roster.iter().collect();
        let only_in_members: Vec<&str> = members.difference(&roster).map(|t| t.as_str()).collect();
        let only_in_roster: Vec<&str> = roster.difference(&members).map(|t| t.as_str()).collect();
        let wanted: BTreeSet<Span<'_>> = history
            .intervals
            .iter()
            .flat_map(|(t, list)| list.iter().map(move |i| (t.as_str(), start_of(i.from), i.to.map(start_of))))
            .collect();
        let stored = Reader::Tx(tx).history_of(req.environment, kind, name).await?;
        let have: BTreeSet<Span<'_>> = stored.iter().map(|r| (r.symbol.as_str(), r.valid_from, r.valid_to)).collect();
        let delete: Vec<i64> = stored
            .iter()
            .filter(|r| !wanted.contains(&(r.symbol.as_str(), r.valid_from, r.valid_to)))
            .map(|r| r.id)
            .collect();
        let insert: Vec<Span<'_>> = wanted.iter().filter(|w| !have.contains(*w)).copied().collect();
        // The securities the renames describe, where `symbol_aliases` does not have them so already.
        let stored_aliases = tx.snapshot_aliases().await?;
        let aliases: Vec<(String, Vec<crate::store::Alias>)> = history
            .alias_chains(&format!("index history {}", req.changes.name))
            .into_iter()
            .filter(|(id, rows)| {
                let have: Vec<&crate::store::Alias> = stored_aliases.iter().filter(|a| &a.security_id == id).collect();
                have.len() != rows.len()
                    || !rows.iter().all(|r| {
                        have.iter().any(|h| {
                            h.symbol == r.symbol
                                && h.valid_from == r.valid_from
                                && h.valid_to == r.valid_to
                                && h.name == r.name
                        })
                    })
            })
            .collect();
        let changes = !aliases.is_empty()
            || !delete.is_empty()
            || !insert.is_empty()
            || !only_in_members.is_empty()
            || !only_in_roster.is_empty()
            || group.is_none();
        let status = match (req.dry_run, changes) {
            (true, _) => RunStatus::DryRun,
            (false, true) => RunStatus::Applied,
            (false, false) => RunStatus::Skipped,
        };
        let run_id = tx.insert_run(&run).await?;
        let mut change = GroupChange {
            kind,
            name: name.to_string(),
            action: if group.is_some() { Action::Updated } else { Action::Created },
            before: GroupBefore {
                existed: group.is_some(),
                description: group.as_ref().and_then(|g| g.description.clone()),
                metadata: group.as_ref().and_then(|g| g.metadata.clone()),
                liquidity_filter: group.as_ref().and_then(|g| g.liquidity_filter.clone()),
            },
            counts: Counts { added: only_in_roster.len(), removed: only_in_members.len(), ..Counts::default() },
        };
        if status == RunStatus::Applied {
            let now = crate::store::now().naive_utc();
            let mut metadata = group
                .as_ref()
                .and_then(|g| g.metadata.clone())
                .and_then(|m| m.as_object().cloned())
                .unwrap_or_default();
            metadata.insert("history_start".into(), json!(history.start));
            metadata.insert("history_end".into(), json!(history.end));
            metadata.insert("history_events".into(), json!(history.events));
            metadata.insert("history_source".into(), json!(source));
            metadata.insert("total_symbols".into(), json!(history.roster.len()));
            let metadata = serde_json::Value::Object(metadata);
            let description = group.as_ref().and_then(|g| g.description.clone()).unwrap_or_else(|| name.to_string());
            let write = GroupWrite {
                env: req.environment,
                kind,
                name,
                description: Some(&description),
                metadata: Some(&metadata),
                liquidity_filter: None,
            };
            let id = tx.upsert_group(&write, now).await?;
            tx.delete_members(&GroupMember::symbols(id, name, &only_in_members)).await?;
            tx.insert_members(&GroupMember::symbols(id, name, &only_in_roster), now).await?;
            tx.delete_history(&delete).await?;
            let rows: Vec<crate::store::HistoryInterval> = insert
                .iter()
                .map(|(symbol, from, to)| crate::store::HistoryInterval {
                    group_type: kind.as_str().to_string(),
                    group_name: name.to_string(),
                    symbol: symbol.to_string(),
                    weight: None,
                    metadata: None,
                    valid_from: *from,
                    valid_to: *to,
                })
                .collect();
            tx.insert_history(req.environment, &rows).await?;
            for (security, rows) in &aliases {
                tx.replace_aliases(security, rows).await?;
            }
        } else {
            change.counts = Counts::default();
        }
        let outcome = RunOutcome {
            added: insert.len() as i64,
            removed: delete.len() as i64,
            changed: (only_in_members.len() + only_in_roster.len()) as i64,
            details: Some(RunDetails { groups: vec![change], ..RunDetails::default() }),
            ..RunOutcome::new(status)
        };
        tx.finish_run(run_id, &outcome).await?;
        Ok(EventsReport {
            run_id,
            status,
            group: format!("{kind}:{name}"),
            start: history.start,
            end: history.end,
            events: history.events,
            intervals: wanted.len(),
            intervals_added: insert.len(),
            intervals_removed: delete.len(),
            roster: history.roster.len(),
            only_in_members: only_in_members.iter().map(|s| s.to_string()).collect(),
            only_in_roster: only_in_roster.iter().map(|s| s.to_string()).collect(),
            skipped: history.skipped.clone(),
            renames: history.renames.len(),
            securities_recorded: if status == RunStatus::Applied { aliases.len() } else { 0 },
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(seed: &str, changes: &str) -> (Input, Input) {
        (Input::from_bytes("seed.csv", seed), Input::from_bytes("changes.csv", changes))
    }

    /// Renames stated by the file chain into one security (A → B → C), with the days of each ticker; a removal
    /// whose new ticker is not added that day, and a correction on the seed's date, are not renames.
    #[test]
    fn renames_chain_into_securities() {
        let (seed, changes) = inputs(
            "effective_date,ticker\n2010-01-04,AAA\n2010-01-04,XXX\n2010-01-04,OLD\n",
            "date,action,ticker,name,reason\n\
             2010-01-04,removed,OLD,,rename → NEWER: seed fix\n2010-01-04,added,NEWER,,rename ← OLD\n\
             2012-03-01,removed,AAA,,rename → BBB: renamed\n2012-03-01,added,BBB,Bee Corp,rename ← AAA\n\
             2015-06-01,removed,BBB,,rename → CCC: renamed again\n2015-06-01,added,CCC,Cee Corp,rename ← BBB\n\
             2016-01-04,removed,XXX,,rename → YYY: never added\n",
        );
        let h = parse(&seed, &changes, &mut Vec::new()).unwrap();
        assert_eq!(h.renames.len(), 2, "{:?}", h.renames);
        let chains = h.alias_chains("test");
        assert_eq!(chains.len(), 1);
        let (id, rows) = &chains[0];
        assert_eq!(id, "history:AAA@2012-03-01");
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let got: Vec<(&str, Option<NaiveDate>, Option<NaiveDate>)> =
            rows.iter().map(|a| (a.symbol.as_str(), a.valid_from, a.valid_to)).collect();
        assert_eq!(
            got,
            [("AAA", None, d("2012-03-01")), ("BBB", d("2012-03-01"), d("2015-06-01")), ("CCC", d("2015-06-01"), None)]
        );
        assert!(rows.iter().all(|a| a.name.as_deref() == Some("Cee Corp")), "the latest name: {rows:?}");
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
