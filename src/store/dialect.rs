//! Where SQLite's SQL and PostgreSQL's differ, in one place.
//!
//! Both accept `$n` placeholders, `ON CONFLICT … DO UPDATE`, `RETURNING` and multi-row `VALUES`, so most queries
//! are one text. What differs comes in two sizes:
//!
//! - **Fragments**, the methods below: a table of membership rows read from one JSON parameter, a JSON field, a JSON value as text, a list aggregated into one string, a
//!   null-safe comparison, a value's stored size, a float cast, `SKIP LOCKED`. A query asks the backend for the
//!   fragment instead of matching on it.
//! - **Whole strategies**, where one backend has a faster statement the other lacks. Each is a `match` on the
//!   transaction in the function that needs it:
//!   - bars: `COPY` into a staging table on PostgreSQL, batched multi-row inserts on SQLite (`store/bars.rs`);
//!   - membership reads: plain rows on PostgreSQL, one `json_group_array` document on SQLite, whose rows decode
//!     slowly through sqlx (`Reader::load_members`); the snapshot's reads aggregate a group per row on both
//!     (`array_agg` / `json_group_array`, `Tx::snapshot_members`);
//!   - the writers' lock: `BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL
//!     (`Store::begin_write`); a read-only snapshot: `REPEATABLE READ, READ ONLY` on PostgreSQL
//!     (`Store::begin_read`);
//!   - change detection for organize: rows' `xmin` on PostgreSQL, a trigger-kept counter on SQLite
//!     (`Tx::organize_inputs`); change notification: `LISTEN` on PostgreSQL only.

use super::Backend;

impl Backend {
    /// A JSON column's value as text: PostgreSQL renders `jsonb`; SQLite stores the text itself.
    pub(crate) fn json_text(self, column: &str) -> String {
        match self {
            Backend::Postgres => format!("{column}::text"),
            Backend::Sqlite => column.to_string(),
        }
    }

    /// The strings of a JSON array parameter as a subquery, for `IN (…)` with one bound list of any length.
    pub(crate) fn json_list_values(self, param: &str) -> String {
        match self {
            Backend::Postgres => format!("SELECT jsonb_array_elements_text(CAST({param} AS jsonb))"),
            Backend::Sqlite => format!("SELECT value FROM json_each({param})"),
        }
    }

    /// A `FROM` item `u(g, n, s, w, m)` over a JSON array parameter of membership rows (`GroupMember`): group id,
    /// group name, symbol, weight, metadata. Writes of any number of groups are then one statement with one
    /// parameter, prepared once, on both backends.
    pub(crate) fn member_rows(self, param: &str) -> String {
        match self {
            Backend::Postgres => format!(
                "json_to_recordset(CAST({param} AS json)) AS u(g integer, n text, s text, w double precision, m jsonb)"
            ),
            Backend::Sqlite => format!(
                "(SELECT j.value ->> 'g' AS g, j.value ->> 'n' AS n, j.value ->> 's' AS s, j.value ->> 'w' AS w, \
                 j.value -> 'm' AS m FROM json_each({param}) AS j) AS u"
            ),
        }
    }

    /// The ids of `table`'s rows (alias `t`, restricted by `filter`) that match the membership rows of a JSON array
    /// parameter on `pairs` (`t`'s column, `u`'s field: `[("group_id", "g"), ("symbol", "s")]`), for
    /// `WHERE id IN (…)`. PostgreSQL looks each JSON row up through `t`'s index, in a LATERAL subquery the planner
    /// cannot turn around: as a plain `IN`, statistics a load had just outdated made it loop over the table and
    /// parse the JSON once per row (the statement took 1.8 s instead of 60 ms to close 2,236 intervals). SQLite
    /// builds a temporary index of the JSON rows for a plain `IN`, which is what it should do.
    pub(crate) fn matching_ids(self, param: &str, table: &str, filter: &str, pairs: &[(&str, &str)]) -> String {
        let rows = self.member_rows(param);
        match self {
            Backend::Postgres => {
                let on: Vec<String> = pairs.iter().map(|(c, f)| format!("t.{c} = u.{f}")).collect();
                format!(
                    "SELECT t.id FROM {rows} CROSS JOIN LATERAL \
                     (SELECT t.id FROM {table} t WHERE {filter} AND {} OFFSET 0) t",
                    on.join(" AND ")
                )
            }
            Backend::Sqlite => {
                let cols: Vec<String> = pairs.iter().map(|(c, _)| format!("t.{c}")).collect();
                let fields: Vec<String> = pairs.iter().map(|(_, f)| format!("u.{f}")).collect();
                format!(
                    "SELECT t.id FROM {table} t WHERE {filter} AND ({}) IN (SELECT {} FROM {rows})",
                    cols.join(", "),
                    fields.join(", ")
                )
            }
        }
    }

    /// The integers of a JSON array parameter as a subquery, for `IN (…)`.
    pub(crate) fn json_int_values(self, param: &str) -> String {
        match self {
            Backend::Postgres => format!("SELECT CAST(jsonb_array_elements_text(CAST({param} AS jsonb)) AS integer)"),
            Backend::Sqlite => format!("SELECT value FROM json_each({param})"),
        }
    }

    /// One text field of a JSON column.
    pub(crate) fn json_field(self, column: &str, field: &str) -> String {
        match self {
            Backend::Postgres => format!("{column}->>'{field}'"),
            Backend::Sqlite => format!("json_extract({column}, '$.{field}')"),
        }
    }

    /// The group's values joined with the ASCII unit separator (which no stored symbol contains).
    pub(crate) fn list_agg(self, column: &str) -> String {
        match self {
            Backend::Postgres => format!("string_agg({column}, chr(31))"),
            Backend::Sqlite => format!("GROUP_CONCAT({column}, char(31))"),
        }
    }

    /// `=` that holds for two NULLs.
    pub(crate) fn null_safe_eq(self) -> &'static str {
        match self {
            Backend::Postgres => "IS NOT DISTINCT FROM",
            Backend::Sqlite => "IS",
        }
    }

    /// A value's stored size in bytes, read without reading the value (`pg_column_size` / `octet_length`).
    pub(crate) fn stored_size(self, column: &str) -> String {
        match self {
            Backend::Postgres => format!("pg_column_size({column})::bigint"),
            Backend::Sqlite => format!("octet_length({column})"),
        }
    }

    /// Suffix that reads a `numeric` column as a float (SQLite's REAL already is one).
    pub(crate) fn float_cast(self) -> &'static str {
        match self {
            Backend::Postgres => "::float8",
            Backend::Sqlite => "",
        }
    }

    /// Row lock for a claim that concurrent workers must not share (SQLite's single writer needs none).
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }
}

/// Appends ` IN ($a, $b, …)` binding each item: the batched `WHERE … IN` of deletes and history updates on SQLite
/// (PostgreSQL joins one array instead).
pub(crate) fn push_in_list<DB: sqlx::Database>(qb: &mut sqlx::QueryBuilder<DB>, items: &[&str])
where
    for<'x> &'x str: sqlx::Encode<'x, DB> + sqlx::Type<DB>,
{
    qb.push(" IN (");
    let mut sep = qb.separated(", ");
    for item in items {
        sep.push_bind(*item);
    }
    qb.push(")");
}
