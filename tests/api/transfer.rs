//! `universe export` / `universe import`: a lossless round trip on and across backends; invalid documents write
//! nothing; replace and merge.

use universe::domain::{Environment, GroupKind};
use universe::load::{Input, LoadKind, Mode, rollback};
use universe::organize::{self, OrganizeRequest};
use universe::store::Backend;
use universe::transfer::{self, Document, ImportMode};

use crate::helpers::{TestDb, contract};

/// Loads of every kind, a rollback (so history has closed intervals) and an organize run.
async fn seed(db: &TestDb) {
    db.load_ok(LoadKind::Symbols, &[("s.csv", "symbol,name,type,exchange,market_cap,list_date,active\nAAPL,Apple,CS,XNAS,3000000000000,1980-12-12,true\nMSFT,Microsoft,CS,XNAS,2900000000000,,\nSPY,SPDR,ETF,ARCX,,,false\n")], Mode::Full).await;
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\n")], Mode::Full).await;
    db.load_ok(
        LoadKind::Sectors,
        &[("s.csv", "symbol,sector,industry\nAAPL,Technology,Hardware\nMSFT,Technology,Software\n")],
        Mode::Full,
    )
    .await;
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,6.52\nBRK/B,1.5\n")], Mode::Full).await;
    let r = db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,7\nMSFT,3\n")], Mode::Full).await;
    rollback(&db.store, r.run_id).await.unwrap();
    let text = std::str::from_utf8(universe::sample::THEMES_TOML.1).unwrap();
    db.load_ok(LoadKind::Themes, &[("themes.toml", text)], Mode::Full).await;
    let defs = organize::definitions::parse(&Input::from_bytes("d", organize::DEFAULT_DEFINITIONS.1)).unwrap();
    let req = OrganizeRequest {
        definitions: defs,
        preserve: false,
        dry_run: false,
        environment: Environment::Default,
        force: false,
    };
    organize::run(&db.store, &req).await.unwrap();
    db.exec("INSERT INTO cache_entries (type, name, key, value, environment) VALUES ('app_settings', 'app_settings', 'SECRET_KEY', '\"s3cret\"', 'DEFAULT')").await;
}

async fn export_text(db: &TestDb) -> String {
    serde_json::to_string_pretty(&transfer::export(&db.store, Environment::Default).await.unwrap()).unwrap()
}

async fn import_text(db: &TestDb, text: &str, mode: ImportMode) -> i64 {
    let doc = transfer::parse(&Input::from_bytes("doc.json", text)).unwrap_or_else(|p| panic!("{p:#?}"));
    transfer::import(&db.store, &doc, "doc.json", Environment::Default, mode).await.unwrap()
}

/// export → import into an empty database → export gives the same document; secrets are not exported.
async fn round_trip(db: &TestDb) {
    seed(db).await;
    let first = export_text(db).await;
    assert!(!first.contains("s3cret"), "app_settings must not be exported");
    let doc: Document = serde_json::from_str(&first).unwrap();
    assert!(doc.history.iter().any(|h| h.valid_to.is_some()), "closed intervals are exported");
    assert!(doc.groups.iter().any(|g| g.kind == "ETF" && g.members.iter().any(|m| m.weight == Some(0.0652))));
    let backend = match &db.store {
        universe::store::Store::Sqlite(_) => Backend::Sqlite,
        universe::store::Store::Postgres(_) => Backend::Postgres,
    };
    let other = TestDb::new(backend).await;
    import_text(&other, &first, ImportMode::Replace).await;
    assert_eq!(export_text(&other).await, first);
    other.cleanup().await;
}

/// Replace makes the environment's data the document's; merge only adds and updates; other types stay.
async fn replace_and_merge(db: &TestDb) {
    seed(db).await;
    let doc = export_text(db).await;
    db.load_ok(LoadKind::Holdings, &[("qqq.csv", "Symbol\nNVDA\n")], Mode::Full).await;
    db.load_ok(LoadKind::Symbols, &[("n.csv", "symbol,name\nNVDA,Nvidia\n")], Mode::Full).await;
    import_text(db, &doc, ImportMode::Merge).await;
    assert_eq!(db.symbols_of(GroupKind::Etf, "QQQ").await, ["NVDA"], "merge keeps what the document lacks");
    import_text(db, &doc, ImportMode::Replace).await;
    assert!(db.symbols_of(GroupKind::Etf, "QQQ").await.is_empty());
    assert!(!db.store.symbols().await.unwrap().contains_key("NVDA"));
    assert_eq!(export_text(db).await, doc);
    let settings = db.store.cache_rows(Environment::Default, &["app_settings"]).await.unwrap();
    assert_eq!(settings.len(), 1, "rows of other types are never touched");
    assert_eq!(db.open_intervals().await, db.store.count_rows("group_memberships").await.unwrap());
}

/// A bad document names each problem's place and writes nothing.
async fn invalid_documents(db: &TestDb) {
    seed(db).await;
    let before = db.state().await;
    let good = export_text(db).await;
    let cases = [
        (good.replacen("\"version\": 1", "\"version\": 9", 1), "field \"version\": version 9 is not supported"),
        (
            good.replacen("\"symbol\": \"AAPL\"", "\"symbol\": \"aapl\"", 1),
            "field \"symbols[0].symbol\": \"aapl\" is not a canonical ticker",
        ),
        (good.replacen("\"weight\": 0.0652", "\"weight\": 6.52", 1), "is not a fraction between 0 and 1"),
        (good.replacen("\"type\": \"stock_universe\"", "\"type\": \"app_settings\"", 1), "import writes only"),
        (good.replacen("\"format\"", "\"surprise\": 1, \"format\"", 1), "unknown field `surprise`"),
        ("{ not json".to_string(), "doc.json:1: not a tickstock-universe document"),
    ];
    for (text, expected) in cases {
        let problems = match transfer::parse(&Input::from_bytes("doc.json", text.as_str())) {
            Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
            Ok(_) => panic!("accepted a bad document ({expected})"),
        };
        assert!(problems.iter().any(|p| p.contains(expected)), "{expected:?} not in {problems:#?}");
    }
    assert_eq!(db.state().await, before);
}

/// The CSV-folder form carries the same document: export as CSV → import → export as JSON gives the original.
async fn csv_folder_round_trip(db: &TestDb) {
    seed(db).await;
    let json = export_text(db).await;
    let doc = transfer::export(&db.store, Environment::Default).await.unwrap();
    let dir = db.dir.path().join("export");
    transfer::csv_folder::write(&doc, &dir).unwrap();
    let backend = match &db.store {
        universe::store::Store::Sqlite(_) => Backend::Sqlite,
        universe::store::Store::Postgres(_) => Backend::Postgres,
    };
    let other = TestDb::new(backend).await;
    let read = transfer::read(&dir, universe::load::DEFAULT_MAX_INPUT_BYTES).unwrap_or_else(|p| panic!("{p:#?}"));
    transfer::import(&other.store, &read, "export", Environment::Default, ImportMode::Replace).await.unwrap();
    assert_eq!(export_text(&other).await, json);
    other.cleanup().await;
    // A broken cell is named by file, line and field.
    let groups = std::fs::read_to_string(dir.join("groups.csv")).unwrap();
    let broken = groups.replacen("\"{\"\"checksum", "\"{not json", 1);
    assert_ne!(broken, groups, "the fixture has a metadata cell to break");
    std::fs::write(dir.join("groups.csv"), broken).unwrap();
    let p = transfer::read(&dir, universe::load::DEFAULT_MAX_INPUT_BYTES).unwrap_err();
    assert!(p[0].to_string().contains("groups.csv:2: field \"metadata\": not JSON"), "{p:?}");
}

contract!(round_trip, replace_and_merge, invalid_documents, csv_folder_round_trip);

/// SQLite → PostgreSQL → SQLite gives the same document.
#[tokio::test]
async fn round_trip_across_backends() {
    if !crate::helpers::postgres_available() {
        return;
    }
    let sqlite = TestDb::new(Backend::Sqlite).await;
    seed(&sqlite).await;
    let first = export_text(&sqlite).await;
    let pg = TestDb::new(Backend::Postgres).await;
    import_text(&pg, &first, ImportMode::Replace).await;
    let via_pg = export_text(&pg).await;
    assert_eq!(via_pg, first, "SQLite → PostgreSQL");
    let back = TestDb::new(Backend::Sqlite).await;
    import_text(&back, &via_pg, ImportMode::Replace).await;
    assert_eq!(export_text(&back).await, first, "PostgreSQL → SQLite");
    for db in [sqlite, pg, back] {
        db.cleanup().await;
    }
}
