//! What a parser produces from input files: groups with their members, ready to diff against the store.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::input::{Input, Problem};
use crate::domain::{GroupKind, GroupName, RawWeight, Ticker, Weight, WeightUnit};

/// A group as an input file describes it.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupInput {
    pub kind: GroupKind,
    pub name: GroupName,
    /// Description to store.
    pub description: String,
    /// Metadata keys to set (merged over the stored metadata, so keys written by TickStock survive).
    pub metadata: Map<String, Value>,
    /// Members by ticker.
    pub members: BTreeMap<Ticker, MemberInput>,
    /// Input rows deliberately not loaded (cash, futures, money-market lines).
    pub skipped: Vec<SkippedRow>,
    /// MD5 recorded as the group's `checksum`; an incremental load skips the group when it is unchanged.
    pub checksum: String,
}

/// A member read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberInput {
    /// Weight, if the file gives one.
    pub weight: Option<Weight>,
    /// Membership metadata (`{industry}` for sectors).
    pub metadata: Option<Value>,
}

/// A row not loaded, and why.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct SkippedRow {
    pub file: String,
    pub line: u64,
    /// The ticker cell as written.
    pub ticker: String,
    /// Why it was skipped.
    pub reason: String,
}

/// All groups one load produces.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Groups, in input order.
    pub groups: Vec<GroupInput>,
    /// Informational notes for the output (detected format, weight unit, …).
    pub notes: Vec<String>,
    /// A symbol belongs to at most one group of this kind (sectors): loading it into one group removes it from
    /// the others.
    pub exclusive: bool,
}

/// Collects one file's members for one group: reports duplicates (after normalisation) with both lines, and
/// keeps each member's raw weight until the whole file is read, so the unit is decided once per file.
#[derive(Debug, Default)]
pub struct MemberSet {
    members: BTreeMap<Ticker, (MemberInput, u64, Option<RawWeight>)>,
}

impl MemberSet {
    /// Adds a member read on `line`; a ticker seen before is a problem naming both lines.
    pub fn add(
        &mut self,
        ticker: Ticker,
        member: MemberInput,
        raw_weight: Option<RawWeight>,
        at: (&str, u64, &str),
        problems: &mut Vec<Problem>,
    ) {
        let (file, line, field) = at;
        match self.members.entry(ticker) {
            std::collections::btree_map::Entry::Occupied(e) => {
                let reason = format!("duplicate ticker {} (already on line {})", e.key(), e.get().1);
                problems.push(Problem::at(file, line, Some(field), reason));
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert((member, line, raw_weight));
            }
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether any member has a weight.
    pub fn has_weights(&self) -> bool {
        self.members.values().any(|m| m.2.is_some())
    }

    /// Decides the file's weight unit once, then converts and range-checks every weight.
    pub fn finish(
        self,
        header_has_percent: bool,
        file: &str,
        weight_field: &str,
        problems: &mut Vec<Problem>,
        notes: &mut Vec<String>,
    ) -> (BTreeMap<Ticker, MemberInput>, WeightUnit) {
        let unit = WeightUnit::detect(header_has_percent, self.members.values().filter_map(|m| m.2));
        let members: BTreeMap<Ticker, MemberInput> = self
            .members
            .into_iter()
            .map(|(t, (mut m, line, raw))| {
                if let Some(raw) = raw {
                    match Weight::from_raw(raw, unit) {
                        Ok(w) => m.weight = Some(w),
                        Err(e) => problems.push(Problem::at(file, line, Some(weight_field), e.to_string())),
                    }
                }
                (t, m)
            })
            .collect();
        // A fund holds at most 100 %; a file far above (or far below) is a wrong unit or a partial list.
        let weighted: Vec<f64> = members.values().filter_map(|m| m.weight.map(Weight::fraction)).collect();
        let sum: f64 = weighted.iter().sum();
        if !weighted.is_empty() && !(0.9..=1.1).contains(&sum) {
            let hint = if sum > 1.0 { "weights counted twice, or in another unit?" } else { "a partial list?" };
            notes.push(format!(
                "warning: {}: weights sum to {:.2} %, far from 100 % ({hint})",
                file_name(file),
                sum * 100.0
            ));
        }
        (members, unit)
    }
}

/// Membership metadata keeping the ticker as the file wrote it, when it differs from the canonical form by more
/// than case (`BRK/B` stored as `BRK.B`): `{"source_ticker": "BRK/B"}`.
pub fn source_ticker(raw: &str, ticker: &Ticker) -> Option<Map<String, Value>> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case(ticker.as_str()) {
        return None;
    }
    let mut m = Map::new();
    m.insert("source_ticker".into(), Value::from(raw));
    Some(m)
}

/// A member with no weight, keeping the source spelling of its ticker where it differs.
pub fn plain_member(raw: &str, ticker: &Ticker) -> MemberInput {
    MemberInput { weight: None, metadata: source_ticker(raw, ticker).map(Value::Object) }
}

/// Tickers seen so far across all files of a load, for inputs where a symbol may appear once (sectors, symbols).
#[derive(Debug, Default)]
pub struct SeenTickers(std::collections::HashMap<Ticker, (String, u64)>);

impl SeenTickers {
    /// Records a ticker at `file:line`; if it was seen before, says where ("line 3" or "a.csv:3").
    pub fn first_time(&mut self, ticker: &Ticker, file: &str, line: u64) -> Result<(), String> {
        if let Some((f, l)) = self.0.get(ticker) {
            return Err(if f == file { format!("line {l}") } else { format!("{f}:{l}") });
        }
        self.0.insert(ticker.clone(), (file.to_string(), line));
        Ok(())
    }
}

/// Words that name a ticker column; a cell holding one is a header line in the wrong place, never a symbol.
const HEADER_WORDS: [&str; 6] = ["symbol", "ticker", "ticker symbol", "holding ticker", "symbols", "tickers"];

/// Parses a ticker cell at `file:line`, field `field`. A malformed ticker, or a header word (`Symbol`, `Ticker`:
/// a header below preamble lines, or a second header), is a problem.
pub fn ticker_cell(cell: &str, at: (&str, u64, &str), problems: &mut Vec<Problem>) -> Option<Ticker> {
    let (file, line, field) = at;
    if HEADER_WORDS.iter().any(|w| cell.trim().eq_ignore_ascii_case(w)) {
        let reason = format!("{:?} is a column name, not a ticker (a header line among the data?)", cell.trim());
        problems.push(Problem::at(file, line, Some(field), reason));
        return None;
    }
    Ticker::parse(cell).map_err(|e| problems.push(Problem::at(file, line, Some(field), e.to_string()))).ok()
}

/// Reads a row's weight cell, if the file has a weight column; a malformed cell is a problem.
pub fn weight_cell(
    row: &super::input::Row,
    col: Option<usize>,
    file: &str,
    field: &str,
    problems: &mut Vec<Problem>,
) -> Option<RawWeight> {
    match RawWeight::parse(row.get(col?)) {
        Ok(w) => w,
        Err(e) => {
            problems.push(Problem::at(file, row.line, Some(field), e.to_string()));
            None
        }
    }
}

/// Common group metadata: TickStock's `{total_holdings|total_symbols, data_source, last_updated, checksum}`.
pub fn load_metadata(count_key: &str, count: usize, data_source: &str, checksum: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(count_key.to_string(), Value::from(count));
    m.insert("data_source".into(), Value::from(data_source));
    m.insert(
        "last_updated".into(),
        Value::from(chrono::Local::now().naive_local().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
    );
    m.insert("checksum".into(), Value::from(checksum));
    m
}

/// The file name without directories, as TickStock's `data_source`.
pub fn file_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

impl Parsed {
    /// Adds a file's group unless the same group already came from another file of this load, or the file had
    /// problems (`problems_before` is the problem count before the file was read).
    pub fn push_group(&mut self, group: GroupInput, file: &str, problems: &mut Vec<Problem>, problems_before: usize) {
        if let Some(prev) = self.groups.iter().find(|g| g.name == group.name) {
            problems.push(Problem::file(
                file,
                format!(
                    "{} {} is loaded twice in one run (also from {})",
                    group.kind, prev.name, prev.metadata["data_source"]
                ),
            ));
        } else if problems.len() == problems_before {
            self.groups.push(group);
        }
    }
}

/// The parsed input of a group load.
pub struct GroupSource<'a> {
    /// Every group of the input, in input order; in a file-at-a-time source, without members.
    pub parsed: Parsed,
    /// For kinds whose files each hold one group (holdings, universes): how to read the members again a chunk of
    /// files at a time, so a load never holds every file's rows and the whole plan at once.
    pub per_file: Option<PerFile<'a>>,
}

/// Parses some files of a load again (the same parser and options as the first pass).
pub type Reparse<'a> = Box<dyn Fn(&[Input], &mut Vec<Problem>) -> Parsed + Send + Sync + 'a>;

/// A load of one group per file, parsed once to validate everything, then again a chunk at a time to apply.
pub struct PerFile<'a> {
    /// The files, as given.
    pub inputs: &'a [Input],
    /// Index into `inputs` of each group's file.
    pub files: Vec<usize>,
    /// Members of each group (0 for a file not read, being unchanged since the last load).
    pub members: Vec<usize>,
    /// The parser.
    pub parse: Reparse<'a>,
}

impl<'a> GroupSource<'a> {
    /// The whole input parsed at once (sectors and themes, whose checks span files).
    pub fn whole(parsed: Parsed) -> GroupSource<'a> {
        GroupSource { parsed, per_file: None }
    }

    /// Parses one-group files a file at a time, keeping every problem and note but no members. A file whose name
    /// and checksum match what a stored group was loaded from (`unchanged`, incremental loads) is not read: it
    /// was valid when it was loaded.
    pub fn per_file(
        inputs: &'a [Input],
        parse: Reparse<'a>,
        unchanged: impl Fn(&Input) -> Option<GroupInput> + Sync,
        problems: &mut Vec<Problem>,
    ) -> GroupSource<'a> {
        // Each file on its own (in parallel: parsing is most of a large load's CPU), then merged in input order.
        let one = |input: &Input| -> FileResult {
            if let Some(g) = unchanged(input) {
                return FileResult { group: Some((g, 0)), problems: Vec::new(), notes: Vec::new(), not_read: true };
            }
            let mut problems = Vec::new();
            let mut parsed = parse(std::slice::from_ref(input), &mut problems);
            let group = parsed.groups.pop().map(|mut g| {
                let count = g.members.len();
                g.members = BTreeMap::new();
                (g, count)
            });
            FileResult { group, problems, notes: parsed.notes, not_read: false }
        };
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).min(4);
        let per_thread = inputs.len().div_ceil(threads).max(1);
        let results: Vec<FileResult> = std::thread::scope(|s| {
            let handles: Vec<_> = inputs
                .chunks(per_thread)
                .map(|part| s.spawn(|| part.iter().map(one).collect::<Vec<FileResult>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("a parser thread panicked")).collect()
        });
        let mut parsed = Parsed::default();
        let mut files = Vec::new();
        let mut members = Vec::new();
        let mut not_read = 0;
        for (i, (input, r)) in inputs.iter().zip(results).enumerate() {
            let before = problems.len();
            problems.extend(r.problems);
            parsed.notes.extend(r.notes);
            not_read += usize::from(r.not_read);
            let Some((group, count)) = r.group else { continue };
            let n = parsed.groups.len();
            parsed.push_group(group, &input.name, problems, before);
            if parsed.groups.len() > n {
                files.push(i);
                members.push(count);
            }
        }
        if not_read > 0 {
            parsed.notes.push(format!("{not_read} file(s) unchanged since they were loaded: not read again"));
        }
        GroupSource { parsed, per_file: Some(PerFile { inputs, files, members, parse }) }
    }
}

/// What the first pass keeps of one file.
struct FileResult {
    /// Its group, members dropped, and how many it had.
    group: Option<(GroupInput, usize)>,
    problems: Vec<Problem>,
    notes: Vec<String>,
    /// Unchanged since loaded: not parsed.
    not_read: bool,
}

/// A stored group loaded from a file (its `data_source` and `checksum`), as the member-less input that file would
/// parse to again, keyed by (file name, checksum).
pub fn stub_of_stored(g: crate::store::StoredGroup) -> Option<((String, String), GroupInput)> {
    let meta = g.metadata?;
    let Value::Object(metadata) = meta else { return None };
    let source = metadata.get("data_source")?.as_str()?.to_string();
    let checksum = metadata.get("checksum")?.as_str()?.to_string();
    let group = GroupInput {
        kind: g.kind,
        name: g.name,
        description: g.description.unwrap_or_default(),
        metadata,
        members: BTreeMap::new(),
        skipped: Vec::new(),
        checksum: checksum.clone(),
    };
    Some(((source, checksum), group))
}
