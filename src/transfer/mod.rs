//! `universe export` / `universe import`: everything this tool owns in one versioned JSON document.
//!
//! The document holds the symbols, the groups with their memberships and weights, the membership history, and
//! the `cache_entries` rows organize manages (never `app_settings` or other types, which may hold secrets). It is
//! deterministic — every list sorted, timestamps at microsecond precision — so export → import into an empty
//! database → export gives the same bytes, on either backend and across them. Import validates the whole
//! document before writing, then applies it in one transaction under the writers' lock: `replace` makes the
//! environment's data exactly the document's, `merge` adds and updates without removing anything.

pub mod csv_folder;

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::{Environment, GroupKind, GroupName, RunKind, RunStatus, Ticker, Weight};
use crate::load::{Input, Problem};
use crate::organize::MANAGED_TYPES;
use crate::store::{
    GroupMember, GroupWrite, HistoryInterval, MemberRow, NewRun, RunOutcome, Store, StoreError, SymbolField, SymbolRow,
    Tx,
};

/// Identifies the document format.
pub const FORMAT: &str = "tickstock-universe";
/// The document version this build writes and reads.
pub const VERSION: u32 = 1;

/// The exported document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The environment exported.
    pub environment: Environment,
    /// Symbol metadata, by symbol.
    pub symbols: Vec<SymbolRow>,
    /// Groups by type and name, members by symbol.
    pub groups: Vec<GroupDoc>,
    /// Membership history, by group, symbol and start.
    pub history: Vec<HistoryInterval>,
    /// Managed `cache_entries` rows, by type, name and key.
    pub cache_entries: Vec<CacheDoc>,
}

/// A group in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupDoc {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub metadata: Option<Value>,
    /// TickStock's liquidity filter.
    pub liquidity_filter: Option<Value>,
    pub members: Vec<MemberDoc>,
}

/// A membership in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct MemberDoc {
    pub symbol: String,
    /// Weight as a fraction.
    pub weight: Option<f64>,
    pub metadata: Option<Value>,
}

/// A `cache_entries` row in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct CacheDoc {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub key: String,
    pub value: Value,
}

/// How an import applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// The environment's groups, history and managed cache rows become exactly the document's; symbols absent
    /// from the document are deleted.
    Replace,
    /// Insert and update only.
    Merge,
}

/// Why an import did not apply.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The document is invalid; nothing was written.
    #[error("{} problem(s) in the document; nothing was imported", .0.len())]
    Invalid(Vec<Problem>),
    /// Storage failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads an environment into a document.
pub async fn export(store: &Store, env: Environment) -> Result<Document, StoreError> {
    let mut symbols: Vec<SymbolRow> = store.symbols().await?.into_values().collect();
    symbols.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let mut groups = Vec::new();
    for kind in GroupKind::ALL {
        for g in store.groups_with_members(env, kind).await? {
            groups.push(GroupDoc {
                kind: kind.to_string(),
                name: g.name.to_string(),
                description: g.description,
                metadata: g.metadata,
                liquidity_filter: g.liquidity_filter,
                members: g
                    .members
                    .into_iter()
                    .map(|(t, m)| MemberDoc {
                        symbol: t.to_string(),
                        weight: m.weight.map(Weight::fraction),
                        metadata: m.metadata,
                    })
                    .collect(),
            });
        }
    }
    groups.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    let mut cache_entries: Vec<CacheDoc> = store
        .cache_rows(env, &MANAGED_TYPES)
        .await?
        .into_iter()
        .filter_map(|(kind, name, key, value)| value.map(|value| CacheDoc { kind, name, key, value }))
        .collect();
    cache_entries.sort_by(|a, b| (&a.kind, &a.name, &a.key).cmp(&(&b.kind, &b.name, &b.key)));
    Ok(Document {
        format: FORMAT.into(),
        version: VERSION,
        environment: env,
        symbols,
        groups,
        history: store.history(env).await?,
        cache_entries,
    })
}

/// Parses and checks a document; every problem names its place (`groups[3].members[5].symbol`).
pub fn parse(input: &Input) -> Result<Document, Vec<Problem>> {
    let text = input.text().map_err(|p| vec![p])?;
    let doc: Document = serde_json::from_str(text)
        .map_err(|e| vec![Problem::at(&input.name, e.line() as u64, None, format!("not a {FORMAT} document: {e}"))])?;
    check(doc, &input.name)
}

/// Reads a document from a JSON file or a folder written by `export --format csv`, and checks it.
/// Files larger than `max` bytes are refused.
pub fn read(path: &std::path::Path, max: u64) -> Result<Document, Vec<Problem>> {
    if path.is_dir() {
        check(csv_folder::read(path, max)?, &path.display().to_string())
    } else {
        parse(&Input::read(path, max).map_err(|p| vec![p])?)
    }
}

/// Checks a document's contents before anything is written; problems name their place.
pub fn check(doc: Document, source: &str) -> Result<Document, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut bad = |field: String, reason: String| {
        problems.push(Problem { file: source.to_string(), line: None, field: Some(field), reason })
    };
    if doc.format != FORMAT {
        bad("format".into(), format!("{:?} is not {FORMAT:?}", doc.format));
    }
    if doc.version != VERSION {
        bad("version".into(), format!("version {} is not supported (this build reads version {VERSION})", doc.version));
    }
    let canonical = |s: &str| Ticker::parse(s).is_ok_and(|t| t.as_str() == s);
    let mut seen = HashSet::new();
    for (i, s) in doc.symbols.iter().enumerate() {
        if !canonical(&s.symbol) {
            bad(format!("symbols[{i}].symbol"), format!("{:?} is not a canonical ticker", s.symbol));
        }
        if !seen.insert(&s.symbol) {
            bad(format!("symbols[{i}].symbol"), format!("{} appears twice", s.symbol));
        }
        for field in SymbolField::ALL {
            if let Some(reason) = field.text(s).and_then(|t| field.too_long(t)) {
                bad(format!("symbols[{i}].{}", field.column()), reason);
            }
        }
    }
    let mut groups = BTreeSet::new();
    for (i, g) in doc.groups.iter().enumerate() {
        match GroupKind::parse(&g.kind) {
            None => bad(format!("groups[{i}].type"), format!("unknown group type {:?}", g.kind)),
            Some(kind) => {
                if !GroupName::parse(kind, &g.name).is_ok_and(|n| n.as_str() == g.name) {
                    bad(format!("groups[{i}].name"), format!("{:?} is not a valid {kind} name", g.name));
                }
            }
        }
        if !groups.insert((&g.kind, &g.name)) {
            bad(format!("groups[{i}]"), format!("{} {} appears twice", g.kind, g.name));
        }
        let mut members = HashSet::new();
        for (j, m) in g.members.iter().enumerate() {
            if !canonical(&m.symbol) {
                bad(format!("groups[{i}].members[{j}].symbol"), format!("{:?} is not a canonical ticker", m.symbol));
            }
            if !members.insert(&m.symbol) {
                bad(
                    format!("groups[{i}].members[{j}].symbol"),
                    format!("{} appears twice in {} {}", m.symbol, g.kind, g.name),
                );
            }
            if m.weight.is_some_and(|w| !(0.0..=1.0).contains(&w)) {
                bad(
                    format!("groups[{i}].members[{j}].weight"),
                    format!("{:?} is not a fraction between 0 and 1", m.weight),
                );
            }
        }
    }
    for (i, h) in doc.history.iter().enumerate() {
        match GroupKind::parse(&h.group_type) {
            None => bad(format!("history[{i}].group_type"), format!("unknown group type {:?}", h.group_type)),
            Some(kind) => {
                if !GroupName::parse(kind, &h.group_name).is_ok_and(|n| n.as_str() == h.group_name) {
                    bad(format!("history[{i}].group_name"), format!("{:?} is not a valid {kind} name", h.group_name));
                }
            }
        }
        if !canonical(&h.symbol) {
            bad(format!("history[{i}].symbol"), format!("{:?} is not a canonical ticker", h.symbol));
        }
        // An open interval is a current membership: its group must be in the document. (A closed one may name a
        // group deleted since; a membership changed outside this tool may have drifted from its interval, which
        // is no reason to refuse a backup.)
        if h.valid_to.is_none() && !groups.contains(&(&h.group_type, &h.group_name)) {
            bad(
                format!("history[{i}]"),
                format!("open interval in {} {}, a group the document does not have", h.group_type, h.group_name),
            );
        }
        if h.weight.is_some_and(|w| !(0.0..=1.0).contains(&w)) {
            bad(format!("history[{i}].weight"), format!("{:?} is not a fraction between 0 and 1", h.weight));
        }
        if h.valid_to.is_some_and(|t| t < h.valid_from) {
            bad(format!("history[{i}].valid_to"), "ends before it starts".into());
        }
    }
    for (i, c) in doc.cache_entries.iter().enumerate() {
        for (field, text) in [("name", &c.name), ("key", &c.key)] {
            let len = text.chars().count();
            if len > 100 {
                bad(
                    format!("cache_entries[{i}].{field}"),
                    format!("{len} characters; cache_entries.{field} holds at most 100"),
                );
            }
        }
        if !MANAGED_TYPES.contains(&c.kind.as_str()) {
            bad(
                format!("cache_entries[{i}].type"),
                format!("{:?}: import writes only {}", c.kind, MANAGED_TYPES.join(", ")),
            );
        }
    }
    if problems.is_empty() { Ok(doc) } else { Err(problems) }
}

/// Applies a checked document to an environment in one transaction; returns the run id.
pub async fn import(
    store: &Store,
    doc: &Document,
    source: &str,
    env: Environment,
    mode: ImportMode,
) -> Result<i64, ImportError> {
    let run = NewRun {
        kind: RunKind::Import,
        source,
        mode: if mode == ImportMode::Replace { "replace" } else { "merge" },
        environment: env,
        checksum: None,
        validated: false,
        rollback_of: None,
        started_at: crate::store::now(),
    };
    let tx = store.begin_write().await?;
    tx.commit_after(async |tx: &mut Tx| apply(store, tx, doc, env, mode, &run).await.map_err(ImportError::from)).await
}

async fn apply(
    store: &Store,
    tx: &mut Tx,
    doc: &Document,
    env: Environment,
    mode: ImportMode,
    run: &NewRun<'_>,
) -> Result<i64, StoreError> {
    let now = crate::store::now().naive_utc();
    let run_id = tx.insert_run(run).await?;
    tx.upsert_symbols(&doc.symbols, &SymbolField::ALL, now).await?;
    let existing_history: HashSet<(String, String, String, chrono::DateTime<chrono::Utc>)> = if mode
        == ImportMode::Replace
    {
        let keep: HashSet<&str> = doc.symbols.iter().map(|s| s.symbol.as_str()).collect();
        let current = store.symbols().await?;
        let absent: Vec<&str> = current.keys().map(String::as_str).filter(|s| !keep.contains(s)).collect();
        tx.delete_symbols(&absent).await?;
        tx.delete_environment_groups(env).await?;
        let managed: Vec<(String, String, String)> =
            store.cache_rows(env, &MANAGED_TYPES).await?.into_iter().map(|(t, n, k, _)| (t, n, k)).collect();
        let managed: Vec<(&str, &str, &str)> =
            managed.iter().map(|(t, n, k)| (t.as_str(), n.as_str(), k.as_str())).collect();
        tx.delete_cache_rows(env, &managed).await?;
        HashSet::new()
    } else {
        store.history(env).await?.into_iter().map(|h| (h.group_type, h.group_name, h.symbol, h.valid_from)).collect()
    };
    for g in &doc.groups {
        let kind = GroupKind::parse(&g.kind).expect("checked when parsed");
        let write = GroupWrite {
            env,
            kind,
            name: &g.name,
            description: g.description.as_deref(),
            metadata: g.metadata.as_ref(),
            liquidity_filter: g.liquidity_filter.as_ref(),
        };
        let id = tx.upsert_group(&write, now).await?;
        let rows: Vec<MemberRow> = g
            .members
            .iter()
            .map(|m| MemberRow {
                symbol: Ticker::parse(&m.symbol).expect("checked when parsed"),
                weight: m.weight.map(Weight::from_fraction),
                metadata: m.metadata.clone(),
            })
            .collect();
        let rows = GroupMember::rows(id, &g.name, &rows);
        match mode {
            ImportMode::Replace => tx.insert_members(&rows, now).await?,
            ImportMode::Merge => tx.upsert_members(&rows, now).await?,
        }
    }
    let history: Vec<HistoryInterval> = doc
        .history
        .iter()
        .filter(|h| {
            !existing_history.contains(&(h.group_type.clone(), h.group_name.clone(), h.symbol.clone(), h.valid_from))
        })
        .cloned()
        .collect();
    tx.insert_history(env, &history).await?;
    let cache: Vec<(&str, &str, &str, &Value)> =
        doc.cache_entries.iter().map(|c| (c.kind.as_str(), c.name.as_str(), c.key.as_str(), &c.value)).collect();
    tx.upsert_cache_rows(env, &cache, now).await?;
    let members: usize = doc.groups.iter().map(|g| g.members.len()).sum();
    let outcome = RunOutcome {
        added: members as i64,
        details: Some(crate::store::RunDetails::summary(&json!({
            "import": { "symbols": doc.symbols.len(), "groups": doc.groups.len(), "memberships": members,
                        "history": history.len(), "cache_entries": doc.cache_entries.len() }
        }))),
        ..RunOutcome::new(RunStatus::Applied)
    };
    tx.finish_run(run_id, &outcome).await?;
    Ok(run_id)
}
