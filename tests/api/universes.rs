//! Universe loads and universe-key resolution.

use universe::domain::{Environment, GroupKind};
use universe::load::{LoadKind, Mode};
use universe::universes::{ResolveError, resolve};

use crate::helpers::{Lcg, TestDb, contract};

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
    assert!(matches!(
        resolve(&db.store, env, " : ").await,
        Err(ResolveError::Expr(universe::domain::UniverseExprError::Empty))
    ));

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
        Err(ResolveError::Expr(universe::domain::UniverseExprError::MissingCacheKey(_)))
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

/// A small deterministic generator (no seed from the clock: a failure names its round and key, and reruns alike).
/// The two resolvers — over the store (the CLI, jobs) and over the snapshot (the HTTP API) — return the same
/// symbols, and the same errors, for the same data: random data sets (group names that differ only by case, one
/// name in several kinds, cache rows in both value shapes) and random keys over them.
async fn resolvers_agree(db: &TestDb) {
    let mut rng = Lcg(0x5eed_0001);
    let tickers = ["AAPL", "MSFT", "NVDA", "JPM", "XOM", "SPY", "QQQ", "BRK.B"];
    let names = ["tech", "Tech", "TECH", "spy", "SPY", "dow30", "Dow30", "ai", "energy"];
    let kinds = ["ETF", "UNIVERSE", "THEME", "SECTOR"];
    let cache = [("stock_universe", "mega_cap"), ("stock_universe", "Index_SP500"), ("etf_universe", "all_etfs")];
    let key_parts = [
        "tech",
        "TECH",
        "Tech",
        "spy",
        "Spy",
        "dow30",
        "DOW30",
        "ai",
        "energy",
        "nothing",
        "stock_universe:mega_cap",
        "stock_universe:MEGA_CAP",
        "stock_universe:index_sp500",
        "etf_universe:all_etfs",
        "etf_universe:none",
    ];
    let mut compared = (0, 0);
    for round in 0..12 {
        db.exec(
            "DELETE FROM group_memberships; DELETE FROM definition_groups; DELETE FROM cache_entries; \
             DELETE FROM symbols",
        )
        .await;
        let values: Vec<String> = tickers.iter().map(|t| format!("('{t}')")).collect();
        db.exec(&format!("INSERT INTO symbols (symbol) VALUES {}", values.join(", "))).await;
        let mut id = 0;
        for name in names {
            for kind in kinds {
                if rng.below(4) != 0 {
                    continue;
                }
                id += 1;
                db.exec(&format!(
                    "INSERT INTO definition_groups (id, name, type, environment) VALUES ({id}, '{name}', '{kind}', 'DEFAULT')"
                ))
                .await;
                let members: Vec<String> =
                    tickers.iter().filter(|_| rng.below(2) == 0).map(|t| format!("({id}, '{t}')")).collect();
                if !members.is_empty() {
                    db.exec(&format!("INSERT INTO group_memberships (group_id, symbol) VALUES {}", members.join(", ")))
                        .await;
                }
            }
        }
        for (i, (kind, key)) in cache.iter().enumerate() {
            if rng.below(3) == 0 {
                continue;
            }
            let chosen: Vec<&str> = tickers.iter().copied().filter(|_| rng.below(2) == 0).collect();
            let value = if rng.below(2) == 0 {
                serde_json::to_string(&chosen).unwrap()
            } else {
                let stocks: Vec<serde_json::Value> =
                    chosen.iter().map(|t| serde_json::json!({ "ticker": t })).collect();
                serde_json::json!({ "count": stocks.len(), "stocks": stocks }).to_string()
            };
            db.exec(&format!(
                "INSERT INTO cache_entries (type, name, key, value, environment) VALUES ('{kind}', 'row {i}', '{key}', '{value}', 'DEFAULT')"
            ))
            .await;
        }
        let snapshot = universe::cache::build(&db.store, Environment::Default).await.unwrap();
        for _ in 0..25 {
            let parts: Vec<&str> = (0..1 + rng.below(3)).map(|_| rng.pick(&key_parts)).collect();
            let key = parts.join(":");
            let from_store = resolve(&db.store, Environment::Default, &key).await.map_err(|e| e.to_string());
            let from_snapshot = universe::domain::UniverseKey::parse(&key)
                .map_err(|e| ResolveError::from(e).to_string())
                .and_then(|k| {
                    let r = snapshot.resolve(&k).map_err(|e| e.to_string())?;
                    Ok(snapshot.tickers(&r).into_iter().map(str::to_string).collect::<Vec<_>>())
                });
            match &from_store {
                Ok(_) => compared.0 += 1,
                Err(_) => compared.1 += 1,
            }
            assert_eq!(from_store, from_snapshot, "round {round}, key {key:?}");
        }
    }
    // Both outcomes were exercised, not only errors (or only answers).
    assert!(compared.0 > 30 && compared.1 > 30, "answers and errors compared: {compared:?}");
}

contract!(resolvers_agree);
