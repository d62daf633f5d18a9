//! Migrating a database that TickStock already uses: nothing lost, UNIVERSE accepted, history backfilled.

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use universe::domain::{Environment, GroupKind};
use universe::load::LoadKind;
use universe::store::{Backend, Store};

use crate::helpers::TestDb;

const TABLES: [&str; 4] = ["definition_groups", "group_memberships", "cache_entries", "symbols"];

async fn dump(c: &mut PgConnection, table: &str) -> Vec<String> {
    // Only the columns TickStock's DDL has, so columns we add do not count as changes.
    let sql = format!("SELECT row_to_json(t)::text FROM (SELECT * FROM {table}) t ORDER BY 1");
    sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(c).await.unwrap()
}

/// Every row survives, the type check accepts UNIVERSE, existing memberships get open history intervals, and
/// our loaders work on the migrated database while keeping TickStock's own metadata keys.
#[tokio::test]
async fn migrates_a_tickstock_database_in_place() {
    if !crate::helpers::postgres_available() {
        return;
    }
    let (url, name) = TestDb::empty_postgres().await;
    let mut c = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(include_str!("../fixtures/tickstock_schema.sql")).execute(&mut c).await.unwrap();
    let universe_rejected =
        sqlx::query("INSERT INTO definition_groups (name, type, environment) VALUES ('x', 'UNIVERSE', 'DEFAULT')")
            .execute(&mut c)
            .await;
    assert!(universe_rejected.unwrap_err().to_string().contains("definition_groups_type_check"));
    let mut before = Vec::new();
    for t in TABLES {
        before.push(dump(&mut c, t).await);
    }

    let store = Store::open(&url).await.expect("migrate a TickStock database");
    store.migrate().await.expect("migrations are idempotent");

    for (t, rows) in TABLES.iter().zip(&before) {
        let after = dump(&mut c, t).await;
        assert_eq!(after.len(), rows.len(), "{t}: row count changed");
        // New columns appear as extra JSON keys; every original key/value must be unchanged.
        for (a, b) in after.iter().zip(rows) {
            let a: serde_json::Value = serde_json::from_str(a).unwrap();
            let b: serde_json::Value = serde_json::from_str(b).unwrap();
            for (k, v) in b.as_object().unwrap() {
                assert_eq!(&a[k], v, "{t}.{k} changed");
            }
        }
    }
    assert_eq!(store.count_rows("membership_history").await.unwrap(), 8, "one open interval per existing membership");

    // UNIVERSE is accepted now, and loads work with the existing rows.
    let inputs = vec![universe::load::Input::from_bytes("dow30.csv", "AAPL\nMSFT\n")];
    let req = universe::load::LoadRequest::new(LoadKind::Universes, inputs, Environment::Default);
    universe::load::run(&store, &req).await.expect("load a universe");
    let sectors = vec![universe::load::Input::from_bytes(
        "s.csv",
        "symbol,sector,industry\nAAPL,Technology,Consumer Electronics\nMSFT,Technology,Software\n",
    )];
    // --prune: the file is the whole classification, so NVDA (not in it) leaves.
    let req = universe::load::LoadRequest { kind: LoadKind::Sectors, inputs: sectors, prune: true, ..req };
    let r = universe::load::run(&store, &req).await.expect("load sectors");
    assert_eq!(
        (r.totals.added, r.totals.removed, r.totals.changed),
        (1, 1, 1),
        "MSFT in, NVDA out, AAPL's industry changed"
    );
    let it = store.groups_with_members(Environment::Default, GroupKind::Sector).await.unwrap().remove(0);
    let meta = it.metadata.unwrap();
    assert_eq!(meta["representative_stocks"][0], "AAPL", "TickStock's own metadata keys survive a reload");
    assert_eq!(meta["industries"], serde_json::json!(["Consumer Electronics", "Software"]));
    assert_eq!(store.backend(), Backend::Postgres);
    let spy_test = store.group_symbols(Environment::Test, GroupKind::Etf, "SPY").await.unwrap();
    assert_eq!(spy_test, ["AAPL"], "other environments are untouched");

    store.close().await;
    c.close().await.unwrap();
    TestDb::drop_postgres(&name).await;
}

/// Migrating an up-to-date database twice is a no-op on both backends.
async fn migrations_are_idempotent(db: &TestDb) {
    db.store.migrate().await.unwrap();
    db.store.migrate().await.unwrap();
    assert_eq!(db.store.count_rows("definition_groups").await.unwrap(), 0);
}

crate::helpers::contract!(migrations_are_idempotent);
