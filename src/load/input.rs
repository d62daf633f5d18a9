//! Input files and the problems found in them.
//!
//! An [`Input`] is a file's name and bytes (read from disk, or embedded sample data). Everything a loader rejects
//! is a [`Problem`] naming the file, line, field and reason; a load collects all of them before deciding, so the
//! operator fixes a file once rather than once per error.

use std::fmt;
use std::path::Path;

use serde::Serialize;

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
        Problem { file: file.to_string(), line: None, field: None, reason: reason.into() }
    }

    /// A problem on a line, optionally in a field.
    pub fn at(file: &str, line: u64, field: Option<&str>, reason: impl Into<String>) -> Problem {
        Problem { file: file.to_string(), line: Some(line), field: field.map(str::to_string), reason: reason.into() }
    }
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
    /// Reads a file from disk.
    pub fn read(path: &Path) -> Result<Input, Problem> {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => Ok(Input { name, bytes, checksum: Default::default() }),
            Err(e) => Err(Problem::file(&name, format!("cannot read file: {e}"))),
        }
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
            return Err(Problem::file(&self.name, "file is binary (contains NUL bytes), not CSV or TOML text"));
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

/// A CSV table found in a file: the header row (possibly after preamble lines) and the data rows up to the first
/// blank line or footer.
#[derive(Debug)]
pub struct Table {
    /// Header cells, trimmed.
    pub header: Vec<String>,
    /// 1-based line of the header.
    pub header_line: u64,
    /// Data rows.
    pub rows: Vec<Row>,
}

/// A data row.
#[derive(Debug)]
pub struct Row {
    /// 1-based line.
    pub line: u64,
    /// Cells, trimmed.
    pub cells: Vec<String>,
}

/// How many lines of preamble we look through for a header.
const HEADER_SEARCH_LINES: usize = 40;

impl Table {
    /// Parses CSV text. The header is the first record among the first lines for which `is_header` holds; lines
    /// before it are preamble. Data ends at the first blank record or at a one-cell footer line (issuer legal
    /// text). Returns `Ok(None)` when no header is found.
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
        let mut rows = Vec::new();
        let mut rec = csv::StringRecord::new();
        for i in 0.. {
            if !rdr.read_record(&mut rec).map_err(|e| csv_problem(input, &e))? {
                break;
            }
            let line = rec.position().map_or(0, |p| line_of(p.byte()));
            // Trims Unicode white space too (the non-breaking space iShares puts on its separator line).
            let cells: Vec<String> = rec.iter().map(|c| c.trim().to_string()).collect();
            let blank = cells.iter().all(String::is_empty);
            match &header {
                None => {
                    if !blank && is_header(&cells) {
                        header = Some((cells, line));
                    } else if i >= HEADER_SEARCH_LINES {
                        return Ok(None);
                    }
                }
                Some((h, _)) => {
                    let filled = cells.iter().filter(|c| !c.is_empty()).count();
                    if blank || (h.len() >= 3 && filled == 1 && cells.len() < h.len()) {
                        break;
                    }
                    if cells.len() != h.len()
                        && !(cells.len() > h.len() && cells[h.len()..].iter().all(String::is_empty))
                    {
                        return Err(Problem::at(
                            &input.name,
                            line,
                            None,
                            format!("expected {} fields as in the header, found {}", h.len(), cells.len()),
                        ));
                    }
                    rows.push(Row { line, cells });
                }
            }
        }
        Ok(header.map(|(header, header_line)| Table { header, header_line, rows }))
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
