//! Rollback restores what a run replaced, refuses when later runs depend on it, and is itself a run.

use universe::domain::GroupKind;
use universe::load::{LoadError, LoadKind, Mode, rollback};

use crate::helpers::{TestDb, contract};

fn without_history(state: Vec<String>) -> Vec<String> {
    state.into_iter().filter(|l| !l.starts_with("history rows")).collect()
}

/// Rolling back a reload restores the memberships, weights and group row it replaced.
async fn rollback_restores(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,50\nMSFT,30\nNVDA,20\n")], Mode::Full).await;
    let before = without_history(db.state().await);
    let r =
        db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,60\nMSFT,30\nAMZN,10\n")], Mode::Full).await;
    assert_ne!(without_history(db.state().await), before);
    let rb = rollback(&db.store, r.run_id).await.unwrap();
    assert_eq!(rb.kind, "rollback");
    assert_eq!(without_history(db.state().await), before);
    assert_eq!(db.open_intervals().await, 3);
    let runs = db.store.runs(10).await.unwrap();
    assert_eq!(runs[0].rollback_of, Some(r.run_id));
    assert_eq!(runs[1].rolled_back_by, Some(rb.run_id));
    assert!(
        matches!(rollback(&db.store, r.run_id).await, Err(LoadError::Refused(m)) if m.contains("already rolled back"))
    );
    // The incremental checksum was restored too: the old file is "unchanged" again.
    let r = db
        .load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,50\nMSFT,30\nNVDA,20\n")], Mode::Incremental)
        .await;
    assert_eq!(r.status, "skipped");
    // A rollback is a run and can be undone in turn.
    let after_rb = without_history(db.state().await);
    let redo = rollback(&db.store, rb.run_id).await.unwrap();
    assert_eq!(db.symbols_of(GroupKind::Etf, "SPY").await, ["AAPL", "AMZN", "MSFT"]);
    rollback(&db.store, redo.run_id).await.unwrap();
    assert_eq!(without_history(db.state().await), after_rb);
}

/// A later run on the same group blocks the rollback; one on another group does not.
async fn rollback_refuses_under_later_change(db: &TestDb) {
    let r1 = db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n")], Mode::Full).await;
    let r2 = db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nMSFT\n")], Mode::Full).await;
    db.load_ok(LoadKind::Holdings, &[("qqq.csv", "Symbol\nNVDA\n")], Mode::Full).await;
    match rollback(&db.store, r1.run_id).await {
        Err(LoadError::Refused(m)) => {
            assert!(m.contains(&format!("later run(s) {}", r2.run_id)), "{m}")
        }
        other => panic!("{other:?}"),
    }
    rollback(&db.store, r2.run_id).await.unwrap();
    rollback(&db.store, r1.run_id).await.unwrap();
    let etfs: Vec<String> = db
        .store
        .group_summaries(Default::default(), &[GroupKind::Etf])
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(etfs, ["QQQ"], "SPY was created by run 1, so rolling it back removes the group");
    assert!(matches!(rollback(&db.store, 999).await, Err(LoadError::Refused(m)) if m.contains("no run 999")));
    let failed = db.load_err(LoadKind::Holdings, &[("spy.csv", "")]).await;
    assert!(!failed.is_empty());
    let id = db.store.runs(1).await.unwrap()[0].id;
    assert!(matches!(rollback(&db.store, id).await, Err(LoadError::Refused(m)) if m.contains("is failed")));
}

/// Rolling back a prune recreates the group and its members.
async fn rollback_prune(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n"), ("qqq.csv", "Symbol\nMSFT\n")], Mode::Full).await;
    let before = without_history(db.state().await);
    let r = db
        .load_with(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n")], Mode::Full, |r| r.prune = true)
        .await
        .unwrap();
    assert!(db.symbols_of(GroupKind::Etf, "QQQ").await.is_empty());
    rollback(&db.store, r.run_id).await.unwrap();
    assert_eq!(without_history(db.state().await), before);
}

/// Symbol metadata loads roll back too: added rows go, changed rows get their old values.
async fn rollback_symbols(db: &TestDb) {
    db.load_ok(LoadKind::Symbols, &[("a.csv", "symbol,name,type\nAAPL,Apple Inc.,CS\n")], Mode::Full).await;
    let before = db.state().await;
    let r = db.load_ok(LoadKind::Symbols, &[("b.csv", "symbol,name\nAAPL,Apple\nMSFT,Microsoft\n")], Mode::Full).await;
    rollback(&db.store, r.run_id).await.unwrap();
    assert_eq!(db.state().await, before);
}

/// A load asked to match a preview (`expect_version`) applies only while the data version is the preview's: after
/// any change it fails saying so and writes nothing — group loads and symbol loads alike.
async fn load_refuses_a_stale_preview(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,50\nMSFT,50\n")], Mode::Full).await;
    let previewed = db.store.data_version().await.unwrap();
    db.load_ok(LoadKind::Holdings, &[("qqq.csv", "Symbol,Weight\nNVDA,100\n")], Mode::Full).await;
    let before = db.state().await;
    let stale = |v: i64| move |r: &mut universe::load::LoadRequest| r.expect_version = Some(v);
    for (kind, file) in [
        (LoadKind::Holdings, ("spy.csv", "Symbol,Weight\nAAPL,60\nMSFT,40\n")),
        (LoadKind::Symbols, ("symbols.csv", "symbol,name\nAAPL,Apple Inc.\n")),
    ] {
        let err = db.load_with(kind, &[file], Mode::Full, stale(previewed)).await.unwrap_err();
        assert!(matches!(err, LoadError::Changed { previewed: p, now } if p == previewed && now > p), "{err}");
        assert!(err.to_string().contains("the data changed since the preview"), "{err}");
        assert_eq!(db.state().await, before, "nothing written");
    }
    let now = db.store.data_version().await.unwrap();
    let report = db
        .load_with(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,60\nMSFT,40\n")], Mode::Full, stale(now))
        .await
        .unwrap();
    assert_eq!(report.totals.changed, 2, "at the preview's version it applies");
}

contract!(
    rollback_restores,
    rollback_refuses_under_later_change,
    rollback_prune,
    rollback_symbols,
    load_refuses_a_stale_preview
);
