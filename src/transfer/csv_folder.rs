//! The document as a folder of CSV files: `manifest.json` (format, version, environment), `symbols.csv`,
//! `groups.csv`, `memberships.csv`, `history.csv` and `cache_entries.csv`. Cells holding JSON (metadata, values)
//! carry it as JSON text. Converting document → folder → document is lossless.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CacheDoc, Document, GroupDoc, MemberDoc};
use crate::load::Problem;
use crate::store::{HistoryInterval, SymbolRow};

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    environment: crate::domain::Environment,
}

#[derive(Serialize, Deserialize)]
struct GroupCsv {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    description: Option<String>,
    metadata: Option<String>,
    liquidity_filter: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct MemberCsv {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    symbol: String,
    weight: Option<f64>,
    metadata: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct HistoryCsv {
    group_type: String,
    group_name: String,
    symbol: String,
    weight: Option<f64>,
    metadata: Option<String>,
    valid_from: chrono::DateTime<chrono::Utc>,
    valid_to: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize, Deserialize)]
struct CacheCsv {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    key: String,
    value: String,
}

fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

fn write_csv<T: Serialize>(dir: &Path, file: &str, rows: impl IntoIterator<Item = T>) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join(file)).map_err(std::io::Error::other)?;
    for r in rows {
        w.serialize(r).map_err(std::io::Error::other)?;
    }
    w.flush()
}

/// Writes a document as a folder of CSV files (created if missing).
pub fn write(doc: &Document, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let manifest = Manifest { format: doc.format.clone(), version: doc.version, environment: doc.environment };
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest)? + "\n")?;
    write_csv(dir, "symbols.csv", &doc.symbols)?;
    write_csv(
        dir,
        "groups.csv",
        doc.groups.iter().map(|g| GroupCsv {
            kind: g.kind.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            metadata: json_text(&g.metadata),
            liquidity_filter: json_text(&g.liquidity_filter),
        }),
    )?;
    write_csv(
        dir,
        "memberships.csv",
        doc.groups.iter().flat_map(|g| {
            g.members.iter().map(|m| MemberCsv {
                kind: g.kind.clone(),
                name: g.name.clone(),
                symbol: m.symbol.clone(),
                weight: m.weight,
                metadata: json_text(&m.metadata),
            })
        }),
    )?;
    write_csv(
        dir,
        "history.csv",
        doc.history.iter().map(|h| HistoryCsv {
            group_type: h.group_type.clone(),
            group_name: h.group_name.clone(),
            symbol: h.symbol.clone(),
            weight: h.weight,
            metadata: json_text(&h.metadata),
            valid_from: h.valid_from,
            valid_to: h.valid_to,
        }),
    )?;
    write_csv(
        dir,
        "cache_entries.csv",
        doc.cache_entries.iter().map(|c| CacheCsv {
            kind: c.kind.clone(),
            name: c.name.clone(),
            key: c.key.clone(),
            value: c.value.to_string(),
        }),
    )
}

/// Reads a folder written by [`write`] into a document; problems name the file, line and field.
/// Files larger than `max` bytes are refused.
pub fn read(dir: &Path, max: u64) -> Result<Document, Vec<Problem>> {
    let name = |f: &str| dir.join(f).display().to_string();
    let manifest_path = name("manifest.json");
    let manifest_input = crate::load::Input::read(&dir.join("manifest.json"), max).map_err(|p| vec![p])?;
    let manifest: Manifest = manifest_input.text().map_err(|p| vec![p]).and_then(|t| {
        serde_json::from_str(t).map_err(|e| vec![Problem::at(&manifest_path, e.line() as u64, None, e.to_string())])
    })?;
    let mut problems = Vec::new();
    fn rows<T: for<'de> Deserialize<'de>>(
        dir: &Path,
        file: &str,
        max: u64,
        problems: &mut Vec<Problem>,
    ) -> Vec<(u64, T)> {
        let path = dir.join(file);
        let shown = path.display().to_string();
        if let Ok(m) = std::fs::metadata(&path)
            && m.len() > max
        {
            let reason =
                format!("file is {} bytes, over the {max}-byte input limit (raise it with --max-input-bytes)", m.len());
            problems.push(Problem::file(&shown, reason));
            return Vec::new();
        }
        let mut rdr = match csv::Reader::from_path(&path) {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::file(&shown, format!("cannot read: {e}")));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for r in rdr.deserialize::<T>() {
            match r {
                Ok(v) => out.push((out.len() as u64 + 2, v)),
                Err(e) => {
                    let line = e.position().map(|p| p.line());
                    problems.push(Problem { file: shown.clone(), line, field: None, reason: e.to_string() });
                }
            }
        }
        out
    }
    let json = |file: &str, line: u64, field: &str, text: &str, problems: &mut Vec<Problem>| -> Option<Value> {
        serde_json::from_str(text)
            .map_err(|e| problems.push(Problem::at(&name(file), line, Some(field), format!("not JSON: {e}"))))
            .ok()
    };
    let symbols: Vec<SymbolRow> = rows(dir, "symbols.csv", max, &mut problems).into_iter().map(|(_, r)| r).collect();
    let mut groups: Vec<GroupDoc> = Vec::new();
    for (line, g) in rows::<GroupCsv>(dir, "groups.csv", max, &mut problems) {
        let metadata = g.metadata.as_deref().and_then(|t| json("groups.csv", line, "metadata", t, &mut problems));
        let lf =
            g.liquidity_filter.as_deref().and_then(|t| json("groups.csv", line, "liquidity_filter", t, &mut problems));
        groups.push(GroupDoc {
            kind: g.kind,
            name: g.name,
            description: g.description,
            metadata,
            liquidity_filter: lf,
            members: Vec::new(),
        });
    }
    for (line, m) in rows::<MemberCsv>(dir, "memberships.csv", max, &mut problems) {
        let metadata = m.metadata.as_deref().and_then(|t| json("memberships.csv", line, "metadata", t, &mut problems));
        match groups.iter_mut().find(|g| g.kind == m.kind && g.name == m.name) {
            Some(g) => g.members.push(MemberDoc { symbol: m.symbol, weight: m.weight, metadata }),
            None => problems.push(Problem::at(
                &name("memberships.csv"),
                line,
                Some("name"),
                format!("no group {} {} in groups.csv", m.kind, m.name),
            )),
        }
    }
    let history = rows::<HistoryCsv>(dir, "history.csv", max, &mut problems)
        .into_iter()
        .map(|(line, h)| HistoryInterval {
            metadata: h.metadata.as_deref().and_then(|t| json("history.csv", line, "metadata", t, &mut problems)),
            group_type: h.group_type,
            group_name: h.group_name,
            symbol: h.symbol,
            weight: h.weight,
            valid_from: h.valid_from,
            valid_to: h.valid_to,
        })
        .collect();
    let cache_entries = rows::<CacheCsv>(dir, "cache_entries.csv", max, &mut problems)
        .into_iter()
        .filter_map(|(line, c)| {
            let value = json("cache_entries.csv", line, "value", &c.value, &mut problems)?;
            Some(CacheDoc { kind: c.kind, name: c.name, key: c.key, value })
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Document {
        format: manifest.format,
        version: manifest.version,
        environment: manifest.environment,
        symbols,
        groups,
        history,
        cache_entries,
    })
}
