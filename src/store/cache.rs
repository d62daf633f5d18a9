//! `cache_entries`: TickStock's JSON cache rows (the universe rows are built by `organize`).

use serde_json::Value;
use sqlx::types::Json;

use super::{Conn, Reader, Store, StoreError, Tx, on_conn, on_pool, on_reader};
use crate::domain::Environment;

impl Store {
    /// Values of the rows of a type with a key (case-insensitive), with their names.
    pub async fn cache_values(
        &self,
        env: Environment,
        kind: &str,
        key: &str,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let rows: Vec<(String, Json<Value>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT name, value FROM cache_entries WHERE environment = $1 AND type = $2 AND LOWER(key) = LOWER($3) \
             ORDER BY name",
        )
        .bind(env.as_str())
        .bind(kind)
        .bind(key)
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|(n, v)| (n, v.0)).collect())
    }
}

/// A stored `cache_entries` row: (type, name, key) and its value (`None` when the stored text is not JSON).
pub type CacheRow = (String, String, String, Option<Value>);

impl Store {
    /// Rows of some types in an environment, ordered by type, key, name.
    pub async fn cache_rows(&self, env: Environment, kinds: &[&str]) -> Result<Vec<CacheRow>, StoreError> {
        let rows = self.cache_rows_text(env, kinds).await?;
        Ok(rows.into_iter().map(|(t, n, k, v)| (t, n, k, serde_json::from_str(&v).ok())).collect())
    }

    /// Rows of some types with their values as stored text (SQLite keeps the exact text we wrote, so an
    /// unchanged value can be recognised without parsing it).
    pub async fn cache_rows_text(
        &self,
        env: Environment,
        kinds: &[&str],
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        Reader::Pool(self).cache_rows_text(env, kinds).await
    }
}

impl Reader<'_> {
    /// [`Store::cache_rows_text`], on the pool or inside a transaction.
    pub async fn cache_rows_text(
        &mut self,
        env: Environment,
        kinds: &[&str],
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        let value = self.backend().json_text("value");
        let rows: Vec<(String, String, String, String)> = on_reader!(self, p => {
            let mut qb = sqlx::QueryBuilder::new(format!("SELECT type, name, key, {value} FROM cache_entries WHERE environment = "));
            qb.push_bind(env.as_str()).push(" AND type");
            super::push_in_list(&mut qb, kinds);
            qb.push(" ORDER BY type, key, name");
            qb.build_query_as().fetch_all(p).await?
        });
        Ok(rows)
    }
}

impl Tx {
    /// Inserts or replaces rows by their four-column key, in batches.
    pub async fn upsert_cache_rows(
        &mut self,
        env: Environment,
        rows: &[(&str, &str, &str, &Value)],
        now: chrono::NaiveDateTime,
    ) -> Result<(), StoreError> {
        if !rows.is_empty() {
            self.touch_cache_rows();
        }
        for chunk in rows.chunks(super::BATCH_ROWS) {
            on_conn!(self, c => {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO cache_entries (type, name, key, value, environment, created_at, updated_at) ",
                );
                qb.push_values(chunk, |mut b, (t, n, k, v)| {
                    b.push_bind(*t).push_bind(*n).push_bind(*k).push_bind(Json(*v)).push_bind(env.as_str()).push_bind(now).push_bind(now);
                });
                qb.push(
                    " ON CONFLICT (type, name, key, environment) DO UPDATE SET value = excluded.value, \
                     updated_at = excluded.updated_at",
                );
                qb.build().execute(&mut *c).await?;
            });
        }
        Ok(())
    }

    /// Replaces the environment's `universe_cache_symbols`: each (type, name, key, JSON ticker list) as built for
    /// the `cache_entries` row just written, stamped with that row's fingerprint (read from the row itself, so it
    /// compares equal to what a later read sees, whatever the backend's text form of a timestamp).
    pub async fn replace_cache_symbols(&mut self, env: Environment, lists: &[[String; 4]]) -> Result<(), StoreError> {
        self.touch_cache_rows();
        let size = self.backend().stored_size("c.value");
        on_conn!(self, c => {
            sqlx::query("DELETE FROM universe_cache_symbols WHERE environment = $1")
                .bind(env.as_str())
                .execute(&mut *c)
                .await?;
        });
        for chunk in lists.chunks(super::BATCH_ROWS) {
            on_conn!(self, c => {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO universe_cache_symbols (environment, type, name, key, symbols) ",
                );
                qb.push_values(chunk, |mut b, [t, n, k, s]| {
                    b.push_bind(env.as_str()).push_bind(t.as_str()).push_bind(n.as_str()).push_bind(k.as_str()).push_bind(s.as_str());
                });
                qb.build().execute(&mut *c).await?;
            });
        }
        let stamp = format!(
            "UPDATE universe_cache_symbols AS s SET \
             updated_at = (SELECT c.updated_at FROM cache_entries c WHERE {same}), \
             size = (SELECT {size} FROM cache_entries c WHERE {same}) \
             WHERE s.environment = $1",
            same = "c.environment = s.environment AND c.type = s.type AND c.name = s.name AND c.key = s.key",
        );
        on_conn!(self, c => {
            sqlx::query(sqlx::AssertSqlSafe(stamp)).bind(env.as_str()).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Writes the environment's ticker lists (as [`Tx::replace_cache_symbols`]) only if any is missing or no
    /// longer matches the value stored, for an organize that found nothing else to change.
    pub async fn restore_cache_symbols(&mut self, env: Environment, lists: &[[String; 4]]) -> Result<(), StoreError> {
        if self.current_cache_symbols(env).await? == lists.len() as i64 {
            return Ok(());
        }
        self.replace_cache_symbols(env, lists).await
    }

    /// How many of the environment's ticker lists match the value now stored (see [`list_is_current`]).
    pub async fn current_cache_symbols(&mut self, env: Environment) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM universe_cache_symbols s JOIN cache_entries c ON {} WHERE s.environment = $1",
            list_is_current(self.backend())
        );
        let n: i64 = on_conn!(self, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(env.as_str())
            .fetch_one(&mut *c)
            .await?);
        Ok(n)
    }

    /// Deletes rows by their (type, name, key) in an environment.
    pub async fn delete_cache_rows(&mut self, env: Environment, rows: &[(&str, &str, &str)]) -> Result<(), StoreError> {
        if !rows.is_empty() {
            self.touch_cache_rows();
        }
        for (t, n, k) in rows {
            on_conn!(self, c => {
                sqlx::query("DELETE FROM cache_entries WHERE environment = $1 AND type = $2 AND name = $3 AND key = $4")
                    .bind(env.as_str())
                    .bind(*t)
                    .bind(*n)
                    .bind(*k)
                    .execute(&mut *c)
                    .await?;
            });
        }
        Ok(())
    }
}

/// SQL condition: the ticker list `s` (a `universe_cache_symbols` row) was written for the value the
/// `cache_entries` row `c` holds now — same row, same stored size, same `updated_at`.
pub(crate) fn list_is_current(backend: super::Backend) -> String {
    let same_time = backend.null_safe_eq();
    format!(
        "s.environment = c.environment AND s.type = c.type AND s.name = c.name AND s.key = c.key \
         AND s.size = {size} AND s.updated_at {same_time} c.updated_at",
        size = backend.stored_size("c.value")
    )
}

/// A `cache_entries` row identified without reading its value: its last change and its stored size. Organize
/// records these for the rows it writes, so validate can tell a row nobody has touched since from one that
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct CacheFingerprint {
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub key: String,
    /// `updated_at`.
    pub updated_at: Option<chrono::NaiveDateTime>,
    /// Stored size of the value in bytes (`pg_column_size` / `octet_length`; neither reads the value).
    pub size: i64,
}

impl Tx {
    /// Fingerprints of the rows of some types in an environment, ordered by type, key, name.
    pub async fn cache_fingerprints(
        &mut self,
        env: Environment,
        kinds: &[&str],
    ) -> Result<Vec<CacheFingerprint>, StoreError> {
        Reader::Tx(self).cache_fingerprints(env, kinds).await
    }
}

impl Store {
    /// [`Tx::cache_fingerprints`] on the pool (a read; no transaction, no lock).
    pub async fn cache_fingerprints(
        &self,
        env: Environment,
        kinds: &[&str],
    ) -> Result<Vec<CacheFingerprint>, StoreError> {
        Reader::Pool(self).cache_fingerprints(env, kinds).await
    }
}

impl Reader<'_> {
    /// Fingerprints of the rows of some types in an environment, ordered by type, key, name.
    pub async fn cache_fingerprints(
        &mut self,
        env: Environment,
        kinds: &[&str],
    ) -> Result<Vec<CacheFingerprint>, StoreError> {
        let size = self.backend().stored_size("value");
        let rows = on_reader!(self, c => {
            let mut qb = sqlx::QueryBuilder::new(format!(
                "SELECT type, name, key, updated_at, {size} AS size FROM cache_entries WHERE environment = "
            ));
            qb.push_bind(env.as_str()).push(" AND type");
            super::push_in_list(&mut qb, kinds);
            qb.push(" ORDER BY type, key, name");
            qb.build_query_as().fetch_all(c).await?
        });
        Ok(rows)
    }
}

impl Tx {
    /// Holds off every other writer of what organize reads until this transaction ends. PostgreSQL: `LOCK TABLE …
    /// IN SHARE MODE` (readers go on; writers wait — TickStock's scripts, which do not take our advisory lock,
    /// included), so the state organize builds from is the state its fingerprint records. SQLite: nothing to do,
    /// `BEGIN IMMEDIATE` already excludes every other writer.
    pub async fn lock_organize_inputs(&mut self) -> Result<(), StoreError> {
        if let Conn::Postgres(t) = &mut self.conn {
            sqlx::query(
                "LOCK TABLE symbols, definition_groups, group_memberships, cache_entries, universe_cache_symbols \
                 IN SHARE MODE",
            )
            .execute(&mut **t)
            .await?;
        }
        Ok(())
    }

    /// A fingerprint of everything organize reads — `symbols`, `definition_groups`, `group_memberships`, the
    /// environment's rows of `kinds` in `cache_entries` and its `universe_cache_symbols` — that changes whenever
    /// any of their rows is inserted, updated or deleted, by us or anyone else.
    ///
    /// PostgreSQL: each table's row count with the sum and maximum of its rows' `xmin` (the writing transaction's
    /// id, set by every writer; an update or insert adds a newer id, a delete changes the count). Nothing is added
    /// to TickStock's tables. SQLite: the counter its triggers keep (migration 0007), since only we write that
    /// file and it has no such column. Read under the writers' lock, it stays true until the lock is released.
    pub async fn organize_inputs(&mut self, env: Environment, kinds: &[&str]) -> Result<String, StoreError> {
        let fingerprint: String = match &mut self.conn {
            Conn::Postgres(t) => {
                let part = |table: &str, filter: &str| {
                    format!(
                        "(SELECT count(*) || '.' || coalesce(sum(xmin::text::bigint), 0) || '.' \
                         || coalesce(max(xmin::text::bigint), 0) FROM {table}{filter})"
                    )
                };
                let sql = format!(
                    "SELECT concat_ws(' ', 'pg', {}, {}, {}, {}, {})",
                    part("symbols", ""),
                    part("definition_groups", ""),
                    part("group_memberships", ""),
                    part("cache_entries", " WHERE environment = $1 AND type = ANY($2)"),
                    part("universe_cache_symbols", " WHERE environment = $1"),
                );
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(env.as_str()).bind(kinds).fetch_one(&mut **t).await?
            }
            Conn::Sqlite(t) => {
                sqlx::query_scalar("SELECT 'sqlite ' || changes FROM universe_input_changes WHERE id = 1")
                    .fetch_one(&mut **t)
                    .await?
            }
        };
        Ok(fingerprint)
    }
}
