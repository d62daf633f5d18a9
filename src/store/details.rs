//! A run's `details` (`load_runs.details`): what the run changed, as one typed record. Loads write the groups and
//! symbols they touched with their state before, which rollback restores and checks later runs against; organize
//! writes the rows it built, which validate trusts and its next run replays; bars loads, imports and refreshes
//! write their summary; `runs N` shows them. The JSON is written only by serialising [`RunDetails`] and read only
//! by [`RunDetails::from_stored`], which knows from the run's kind which part to expect.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{SymbolField, SymbolRow};
use crate::domain::{GroupKind, RunKind};

/// Everything a run records beyond its counts. Each kind of run fills its part; the other parts stay empty and
/// are not written.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunDetails {
    /// Group loads, SIC enrichment and rollbacks: each group written, with its row as it was before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupChange>,
    /// Symbol loads and their rollbacks: the fields written, the symbols added, the rows as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbols: Option<SymbolsChange>,
    /// Organize runs: the rows built (written as the top-level members `rows`, `kept`, `notes`, `inputs`).
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub organize: Option<OrganizeRecord>,
    /// Bars loads and imports, symbol refreshes, document imports: the summary they reported, kept as written for
    /// `runs N`. Nothing reads it back.
    #[serde(flatten)]
    pub summary: Map<String, Value>,
}

/// The part of a run's stored details that its kind should have does not parse.
#[derive(Debug, thiserror::Error)]
#[error("run details of a {kind} run do not parse: {source}")]
pub struct DetailsError {
    kind: RunKind,
    source: serde_json::Error,
}

impl RunDetails {
    /// Details that are only a reported summary (an object's members are kept at the top level, as before).
    pub fn summary(value: &impl Serialize) -> RunDetails {
        let summary = match serde_json::to_value(value) {
            Ok(Value::Object(map)) => map,
            Ok(other) => Map::from_iter([("summary".to_string(), other)]),
            Err(_) => Map::new(),
        };
        RunDetails { summary, ..RunDetails::default() }
    }

    /// Details that record group changes.
    pub fn groups(groups: Vec<GroupChange>) -> RunDetails {
        RunDetails { groups, ..RunDetails::default() }
    }

    /// Reads stored details as the run's kind wrote them.
    pub fn from_stored(kind: RunKind, value: Value) -> Result<RunDetails, DetailsError> {
        let err = |source| DetailsError { kind, source };
        match kind {
            RunKind::Organize => {
                Ok(RunDetails { organize: Some(serde_json::from_value(value).map_err(err)?), ..RunDetails::default() })
            }
            RunKind::Holdings
            | RunKind::Universes
            | RunKind::Sectors
            | RunKind::Themes
            | RunKind::Symbols
            | RunKind::Sync
            | RunKind::Events
            | RunKind::Rollback => {
                #[derive(Deserialize)]
                struct Changes {
                    #[serde(default)]
                    groups: Vec<GroupChange>,
                    symbols: Option<SymbolsChange>,
                }
                let c: Changes = serde_json::from_value(value).map_err(err)?;
                Ok(RunDetails { groups: c.groups, symbols: c.symbols, ..RunDetails::default() })
            }
            RunKind::Bars | RunKind::SymbolsRefresh | RunKind::Import => Ok(RunDetails::summary(&value)),
        }
    }
}

/// What happens to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// New group.
    Created,
    /// Existing group reloaded.
    Updated,
    /// Incremental load: the file's checksum matches the stored one, nothing to do.
    Unchanged,
    /// Not in the input; its members moved to the input's groups (sectors: one per stock).
    Evicted,
    /// Not in the input and `--prune` given: deleted.
    Pruned,
}

/// The group row as it was before a run, so a rollback can put it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupBefore {
    /// Whether the group existed (a rollback deletes one the run created).
    pub existed: bool,
    /// Its description.
    pub description: Option<String>,
    /// Its metadata (`checksum`, `data_source`, …), which incremental loads compare.
    pub metadata: Option<Value>,
    /// TickStock's liquidity filter, kept as found.
    pub liquidity_filter: Option<Value>,
}

/// Counts per group, as printed, as `--json`, and as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field holds
pub struct Counts {
    /// Memberships (or symbols) added.
    pub added: usize,
    pub removed: usize,
    /// Weight or metadata changed.
    pub changed: usize,
    pub unchanged: usize,
    /// Input rows skipped (non-equity lines).
    #[serde(default)]
    pub skipped: usize,
}

/// One group a run wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field holds
pub struct GroupChange {
    #[serde(rename = "type")]
    pub kind: GroupKind,
    pub name: String,
    pub action: Action,
    /// The row as it was, for rollback.
    pub before: GroupBefore,
    pub counts: Counts,
}

/// What a symbol load (or its rollback) wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SymbolsChange {
    /// The columns the input provided (the only ones written, and the ones a rollback restores).
    #[serde(default)]
    pub fields: Vec<SymbolField>,
    /// Symbols that did not exist before (a rollback deletes them).
    #[serde(default)]
    pub added: Vec<String>,
    /// The rows the run changed, as they were.
    #[serde(default)]
    pub before: Vec<SymbolRow>,
}

/// What an organize run built: what validate trusts, and what the next run reports when its inputs are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganizeRecord {
    /// Every row built, in build order.
    #[serde(default)]
    pub rows: Vec<BuiltRecord>,
    /// Rows stored but not defined, kept by `--preserve`.
    #[serde(default)]
    pub kept: Vec<KeptRecord>,
    /// Notes (rows left out because empty, missing groups).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The fingerprint of everything organize read, as the run left it (`Tx::organize_inputs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
}

/// One row organize built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field holds
pub struct BuiltRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub key: String,
    /// Symbols in it.
    pub count: usize,
    /// The group it mirrors, when it is one group's members (validate compares their counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Stored size right after organize wrote it (with `updated_at`, how validate knows nobody changed it since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<NaiveDateTime>,
}

/// A row kept by `--preserve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field holds
pub struct KeptRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub key: String,
    /// Symbols it held.
    pub before: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_keep_their_shape_and_kinds_read_their_part() {
        let d = RunDetails::summary(&serde_json::json!({ "symbols": 3, "rows": 10 }));
        assert_eq!(serde_json::to_value(&d).unwrap(), serde_json::json!({ "symbols": 3, "rows": 10 }));
        let back = RunDetails::from_stored(RunKind::Bars, serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        let org = serde_json::json!({ "rows": [{ "type": "stock_universe", "name": "n", "key": "k", "count": 2 }],
            "kept": [], "notes": ["x"], "inputs": "pg 1" });
        let read = RunDetails::from_stored(RunKind::Organize, org.clone()).unwrap();
        assert_eq!(read.organize.as_ref().unwrap().rows[0].count, 2);
        assert_eq!(serde_json::to_value(&read).unwrap(), org);
        assert!(RunDetails::from_stored(RunKind::Holdings, serde_json::json!({ "groups": 3 })).is_err());
    }
}
