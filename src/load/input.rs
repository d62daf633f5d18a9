//! Input files and the problems found in them.
//!
//! An [`Input`] is a file's name and bytes (read from disk, or embedded sample data). Everything a loader rejects
//! is a [`Problem`] naming the file, line, field and reason; a load collects all of them before deciding, so the
//! operator fixes a file once rather than once per error.

use std::fmt;
use std::path::Path;

use serde::Serialize;

/// Why a file with NUL bytes is refused.
const BINARY: &str = "file is binary (contains NUL bytes), not CSV, TOML or JSON text";

/// The default largest input file (`--max-input-bytes`): 512 MiB, far above any real holdings or universe file.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 512 * 1024 * 1024;

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 { format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64) } else { format!("{n} bytes") }
}

/// A file to load.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as the user gave it (or the sample's name).
    pub name: String,
    /// Raw bytes (the checksum is over these).
    pub bytes: Vec<u8>,
    /// MD5, computed once.
    checksum: std::sync::OnceLock<String>,
}

/// One reason an input is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// File name as given.
    pub file: String,
    /// 1-based line, when the problem is on a line.
    pub line: Option<u64>,
    /// Column or field name, when the problem is in one.
    pub field: Option<String>,
    /// What is wrong and, where it helps, what to do.
    pub reason: String,
}

impl Problem {
    /// A problem with the file as a whole.
    pub fn file(file: &str, reason: impl Into<String>) -> Problem {
        Problem { file: file.to_string(), line: None, field: None, reason: clip(&reason.into(), MAX_REASON) }
    }

    /// A problem on a line, optionally in a field.
    pub fn at(file: &str, line: u64, field: Option<&str>, reason: impl Into<String>) -> Problem {
        Problem {
            file: file.to_string(),
            line: Some(line),
            field: field.map(|f| clip(f, MAX_FIELD_NAME)),
            reason: clip(&reason.into(), MAX_REASON),
        }
    }
}

/// The longest reason kept whole: a problem echoing a 2 MB cell is cut, saying how long the text was.
const MAX_REASON: usize = 500;
/// The longest field (column) name kept whole.
const MAX_FIELD_NAME: usize = 80;

/// `text` if it has at most `max` characters, else its first `max` characters and how long it was.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// Line numbers as short ranges: `3, 7–9, 12`.
pub fn line_list(lines: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j + 1 < lines.len() && lines[j + 1] == lines[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { lines[i].to_string() } else { format!("{}–{}", lines[i], lines[j]) });
        i = j + 1;
    }
    parts.join(", ")
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl Input {
    /// Reads a file from disk, refusing one larger than `max` bytes and stopping at the first NUL byte (a
    /// binary file, or `/dev/zero`), so a wrong path never reads until memory runs out.
    pub fn read(path: &Path, max: u64) -> Result<Input, Problem> {
        use std::io::Read;
        let name = path.display().to_string();
        let too_big = |size: String| {
            Problem::file(
                &name,
                format!("file is {size}, over the {} input limit (raise it with --max-input-bytes)", human_bytes(max)),
            )
        };
        let cannot = |e: std::io::Error| Problem::file(&name, format!("cannot read file: {e}"));
        let mut file = std::fs::File::open(path).map_err(cannot)?;
        let meta = file.metadata().map_err(cannot)?;
        if meta.is_dir() {
            return Err(Problem::file(&name, "is a folder, not a file"));
        }
        if meta.len() > max {
            return Err(too_big(human_bytes(meta.len())));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(cannot(e)),
            };
            if chunk[..n].contains(&0) {
                return Err(Problem::file(&name, BINARY));
            }
            bytes.extend_from_slice(&chunk[..n]);
            if bytes.len() as u64 > max {
                return Err(too_big(format!("more than {}", human_bytes(max))));
            }
        }
        Ok(Input { name, bytes, checksum: Default::default() })
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Input {
        Input { name: name.into(), bytes: bytes.into(), checksum: Default::default() }
    }

    /// MD5 of the bytes, hex — TickStock's `checksum`.
    pub fn checksum(&self) -> String {
        self.checksum.get_or_init(|| format!("{:x}", md5::compute(&self.bytes))).clone()
    }

    /// The text, without a UTF-8 byte-order mark. Empty, binary and non-UTF-8 files are problems.
    pub fn text(&self) -> Result<&str, Problem> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Problem::file(&self.name, "file is empty"));
        }
        if self.bytes.contains(&0) {
            return Err(Problem::file(&self.name, BINARY));
        }
        let text = std::str::from_utf8(&self.bytes).map_err(|e| {
            Problem::file(&self.name, format!("file is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()))
        })?;
        Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
    }

    /// The file name without directories and extension (`spy_holdings` for `data/spy_holdings.csv`).
    pub fn stem(&self) -> String {
        Path::new(&self.name).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// A CSV table found in a file: the header row (possibly after preamble lines), the data rows, and the lines
/// deliberately not read as data, so the output can list them.
#[derive(Debug)]
pub struct Table {
    /// Header cells, trimmed.
    pub header: Vec<String>,
    /// 1-based line of the header.
    pub header_line: u64,
    /// Data rows.
    pub rows: Vec<Row>,
    /// Blank lines among the data rows, skipped.
    pub blank_lines: Vec<u64>,
    /// The trailing block recognised as a footer (issuer legal text, totals, blank lines), skipped: its first
    /// and last line, and its first text.
    pub footer: Option<(u64, u64, String)>,
    /// Header names that appear more than once (the first such column is the one read).
    pub duplicate_columns: Vec<String>,
}

/// A data row.
#[derive(Debug)]
pub struct Row {
    /// 1-based line.
    pub line: u64,
    /// Cells, trimmed.
    pub cells: Vec<String>,
}

/// What a record after the header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordKind {
    /// As many cells as the header (or more, the extra ones empty).
    Data,
    /// A whitespace-only line.
    Blank,
    /// Several cells, all empty (`,,`).
    Empty,
    /// Free text or a totals line: one filled cell of prose, or a first cell starting with "Total".
    FooterText,
    /// Fewer (or more) cells than the header.
    Ragged,
}

impl RecordKind {
    fn of(cells: &[String], header_len: usize) -> RecordKind {
        let filled: Vec<&String> = cells.iter().filter(|c| !c.is_empty()).collect();
        if filled.is_empty() {
            return if cells.len() <= 1 { RecordKind::Blank } else { RecordKind::Empty };
        }
        // A totals line names itself in its first cell ("Total", "Totals:", "Grand total"); a holding whose name
        // merely starts with those letters (TOTALENERGIES) is data.
        let first = filled[0].to_ascii_lowercase();
        let first = first.trim_end_matches(':').trim();
        let totals = matches!(first, "total" | "totals" | "grand total" | "total net assets");
        // Issuer legal text is one long cell of prose; a single short word could be a truncated data row.
        let prose = filled.len() == 1
            && cells.len() < header_len.max(2)
            && (filled[0].split_whitespace().count() >= 3 || filled[0].chars().count() > 30);
        if header_len >= 2 && (prose || totals) {
            return RecordKind::FooterText;
        }
        if cells.len() == header_len || (cells.len() > header_len && cells[header_len..].iter().all(String::is_empty)) {
            RecordKind::Data
        } else {
            RecordKind::Ragged
        }
    }
}

impl Table {
    /// Parses CSV text. The header is the first record anywhere in the file for which `is_header` holds; lines
    /// before it are preamble. After it, whitespace-only lines are skipped (and listed), a trailing block of
    /// blank lines, empty rows, legal text or totals is the footer (skipped and listed), and any other row that
    /// does not have the header's fields is an error naming its line — never a silent end of the data.
    /// Returns `Ok(None)` when no line is a header.
    pub fn read(input: &Input, text: &str, is_header: impl Fn(&[String]) -> bool) -> Result<Option<Table>, Problem> {
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        // Lines come from byte offsets: the reader's own line counter is off by one on CRLF files.
        let line_starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        // On CRLF files a record's start offset can point at the previous line's '\n'; step past line breaks.
        let bytes = text.as_bytes();
        let line_of = |byte: u64| {
            let mut b = byte as usize;
            while bytes.get(b).is_some_and(|c| *c == b'\r' || *c == b'\n') {
                b += 1;
            }
            line_starts.partition_point(|&s| s <= b) as u64
        };
        let mut header: Option<(Vec<String>, u64)> = None;
        // Preamble lines holding one ticker-like cell: in a one-column file they would be tickers above a stray
        // header line, never to be dropped silently.
        let mut tickerish_preamble: Option<u64> = None;
        // Records after the header: line, last line, cells, kind.
        let mut records: Vec<(u64, u64, Vec<String>, RecordKind)> = Vec::new();
        let mut rec = csv::StringRecord::new();
        while rdr.read_record(&mut rec).map_err(|e| csv_problem(input, &e))? {
            let line = rec.position().map_or(0, |p| line_of(p.byte()));
            let end_byte = rdr.position().byte().saturating_sub(1) as usize;
            let last_line = line_starts.partition_point(|&s| s <= end_byte) as u64;
            // Trims Unicode white space too (the non-breaking space iShares puts on its separator line).
            let cells: Vec<String> = rec.iter().map(|c| c.trim().to_string()).collect();
            match &header {
                None => {
                    if cells.iter().any(|c| !c.is_empty()) && is_header(&cells) {
                        header = Some((cells, line));
                    } else if tickerish_preamble.is_none()
                        && cells.iter().filter(|c| !c.is_empty()).count() == 1
                        && crate::domain::Ticker::parse(&cells[0]).is_ok()
                    {
                        tickerish_preamble = Some(line);
                    }
                }
                Some((h, _)) => {
                    let kind = RecordKind::of(&cells, h.len());
                    records.push((line, last_line.max(line), cells, kind));
                }
            }
        }
        let Some((header, header_line)) = header else {
            return Ok(None);
        };
        if header.len() == 1
            && let Some(at) = tickerish_preamble
        {
            return Err(Problem::at(
                &input.name,
                at,
                None,
                format!(
                    "{:?} above the header (line {header_line}) looks like a ticker; in a one-column file the header \
                     must come first (or remove it, for one ticker per line)",
                    text.lines().nth(at as usize - 1).unwrap_or("").trim()
                ),
            ));
        }
        // The footer: the longest trailing run of records that are not data.
        let footer_at = records
            .iter()
            .rposition(|r| !matches!(r.3, RecordKind::Blank | RecordKind::Empty | RecordKind::FooterText))
            .map_or(0, |i| i + 1);
        let text_lines = text.lines().count() as u64;
        // It starts right after the last data row, taking in the empty lines the CSV reader passed over.
        let data_last_line = records[..footer_at].last().map_or(header_line, |r| r.1);
        // Trailing whitespace alone is not worth a note.
        let footer = records[footer_at..]
            .iter()
            .find_map(|r| r.2.iter().find(|c| !c.is_empty()))
            .map(|text| (data_last_line + 1, text_lines, text.clone()));
        let mut rows = Vec::new();
        let mut blank_lines = Vec::new();
        let mut spans = Vec::new();
        for (line, last_line, cells, kind) in records.drain(..footer_at) {
            spans.push((line, last_line));
            match kind {
                RecordKind::Data => rows.push(Row { line, cells }),
                RecordKind::Blank => blank_lines.push(line),
                RecordKind::Empty => {
                    return Err(Problem::at(
                        &input.name,
                        line,
                        None,
                        "empty row (every field is empty) among the data",
                    ));
                }
                RecordKind::FooterText | RecordKind::Ragged => {
                    return Err(Problem::at(
                        &input.name,
                        line,
                        None,
                        format!("expected {} fields as in the header, found {}", header.len(), cells.len()),
                    ));
                }
            }
        }
        // The CSV reader passes over empty lines without a record: find them between the data rows, outside any
        // record (a quoted cell may span lines).
        let data_end = spans.last().map_or(0, |s| s.1);
        for (i, l) in text.lines().enumerate() {
            let n = i as u64 + 1;
            if n > header_line && n <= data_end && l.trim().is_empty() {
                let at = spans.partition_point(|s| s.0 <= n);
                if at == 0 || spans[at - 1].1 < n {
                    blank_lines.push(n);
                }
            }
        }
        blank_lines.sort_unstable();
        blank_lines.dedup();
        let mut duplicate_columns: Vec<String> = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if !h.is_empty()
                && header[..i].iter().any(|p| p.eq_ignore_ascii_case(h))
                && !duplicate_columns.iter().any(|d| d.eq_ignore_ascii_case(h))
            {
                duplicate_columns.push(h.clone());
            }
        }
        Ok(Some(Table { header, header_line, rows, blank_lines, footer, duplicate_columns }))
    }

    /// What the output says about lines not read as data: preamble, blank lines, footer, duplicated columns.
    pub fn notes(&self, file: &str) -> Vec<String> {
        let mut notes = Vec::new();
        let file = super::parsed::file_name(file);
        if self.header_line > 1 {
            let lines: Vec<u64> = (1..self.header_line).collect();
            notes.push(format!("{file}: lines {} before the header skipped (preamble)", line_list(&lines)));
        }
        if !self.blank_lines.is_empty() {
            notes.push(format!("{file}: blank lines skipped: {}", line_list(&self.blank_lines)));
        }
        if let Some((first, last, text)) = &self.footer {
            let range = if first == last { format!("line {first}") } else { format!("lines {first}–{last}") };
            notes.push(format!("{file}: {range} skipped as the footer ({})", clip(text, 60)));
        }
        if !self.duplicate_columns.is_empty() {
            notes.push(format!(
                "warning: {file}: column names appear more than once: {} (the first of each is read)",
                self.duplicate_columns.join(", ")
            ));
        }
        notes
    }

    /// Index of the first column whose trimmed, case-insensitive name is one of `names`.
    pub fn col(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.header.iter().position(|h| h.eq_ignore_ascii_case(n)))
    }

    /// Index of the first column whose lower-cased name satisfies `pred`.
    pub fn col_where(&self, pred: impl Fn(&str) -> bool) -> Option<usize> {
        self.header.iter().position(|h| pred(&h.to_ascii_lowercase()))
    }

    /// Header name of a column.
    pub fn name(&self, col: usize) -> &str {
        &self.header[col]
    }
}

impl Row {
    /// A cell, or `""` when the row is short.
    pub fn get(&self, col: usize) -> &str {
        self.cells.get(col).map_or("", String::as_str)
    }
}

/// Turns a CSV parse error into a problem with its line.
pub fn csv_problem(input: &Input, e: &csv::Error) -> Problem {
    let line = e.position().map(|p| p.line());
    Problem { file: input.name.clone(), line, field: None, reason: format!("malformed CSV: {e}") }
}
