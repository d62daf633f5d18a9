//! The real reference data in `../shared/data` loads as it is, on both backends.

use universe::domain::{Environment, GroupKind};
use universe::load::{LoadKind, Mode};
use universe::universes::resolve;

use crate::helpers::{TestDb, contract, shared_data};

/// The three constituents files load as universes; the S&P file also classifies its stocks by GICS sector.
async fn constituents_and_gics(db: &TestDb) {
    let sp = shared_data("sp500_constituents.csv");
    let ndx = shared_data("nasdaq100_constituents.csv");
    let dow = shared_data("dowjones30_constituents.csv");
    let r = db
        .load_ok(
            LoadKind::Universes,
            &[
                ("sp500_constituents.csv", &sp),
                ("nasdaq100_constituents.csv", &ndx),
                ("dowjones30_constituents.csv", &dow),
            ],
            Mode::Full,
        )
        .await;
    let sizes: Vec<(String, usize)> = r.groups.iter().map(|g| (g.name.clone(), g.counts.added)).collect();
    assert_eq!(sizes, [("sp500".to_string(), 503), ("nasdaq100".into(), 101), ("dow30".into(), 30)]);
    assert!(db.symbols_of(GroupKind::Universe, "sp500").await.contains(&"BRK.B".to_string()));

    let r = db.load_ok(LoadKind::Sectors, &[("sp500_constituents.csv", &sp)], Mode::Full).await;
    assert_eq!(r.groups.len(), 11);
    assert_eq!(db.symbols_of(GroupKind::Sector, "information_technology").await.len(), 73);
    assert_eq!(db.symbols_of(GroupKind::Sector, "industrials").await.len(), 83);
    // Dow 30 ∪ Nasdaq-100.
    let union = resolve(&db.store, Environment::Default, "dow30:nasdaq100").await.unwrap();
    assert_eq!(union.len(), 30 + 101 - count_overlap(&dow, &ndx));
}

fn count_overlap(a: &str, b: &str) -> usize {
    let set = |s: &str| {
        s.lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
    };
    set(a).intersection(&set(b)).count()
}

/// FinanceDatabase's 5,795 US equities (Yahoo vocabulary, with preferred and unit share classes) classify into
/// the 11 sectors.
async fn financedatabase_sectors(db: &TestDb) {
    let fd = shared_data("financedatabase_us_equities_2023-03.csv");
    let r = db.load_ok(LoadKind::Sectors, &[("financedatabase_us_equities_2023-03.csv", &fd)], Mode::Full).await;
    assert_eq!(r.totals.added, 5795);
    assert!(db.symbols_of(GroupKind::Sector, "real_estate").await.contains(&"AAIC.PB".to_string()));
    // The 2026 file lists some preferred series under two vendor spellings (BCV-PA and BCV^A): after
    // normalisation those are duplicates, and the file is rejected naming both lines of each.
    let partial = shared_data("financedatabase_us_listed_2026-08_partial.csv");
    let p = db.load_err(LoadKind::Sectors, &[("financedatabase_us_listed_2026-08_partial.csv", &partial)]).await;
    assert!(p.iter().all(|p| p.contains("duplicate ticker")), "{p:#?}");
    assert!(p[0].contains(":195: field \"symbol\": duplicate ticker BCV.PA (already on line 194)"), "{p:?}");
    assert!(p[1].contains(":497: field \"symbol\": duplicate ticker ECF.PA (already on line 496)"), "{p:?}");
}

contract!(constituents_and_gics, financedatabase_sectors);
