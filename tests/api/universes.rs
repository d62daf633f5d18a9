//! Universe loads and universe-key resolution.

use universe::domain::{Environment, GroupKind, UniverseKeyError};
use universe::load::{LoadKind, Mode};
use universe::universes::{ResolveError, resolve};

use crate::helpers::{TestDb, contract};

/// The three accepted layouts: header-less list, `symbol` header, and the seed format with weights.
async fn universe_formats(db: &TestDb) {
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\n\nBRK B\n")], Mode::Full).await;
    db.load_ok(LoadKind::Universes, &[("nasdaq_100.csv", "symbol\nAAPL\nNVDA\n")], Mode::Full).await;
    db.load_ok(
        LoadKind::Universes,
        &[("sp500.csv", "symbol,name,weight,sector,market_cap\nAAPL,Apple,7.1,Information Technology,3000000000000\nMSFT,Microsoft,6.5,Information Technology,2900000000000\n")],
        Mode::Full,
    )
    .await;
    assert_eq!(db.symbols_of(GroupKind::Universe, "dow30").await, ["AAPL", "BRK.B", "MSFT"]);
    assert_eq!(db.symbols_of(GroupKind::Universe, "nasdaq100").await, ["AAPL", "NVDA"]);
    assert_eq!(
        db.members(GroupKind::Universe, "sp500").await,
        [("AAPL".into(), Some(0.071)), ("MSFT".into(), Some(0.065))]
    );
    let groups = db.store.group_summaries(Environment::Default, &[GroupKind::Universe]).await.unwrap();
    let sp = groups.iter().find(|g| g.name == "sp500").unwrap();
    assert!(sp.description.as_deref().unwrap().starts_with("S&P 500"));
}

/// A header that is not a ticker column is rejected rather than stored as a ticker (TickStock's bug).
async fn universe_bad_header(db: &TestDb) {
    let p = db
        .load_err(LoadKind::Universes, &[("dow30.csv", "symbol,name\nAAPL,Apple\n".replace("symbol", "sym").as_str())])
        .await;
    assert!(p[0].contains("dow30.csv:1: unknown format"), "{p:?}");
    let p = db.load_err(LoadKind::Universes, &[("s&p.csv", "AAPL\n")]).await;
    assert!(p[0].contains("pass --name"), "{p:?}");
}

/// Keys resolve to the sorted union, case-insensitively, including `cache_entries` universes; unknown parts fail.
async fn resolve_keys(db: &TestDb) {
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\n"), ("nasdaq100.csv", "AAPL\nNVDA\n")], Mode::Full)
        .await;
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAMZN\nAAPL\n")], Mode::Full).await;
    let env = Environment::Default;
    assert_eq!(resolve(&db.store, env, "dow30:nasdaq100").await.unwrap(), ["AAPL", "MSFT", "NVDA"]);
    assert_eq!(resolve(&db.store, env, " spy : DOW30 :").await.unwrap(), ["AAPL", "AMZN", "MSFT"]);
    match resolve(&db.store, env, "dow30:nope").await {
        Err(ResolveError::Unknown(p)) => assert_eq!(p, "nope"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(resolve(&db.store, env, " : ").await, Err(ResolveError::Key(UniverseKeyError::Empty))));

    let insert = "INSERT INTO cache_entries (type, name, key, value, environment) VALUES ($1, $2, $3, $4, 'DEFAULT')";
    let rows = [
        ("etf_universe", "Core ETFs", "etf_core", serde_json::json!(["SPY", "QQQ"])),
        (
            "stock_universe",
            "market_cap",
            "mega_cap",
            serde_json::json!({"count": 1, "stocks": [{"ticker": "NVDA", "rank": 1}]}),
        ),
    ];
    for (t, n, k, v) in rows {
        match &db.store {
            universe::store::Store::Sqlite(p) => {
                sqlx::query(insert).bind(t).bind(n).bind(k).bind(sqlx::types::Json(v)).execute(p).await.unwrap();
            }
            universe::store::Store::Postgres(p) => {
                sqlx::query(insert).bind(t).bind(n).bind(k).bind(sqlx::types::Json(v)).execute(p).await.unwrap();
            }
        }
    }
    assert_eq!(resolve(&db.store, env, "etf_universe:etf_core:dow30").await.unwrap(), ["AAPL", "MSFT", "QQQ", "SPY"]);
    assert_eq!(resolve(&db.store, env, "stock_universe:mega_cap").await.unwrap(), ["NVDA"]);
    assert!(matches!(
        resolve(&db.store, env, "etf_universe").await,
        Err(ResolveError::Key(UniverseKeyError::MissingCacheKey(_)))
    ));
    assert!(matches!(resolve(&db.store, env, "etf_universe:nope").await, Err(ResolveError::Unknown(_))));
}

/// A name used by two kinds is ambiguous unless the case picks one.
async fn resolve_ambiguous(db: &TestDb) {
    db.load_ok(LoadKind::Universes, &[("growth.csv", "AAPL\n")], Mode::Full).await;
    db.load_ok(
        LoadKind::Themes,
        &[("t.toml", "[[theme]]\nkey = \"growth\"\nname = \"Growth\"\nmembers = [\"MSFT\"]\n")],
        Mode::Full,
    )
    .await;
    match resolve(&db.store, Environment::Default, "GROWTH").await {
        Err(ResolveError::Ambiguous { candidates, .. }) => {
            assert_eq!(candidates, ["THEME growth", "UNIVERSE growth"])
        }
        other => panic!("{other:?}"),
    }
}

contract!(universe_formats, universe_bad_header, resolve_keys, resolve_ambiguous);
