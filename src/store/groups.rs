//! Groups, memberships and membership history: reads for loaders and listings, writes inside a [`Tx`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use super::{Backend, Reader, Store, StoreError, Tx, on_conn, on_pool, on_reader};
use crate::domain::{Environment, GroupKind, GroupName, Ticker, Weight};

/// A group as stored, with its members: what a loader diffs its input against.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct StoredGroup {
    /// `definition_groups.id`.
    pub id: i32,
    pub kind: GroupKind,
    pub name: GroupName,
    pub description: Option<String>,
    /// Group metadata (`checksum`, `data_source`, …).
    pub metadata: Option<Value>,
    /// TickStock's liquidity filter, kept as found.
    pub liquidity_filter: Option<Value>,
    /// Number of members (known even when `members` is not loaded).
    pub member_count: usize,
    /// Members by symbol (empty until loaded).
    pub members: BTreeMap<Ticker, StoredMember>,
}

/// One stored membership's payload.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMember {
    /// Weight as a fraction, if known.
    pub weight: Option<Weight>,
    /// Membership metadata (`{industry}` for sectors).
    pub metadata: Option<Value>,
}

/// A membership to write.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct MemberRow {
    pub symbol: Ticker,
    pub weight: Option<Weight>,
    /// Membership metadata.
    pub metadata: Option<Value>,
}

/// A group with its member count, for listings and TickStock's universe dropdown.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupSummary {
    pub name: String,
    /// Kind (`type` in TickStock's JSON).
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    pub member_count: i64,
    pub environment: String,
    pub created_at: Option<NaiveDateTime>,
    /// Last changed.
    pub updated_at: Option<NaiveDateTime>,
}

/// A member with what an operator wants next to it.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct MemberDetail {
    pub symbol: String,
    /// Weight as a fraction.
    pub weight: Option<f64>,
    /// Sector key from the SECTOR groups.
    pub sector: Option<String>,
    /// Industry from the sector membership.
    pub industry: Option<String>,
    /// Company or fund name from `symbols`.
    pub name: Option<String>,
}

type MemberTuple = (i32, String, Option<f64>, Option<Json<Value>>);
type GroupTuple = (i32, String, Option<String>, Option<Json<Value>>, Option<Json<Value>>, i64);

impl Reader<'_> {
    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Reader::Pool(s) => s.backend(),
            Reader::Tx(t) => t.backend(),
        }
    }

    /// Every group of a kind with its member count, members not loaded (see [`Reader::load_members`]).
    pub async fn groups_of_kind(&mut self, env: Environment, kind: GroupKind) -> Result<Vec<StoredGroup>, StoreError> {
        let groups: Vec<GroupTuple> = on_reader!(self, p => sqlx::query_as(
            "SELECT g.id, g.name, g.description, g.metadata, g.liquidity_filter, \
                    (SELECT COUNT(*) FROM group_memberships m WHERE m.group_id = g.id) \
             FROM definition_groups g WHERE g.environment = $1 AND g.type = $2 ORDER BY g.name",
        )
        .bind(env.as_str())
        .bind(kind.as_str())
        .fetch_all(p)
        .await?);
        Ok(groups
            .into_iter()
            .map(|(id, name, description, metadata, lf, count)| StoredGroup {
                id,
                kind,
                name: GroupName::from_stored(name),
                description,
                metadata: metadata.map(|j| j.0),
                liquidity_filter: lf.map(|j| j.0),
                member_count: usize::try_from(count).unwrap_or(0),
                members: BTreeMap::new(),
            })
            .collect())
    }

    /// Fills in the members of groups read by [`Reader::groups_of_kind`]. The rows come back as one JSON array
    /// (one round trip and one parse instead of a decoded row per membership).
    pub async fn load_members(&mut self, groups: &mut [StoredGroup]) -> Result<(), StoreError> {
        if groups.is_empty() {
            return Ok(());
        }
        let ids = serde_json::to_string(&groups.iter().map(|g| g.id).collect::<Vec<i32>>()).expect("ids serialize");
        let sql = match self.backend() {
            Backend::Sqlite => format!(
                "SELECT json_group_array(json_array(m.group_id, m.symbol, m.weight, json(m.metadata))) \
                 FROM group_memberships m WHERE m.group_id IN ({})",
                self.backend().json_int_values("$1")
            ),
            Backend::Postgres => format!(
                "SELECT m.group_id, m.symbol, CAST(m.weight AS DOUBLE PRECISION), m.metadata \
                 FROM group_memberships m WHERE m.group_id IN ({})",
                self.backend().json_int_values("$1")
            ),
        };
        let sql = sqlx::AssertSqlSafe(sql);
        // One JSON document on SQLite (its rows decode slowly through sqlx); plain rows on PostgreSQL.
        let members: Vec<(i32, String, Option<f64>, Option<Value>)> = match self.backend() {
            Backend::Sqlite => {
                let text: String = on_reader!(self, e => sqlx::query_scalar(sql).bind(ids).fetch_one(e).await?);
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("membership rows: {e}")))?
            }
            Backend::Postgres => {
                let rows: Vec<MemberTuple> = on_reader!(self, e => sqlx::query_as(sql).bind(ids).fetch_all(e).await?);
                rows.into_iter().map(|(g, s, w, m)| (g, s, w, m.map(|j| j.0))).collect()
            }
        };
        let index: std::collections::HashMap<i32, usize> = groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        for (gid, symbol, weight, metadata) in members {
            if let Some(&i) = index.get(&gid) {
                groups[i].members.insert(
                    Ticker::from_stored(symbol),
                    StoredMember { weight: weight.map(Weight::from_fraction), metadata },
                );
            }
        }
        Ok(())
    }
}

impl Store {
    /// Refreshes PostgreSQL's planner statistics of the groups and membership tables after a large write (SQLite's planner
    /// needs none for these queries). A failure is logged, not returned: the load is committed.
    pub async fn analyze_memberships(&self) {
        if let Store::Postgres(p) = self
            && let Err(e) =
                sqlx::query("ANALYZE definition_groups, group_memberships, membership_history").execute(p).await
        {
            tracing::warn!(error = %e, "could not refresh the membership tables' statistics");
        }
    }

    /// Every group of a kind in an environment, with members.
    pub async fn groups_with_members(&self, env: Environment, kind: GroupKind) -> Result<Vec<StoredGroup>, StoreError> {
        let mut reader = Reader::Pool(self);
        let mut groups = reader.groups_of_kind(env, kind).await?;
        reader.load_members(&mut groups).await?;
        Ok(groups)
    }

    /// Groups with member counts, optionally of some kinds only, ordered by kind then name.
    pub async fn group_summaries(
        &self,
        env: Environment,
        kinds: &[GroupKind],
    ) -> Result<Vec<GroupSummary>, StoreError> {
        type Row = (String, String, Option<String>, String, Option<NaiveDateTime>, Option<NaiveDateTime>, i64);
        let rows: Vec<Row> = on_pool!(self, p => sqlx::query_as(
            "SELECT g.name, g.type, g.description, g.environment, g.created_at, g.updated_at, COUNT(m.id) \
             FROM definition_groups g LEFT JOIN group_memberships m ON m.group_id = g.id \
             WHERE g.environment = $1 \
             GROUP BY g.id, g.name, g.type, g.description, g.environment, g.created_at, g.updated_at \
             ORDER BY g.type, g.name",
        )
        .bind(env.as_str())
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .filter(|r| kinds.is_empty() || GroupKind::parse(&r.1).is_some_and(|k| kinds.contains(&k)))
            .map(|(name, kind, description, environment, created_at, updated_at, member_count)| GroupSummary {
                name,
                kind,
                description,
                member_count,
                environment,
                created_at,
                updated_at,
            })
            .collect())
    }

    /// Groups whose name matches case-insensitively, with their kinds and exact stored names.
    pub async fn find_groups_named(
        &self,
        env: Environment,
        name: &str,
    ) -> Result<Vec<(GroupKind, String)>, StoreError> {
        let rows: Vec<(String, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT type, name FROM definition_groups WHERE environment = $1 AND LOWER(name) = LOWER($2) \
             ORDER BY type, name",
        )
        .bind(env.as_str())
        .bind(name)
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().filter_map(|(k, n)| GroupKind::parse(&k).map(|k| (k, n))).collect())
    }

    /// Members of one group with weight, sector, industry and name; heaviest first, then by symbol.
    pub async fn group_member_details(
        &self,
        env: Environment,
        kind: GroupKind,
        name: &str,
    ) -> Result<Vec<MemberDetail>, StoreError> {
        let industry = self.backend().json_field("sm.metadata", "industry");
        let sql = format!(
            "SELECT m.symbol, CAST(m.weight AS DOUBLE PRECISION), sg.name, {industry}, s.name \
             FROM group_memberships m \
             JOIN definition_groups g ON g.id = m.group_id \
             LEFT JOIN group_memberships sm ON sm.symbol = m.symbol \
                  AND sm.group_id IN (SELECT id FROM definition_groups WHERE type = 'SECTOR' AND environment = $1) \
             LEFT JOIN definition_groups sg ON sg.id = sm.group_id \
             LEFT JOIN symbols s ON s.symbol = m.symbol \
             WHERE g.environment = $1 AND g.type = $2 AND g.name = $3 \
             ORDER BY m.weight DESC NULLS LAST, m.symbol"
        );
        type Row = (String, Option<f64>, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str())
            .bind(kind.as_str())
            .bind(name)
            .fetch_all(p)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(symbol, weight, sector, industry, name)| MemberDetail { symbol, weight, sector, industry, name })
            .collect())
    }

    /// Distinct members of every ETF and UNIVERSE group (the stocks a sector classification should cover).
    pub async fn index_and_etf_members(&self, env: Environment) -> Result<Vec<String>, StoreError> {
        let rows: Vec<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT DISTINCT m.symbol FROM group_memberships m JOIN definition_groups g ON g.id = m.group_id \
             WHERE g.environment = $1 AND g.type IN ('ETF', 'UNIVERSE') ORDER BY m.symbol",
        )
        .bind(env.as_str())
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// Symbols of one group, sorted.
    pub async fn group_symbols(
        &self,
        env: Environment,
        kind: GroupKind,
        name: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT m.symbol FROM group_memberships m JOIN definition_groups g ON g.id = m.group_id \
             WHERE g.environment = $1 AND g.type = $2 AND g.name = $3 ORDER BY m.symbol",
        )
        .bind(env.as_str())
        .bind(kind.as_str())
        .bind(name)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }

    /// A group's members just before a run: intervals opened before it (or before this service) and not closed
    /// before it (an interval closed without a run — a loaded index history, an import — is closed for good). Run ids order the changes, so clock skew between writers cannot reorder them.
    pub async fn group_members_before_run(
        &self,
        env: Environment,
        kind: GroupKind,
        name: &str,
        run: i64,
    ) -> Result<BTreeMap<Ticker, StoredMember>, StoreError> {
        let rows: Vec<(String, Option<f64>, Option<Json<Value>>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT symbol, CAST(weight AS DOUBLE PRECISION), metadata FROM membership_history \
             WHERE environment = $1 AND group_type = $2 AND group_name = $3 \
               AND (opened_by_run IS NULL OR opened_by_run < $4) \
               AND (closed_by_run >= $4 OR (closed_by_run IS NULL AND valid_to IS NULL))",
        )
        .bind(env.as_str())
        .bind(kind.as_str())
        .bind(name)
        .bind(run)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(s, w, m)| {
                (
                    Ticker::from_stored(s),
                    StoredMember { weight: w.map(Weight::from_fraction), metadata: m.map(|j| j.0) },
                )
            })
            .collect())
    }

    /// The latest instant a group's membership history records (an interval's start or end), if any.
    pub async fn history_latest(
        &self,
        env: Environment,
        kind: GroupKind,
        name: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = on_pool!(self, p => sqlx::query_as(
            "SELECT MAX(valid_from), MAX(valid_to) FROM membership_history \
             WHERE environment = $1 AND group_type = $2 AND group_name = $3",
        )
        .bind(env.as_str())
        .bind(kind.as_str())
        .bind(name)
        .fetch_one(p)
        .await?);
        Ok(from.max(to))
    }

    /// Where a group's membership history begins (its earliest interval), if it has any.
    pub async fn history_start(
        &self,
        env: Environment,
        kind: GroupKind,
        name: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT MIN(valid_from) FROM membership_history WHERE environment = $1 AND group_type = $2 AND group_name = $3",
        )
        .bind(env.as_str())
        .bind(kind.as_str())
        .bind(name)
        .fetch_one(p)
        .await?))
    }

    /// Members of a group as of an instant, from history (point-in-time, survivorship-free).
    pub async fn group_symbols_as_of(
        &self,
        env: Environment,
        kind: GroupKind,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT DISTINCT symbol FROM membership_history \
             WHERE environment = $1 AND group_type = $2 AND group_name = $3 \
               AND valid_from <= $4 AND (valid_to IS NULL OR valid_to > $4) ORDER BY symbol",
        )
        .bind(env.as_str())
        .bind(kind.as_str())
        .bind(name)
        .bind(at)
        .fetch_all(p)
        .await?);
        Ok(rows)
    }
}

/// What a group row should say after a load.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupWrite<'a> {
    pub env: Environment,
    pub kind: GroupKind,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// Full metadata to store.
    pub metadata: Option<&'a Value>,
    /// Liquidity filter to store (`None` keeps the stored one).
    pub liquidity_filter: Option<&'a Value>,
}

impl Tx {
    /// Inserts or updates a group by (name, type, environment); returns its id.
    pub async fn upsert_group(&mut self, g: &GroupWrite<'_>, now: NaiveDateTime) -> Result<i32, StoreError> {
        let id: i32 = on_conn!(self, c => sqlx::query_scalar(
            "INSERT INTO definition_groups \
                 (name, type, description, metadata, liquidity_filter, environment, created_at, updated_at, last_update) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) \
             ON CONFLICT (name, type, environment) DO UPDATE SET \
                 description = excluded.description, metadata = excluded.metadata, \
                 liquidity_filter = COALESCE(excluded.liquidity_filter, definition_groups.liquidity_filter), \
                 updated_at = excluded.updated_at, last_update = excluded.last_update \
             RETURNING id",
        )
        .bind(g.name)
        .bind(g.kind.as_str())
        .bind(g.description)
        .bind(g.metadata.map(Json))
        .bind(g.liquidity_filter.map(Json))
        .bind(g.env.as_str())
        .bind(now)
        .fetch_one(&mut *c)
        .await?);
        self.touch_group_row(id);
        Ok(id)
    }

    /// Deletes a group (its memberships go with it).
    pub async fn delete_group(&mut self, id: i32) -> Result<(), StoreError> {
        self.touch_groups([id]);
        on_conn!(self, c => {
            sqlx::query("DELETE FROM definition_groups WHERE id = $1").bind(id).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Inserts memberships, or updates weight and metadata of existing ones.
    pub async fn upsert_members(&mut self, rows: &[GroupMember<'_>], now: NaiveDateTime) -> Result<(), StoreError> {
        const ON_CONFLICT: &str = " ON CONFLICT (group_id, symbol) DO UPDATE SET weight = excluded.weight, \
             metadata = excluded.metadata, updated_at = excluded.updated_at";
        self.write_members(rows, now, ON_CONFLICT).await
    }

    /// Inserts memberships known to be new (read under the write lock): a plain insert, cheaper than an upsert.
    /// A row written meanwhile by a writer that ignores our lock makes the load fail and roll back.
    pub async fn insert_members(&mut self, rows: &[GroupMember<'_>], now: NaiveDateTime) -> Result<(), StoreError> {
        self.write_members(rows, now, "").await
    }

    /// Writes memberships of any number of groups; `suffix` is the conflict clause, if any.
    async fn write_members(
        &mut self,
        rows: &[GroupMember<'_>],
        now: NaiveDateTime,
        suffix: &str,
    ) -> Result<(), StoreError> {
        self.touch_groups(rows.iter().map(|r| r.group_id));
        let from = self.backend().member_rows("$1");
        let sql = format!(
            "INSERT INTO group_memberships (group_id, symbol, weight, metadata, added_at, updated_at) \
             SELECT u.g, u.s, u.w, u.m, $2, $2 FROM {from} WHERE true{suffix}"
        );
        for chunk in rows.chunks(JSON_ROWS) {
            let json = member_json(chunk);
            on_conn!(self, c => {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(json).bind(now).execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Deletes memberships (by group and symbol; weights and metadata are not compared).
    pub async fn delete_members(&mut self, rows: &[GroupMember<'_>]) -> Result<(), StoreError> {
        self.touch_groups(rows.iter().map(|r| r.group_id));
        let ids = self.backend().matching_ids("$1", "group_memberships", "true", &[("group_id", "g"), ("symbol", "s")]);
        let sql = format!("DELETE FROM group_memberships WHERE id IN ({ids})");
        for chunk in rows.chunks(JSON_ROWS) {
            let json = member_json(chunk);
            on_conn!(self, c => {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(json).execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Closes the open history intervals of memberships (by group name and symbol).
    pub async fn close_history(
        &mut self,
        env: Environment,
        kind: GroupKind,
        rows: &[GroupMember<'_>],
        at: DateTime<Utc>,
        run: i64,
    ) -> Result<(), StoreError> {
        if !rows.is_empty() {
            self.touch_history();
        }
        let ids = self.backend().matching_ids(
            "$5",
            "membership_history",
            "t.valid_to IS NULL AND t.environment = $3 AND t.group_type = $4",
            &[("group_name", "n"), ("symbol", "s")],
        );
        let sql = format!("UPDATE membership_history SET valid_to = $1, closed_by_run = $2 WHERE id IN ({ids})");
        for chunk in rows.chunks(JSON_ROWS) {
            let json = member_json(chunk);
            on_conn!(self, c => {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(at)
                    .bind(run)
                    .bind(env.as_str())
                    .bind(kind.as_str())
                    .bind(json)
                    .execute(&mut *c)
                    .await?;
            });
        }
        Ok(())
    }

    /// Opens history intervals for memberships that start now.
    pub async fn open_history(
        &mut self,
        env: Environment,
        kind: GroupKind,
        rows: &[GroupMember<'_>],
        at: DateTime<Utc>,
        run: i64,
    ) -> Result<(), StoreError> {
        if !rows.is_empty() {
            self.touch_history();
        }
        let from = self.backend().member_rows("$3");
        let sql = format!(
            "INSERT INTO membership_history \
             (environment, group_type, group_name, symbol, weight, metadata, valid_from, opened_by_run) \
             SELECT $1, $2, u.n, u.s, u.w, u.m, $4, $5 FROM {from}"
        );
        for chunk in rows.chunks(JSON_ROWS) {
            let json = member_json(chunk);
            on_conn!(self, c => {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(env.as_str())
                    .bind(kind.as_str())
                    .bind(json)
                    .bind(at)
                    .bind(run)
                    .execute(&mut *c)
                    .await?;
            });
        }
        Ok(())
    }
}

/// Rows per membership statement: one JSON document of a few megabytes.
const JSON_ROWS: usize = 50_000;

/// One membership in a write of several groups: the group (id for `group_memberships`, name for
/// `membership_history`) and the row.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GroupMember<'a> {
    /// `group_memberships.group_id`.
    #[serde(rename = "g")]
    pub group_id: i32,
    /// `membership_history.group_name`.
    #[serde(rename = "n")]
    pub group: &'a str,
    #[serde(rename = "s")]
    #[allow(missing_docs)]
    pub symbol: &'a str,
    /// As a fraction.
    #[serde(rename = "w", skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(rename = "m", skip_serializing_if = "Option::is_none")]
    #[allow(missing_docs)]
    pub metadata: Option<&'a Value>,
}

impl<'a> GroupMember<'a> {
    /// A row of a group.
    pub fn row(group_id: i32, group: &'a str, r: &'a MemberRow) -> GroupMember<'a> {
        GroupMember {
            group_id,
            group,
            symbol: r.symbol.as_str(),
            weight: r.weight.map(Weight::fraction),
            metadata: r.metadata.as_ref(),
        }
    }

    /// A symbol of a group, for deletes and history closes.
    pub fn symbol(group_id: i32, group: &'a str, symbol: &'a str) -> GroupMember<'a> {
        GroupMember { group_id, group, symbol, weight: None, metadata: None }
    }

    /// Rows of one group.
    pub fn rows(group_id: i32, group: &'a str, rows: &'a [MemberRow]) -> Vec<GroupMember<'a>> {
        rows.iter().map(|r| GroupMember::row(group_id, group, r)).collect()
    }

    /// Symbols of one group.
    pub fn symbols(group_id: i32, group: &'a str, symbols: &[&'a str]) -> Vec<GroupMember<'a>> {
        symbols.iter().map(|s| GroupMember::symbol(group_id, group, s)).collect()
    }
}

/// Rows as one JSON array, the parameter [`Backend::member_rows`] reads.
fn member_json(rows: &[GroupMember<'_>]) -> String {
    serde_json::to_string(rows).expect("membership rows serialize")
}

/// A stored history interval of one group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryRow {
    /// `membership_history.id`.
    pub id: i64,
    /// The member.
    pub symbol: String,
    /// Start.
    pub valid_from: DateTime<Utc>,
    /// End (exclusive); `None` while open.
    pub valid_to: Option<DateTime<Utc>>,
}

impl Reader<'_> {
    /// Every history interval of one group.
    pub async fn history_of(
        &mut self,
        env: Environment,
        kind: GroupKind,
        name: &str,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        Ok(on_reader!(self, c => sqlx::query_as(
            "SELECT id, symbol, valid_from, valid_to FROM membership_history \
             WHERE environment = $1 AND group_type = $2 AND group_name = $3 ORDER BY symbol, valid_from",
        )
        .bind(env.as_str())
        .bind(kind.as_str())
        .bind(name)
        .fetch_all(c)
        .await?))
    }
}

impl Tx {
    /// Deletes history intervals by id.
    pub async fn delete_history(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        if !ids.is_empty() {
            self.touch_history();
        }
        for chunk in ids.chunks(super::BATCH_ROWS) {
            on_conn!(self, c => {
                let mut qb = sqlx::QueryBuilder::new("DELETE FROM membership_history WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(&mut *c).await?;
            });
        }
        Ok(())
    }
}
