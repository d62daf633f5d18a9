//! ETF holdings loads: every format, weights, normalisation, bad input, modes.

use universe::domain::{GroupKind, RunStatus};
use universe::load::{Action, LoadKind, Mode};

use crate::helpers::{TestDb, contract};

const ISHARES: &str = "\u{feff}iShares Russell 2000 ETF
Fund Holdings as of,\"Aug 05, 2026\"
Inception Date,\"May 22, 2000\"
Shares Outstanding,\"322,150,000.00\"
Stock,\"-\"
Bond,\"-\"
Cash,\"-\"
Other,\"-\"
\u{a0}
Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Quantity,Price,Location,Exchange,Currency,FX Rate,Market Currency,Accrual Date
\"CRDO\",\"CREDO TECHNOLOGY GROUP HOLDING LTD\",\"Information Technology\",\"Equity\",\"412,345,678.90\",\"0.62\",\"412,345,678.90\",\"2,345,678.00\",\"175.79\",\"United States\",\"NASDAQ\",\"USD\",\"1.00\",\"USD\",\"-\"
\"BRK/B\",\"BERKSHIRE HATHAWAY INC CLASS B\",\"Financials\",\"Equity\",\"300,000.00\",\"0.45\",\"300,000.00\",\"600.00\",\"500.00\",\"United States\",\"New York Stock Exchange Inc.\",\"USD\",\"1.00\",\"USD\",\"-\"
\"XTSLA\",\"BLK CSH FND TREASURY SL AGENCY\",\"Cash and/or Derivatives\",\"Money Market\",\"120,000,000.00\",\"0.18\",\"120,000,000.00\",\"120,000,000.00\",\"1.00\",\"United States\",\"-\",\"USD\",\"1.00\",\"USD\",\"-\"
\"USD\",\"USD CASH\",\"Cash and/or Derivatives\",\"Cash\",\"5,000,000.00\",\"0.01\",\"5,000,000.00\",\"5,000,000.00\",\"100.00\",\"United States\",\"-\",\"USD\",\"1.00\",\"USD\",\"-\"
\"RTYU6\",\"RUSS 2000 EMINI SEP 26\",\"Cash and/or Derivatives\",\"Futures\",\"0.00\",\"0.00\",\"98,000,000.00\",\"900.00\",\"2,200.00\",\"United States\",\"Chicago Mercantile Exchange\",\"USD\",\"1.00\",\"USD\",\"-\"
\"FN\",\"FABRINET\",\"Information Technology\",\"Equity\",\"250,000,000.00\",\"0.38\",\"250,000,000.00\",\"700,000.00\",\"357.14\",\"United States\",\"New York Stock Exchange Inc.\",\"USD\",\"1.00\",\"USD\",\"-\"

\"The content contained herein is owned or licensed by BlackRock and/or its third-party information providers and is protected by applicable copyrights, trademarks, service marks, and/or other intellectual property rights.\"
";

/// An iShares export with its preamble, cash/money-market/futures rows and legal footer loads its equities,
/// with weights stored as fractions and share classes normalised.
async fn ishares_export(db: &TestDb) {
    let r = db.load_ok(LoadKind::Holdings, &[("IWM_holdings.csv", ISHARES)], Mode::Full).await;
    assert_eq!(r.groups.len(), 1);
    assert_eq!(r.groups[0].name, "IWM");
    assert_eq!(r.groups[0].action, Action::Created);
    assert_eq!((r.totals.added, r.totals.skipped), (3, 3));
    assert_eq!(r.skipped_rows.iter().map(|s| s.ticker.as_str()).collect::<Vec<_>>(), ["XTSLA", "USD", "RTYU6"]);
    assert!(r.notes[0].contains("iShares"), "{:?}", r.notes);
    assert_eq!(
        db.members(GroupKind::Etf, "IWM").await,
        [("BRK.B".into(), Some(0.0045)), ("CRDO".into(), Some(0.0062)), ("FN".into(), Some(0.0038))]
    );
    // The file's own spelling is kept where normalisation changed it.
    let g = db.store.groups_with_members(Default::default(), GroupKind::Etf).await.unwrap().remove(0);
    let brk = &g.members[&universe::domain::Ticker::parse("BRK.B").unwrap()];
    assert_eq!(brk.metadata, Some(serde_json::json!({"source_ticker": "BRK/B"})));
    assert_eq!(g.members[&universe::domain::Ticker::parse("FN").unwrap()].metadata, None);
}

/// SPDR files carry a CUSIP-like `Identifier` column; the ticker is `Ticker`, and weights are percent.
async fn spdr_uses_ticker_not_identifier(db: &TestDb) {
    let spdr = "Fund Name:,Technology Select Sector SPDR Fund\nTicker Symbol:,XLK\nHoldings:,As of 05-Aug-2026\n\n\
Name,Ticker,Identifier,SEDOL,Weight,Sector,Shares Held,Local Currency\n\
NVIDIA CORP,NVDA,67066G104,2379504,14.52,Information Technology,1000,USD\n\
MICROSOFT CORP,MSFT,594918104,2588173,12.10,Information Technology,1000,USD\n\
APPLE INC,AAPL,037833100,2046251,12.01,Information Technology,1000,USD\n";
    db.load_ok(LoadKind::Holdings, &[("xlk.csv", spdr)], Mode::Full).await;
    assert_eq!(
        db.members(GroupKind::Etf, "XLK").await,
        [("AAPL".into(), Some(0.1201)), ("MSFT".into(), Some(0.121)), ("NVDA".into(), Some(0.1452))]
    );
}

/// Invesco pads tickers with spaces and names the fund in a column; both are handled.
async fn invesco_padded_tickers(db: &TestDb) {
    let inv = "Fund Ticker,Security Identifier,Holding Ticker,Shares/Par Value,MarketValue,Weight,Name,Class of Shares,Sector,Date\n\
QQQ,037833100,AAPL    ,1000,1000,8.91,Apple Inc,Common Stock,Information Technology,08/05/2026\n\
QQQ,594918104,MSFT    ,1000,1000,8.02,Microsoft Corp,Common Stock,Information Technology,08/05/2026\n";
    let r = db.load_ok(LoadKind::Holdings, &[("holdings-export.csv", inv)], Mode::Full).await;
    assert_eq!(r.groups[0].name, "QQQ");
    assert_eq!(db.members(GroupKind::Etf, "QQQ").await, [("AAPL".into(), Some(0.0891)), ("MSFT".into(), Some(0.0802))]);
}

/// Vanguard's `% of fund` column is a percent weight.
async fn vanguard_percent_of_fund(db: &TestDb) {
    let v = "Holdings,Ticker,SEDOL,% of fund,Shares,Market value\nApple Inc.,AAPL,2046251,6.52%,100,100\nMicrosoft Corp.,MSFT,2588173,5.9%,100,100\n";
    db.load_ok(LoadKind::Holdings, &[("VTI.csv", v)], Mode::Full).await;
    assert_eq!(db.members(GroupKind::Etf, "VTI").await, [("AAPL".into(), Some(0.0652)), ("MSFT".into(), Some(0.059))]);
}

/// The three spellings of a weight store the same fraction; the unit is decided once per file.
async fn weight_units(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("aaa.csv", "Symbol,weight\nAAPL,6.52\nMSFT,0.5\nNVDA,92.98\n")], Mode::Full)
        .await;
    db.load_ok(LoadKind::Holdings, &[("bbb.csv", "symbol,Weight\nAAPL,0.0652\nMSFT,0.005\nNVDA,0.9298\n")], Mode::Full)
        .await;
    db.load_ok(LoadKind::Holdings, &[("ccc.csv", "Ticker,weight\nAAPL,6.52%\nMSFT,0.5%\n")], Mode::Full).await;
    let expected = [("AAPL".to_string(), Some(0.0652)), ("MSFT".into(), Some(0.005)), ("NVDA".into(), Some(0.9298))];
    assert_eq!(db.members(GroupKind::Etf, "AAA").await, expected);
    assert_eq!(db.members(GroupKind::Etf, "BBB").await, expected);
    assert_eq!(db.members(GroupKind::Etf, "CCC").await, expected[..2]);
}

/// A header-less list and a file named after the fund, and `--etf` overriding the file name.
async fn ticker_list_and_etf_flag(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("DIA.csv", "AAPL\nmsft\nBRK-B\n")], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Etf, "DIA").await, ["AAPL", "BRK.B", "MSFT"]);
    let r = db
        .load_with(LoadKind::Holdings, &[("export (3).csv", "Symbol\nAAPL\n")], Mode::Full, |r| {
            r.etf = Some("voo".into())
        })
        .await
        .expect("load");
    assert_eq!(r.groups[0].name, "VOO");
}

/// Every kind of bad input is reported with file, line and field, and nothing but the failed run is written.
async fn bad_input_writes_nothing(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol,Weight\nAAPL,7\nMSFT,6\n")], Mode::Full).await;
    let before = db.state().await;
    let runs_before = db.store.runs(100).await.unwrap().len();
    let cases: &[(&str, &str, &str)] = &[
        (
            "spy.csv",
            "Symbol,Weight\nAAPL,7\nBRK-B,1\nBRK.B,1\n",
            "spy.csv:4: field \"Symbol\": duplicate ticker BRK.B (already on line 3)",
        ),
        ("spy.csv", "Symbol,Weight\nAAPL,7\nAB$C,1\n", "spy.csv:3: field \"Symbol\": invalid ticker \"AB$C\""),
        ("spy.csv", "Symbol,Weight\nAAPL,seven\n", "spy.csv:2: field \"Weight\": weight \"seven\" is not a number"),
        ("spy.csv", "Symbol,Weight\nAAPL,-1\nMSFT,50\n", "spy.csv:2: field \"Weight\": weight -1% is negative"),
        ("spy.csv", "Symbol,Weight\nAAPL,101\nMSFT,1\n", "spy.csv:2: field \"Weight\": weight 101% is over 100 %"),
        ("spy.csv", "", "spy.csv: file is empty"),
        ("spy.csv", "\u{0}\u{1}PK\u{3}\u{4}", "spy.csv: file is binary"),
        ("spy.csv", "foo,bar\n1,2\n", "spy.csv:1: unknown format"),
        ("spy.csv", "Symbol,Weight\nAAPL,1,2,3\n", "spy.csv:2: expected 2 fields as in the header, found 4"),
        ("holdings.csv.bak", "Symbol\nAAPL\n", "cannot tell which ETF"),
    ];
    for (file, content, expected) in cases {
        let problems = db.load_err(LoadKind::Holdings, &[(file, content)]).await;
        assert!(problems.iter().any(|p| p.contains(expected)), "{expected:?} not in {problems:#?}");
        assert_eq!(db.state().await, before, "a rejected file changed the database: {content:?}");
    }
    // One bad file among good ones: the whole load is rejected.
    db.load_err(LoadKind::Holdings, &[("qqq.csv", "Symbol\nAAPL\n"), ("spy.csv", "Symbol,Weight\nAAPL,x\n")]).await;
    assert_eq!(db.state().await, before);
    let runs = db.store.runs(100).await.unwrap();
    assert_eq!(runs.len(), runs_before + cases.len() + 1, "every failure is recorded");
    assert!(runs[0].status == "failed" && runs[0].error.as_deref().unwrap().contains("spy.csv:2"));
}

/// Full reload applies the diff; incremental skips an unchanged file and applies only the diff of a changed one;
/// every membership change opens or closes a history interval.
async fn modes_and_history(db: &TestDb) {
    let v1 = "Symbol,Weight\nAAPL,50\nMSFT,30\nNVDA,20\n";
    let r = db.load_ok(LoadKind::Holdings, &[("spy.csv", v1)], Mode::Full).await;
    assert_eq!(r.totals.added, 3);
    assert_eq!(db.open_intervals().await, 3);

    let before = db.state().await;
    let r = db.load_ok(LoadKind::Holdings, &[("spy.csv", v1)], Mode::Incremental).await;
    assert_eq!(r.status, "skipped");
    assert_eq!(r.groups[0].action, Action::Unchanged);
    assert_eq!(db.state().await, before, "an unchanged incremental load writes nothing");

    let v2 = "Symbol,Weight\nAAPL,55\nMSFT,30\nAMZN,15\n";
    let r = db.load_ok(LoadKind::Holdings, &[("spy.csv", v2)], Mode::Incremental).await;
    assert_eq!((r.totals.added, r.totals.removed, r.totals.changed, r.totals.unchanged), (1, 1, 1, 1));
    assert_eq!(
        db.members(GroupKind::Etf, "SPY").await,
        [("AAPL".into(), Some(0.55)), ("AMZN".into(), Some(0.15)), ("MSFT".into(), Some(0.3))]
    );
    assert_eq!(db.open_intervals().await, 3);
    assert_eq!(db.store.count_rows("membership_history").await.unwrap(), 5, "3 + AMZN + new AAPL interval");

    // Full mode with the same content: nothing changes in memberships, but the group is reprocessed.
    let r = db.load_ok(LoadKind::Holdings, &[("spy.csv", v2)], Mode::Full).await;
    assert_eq!((r.status.as_str(), r.totals.unchanged, r.totals.added), ("applied", 3, 0));

    // Point in time: membership as of the first load is still answerable.
    let first_run = db.store.runs(100).await.unwrap().into_iter().last().unwrap();
    let at = first_run.finished_at.unwrap();
    let then =
        db.store.group_symbols_as_of(universe::domain::Environment::Default, GroupKind::Etf, "SPY", at).await.unwrap();
    assert_eq!(then, ["AAPL", "MSFT", "NVDA"]);
}

/// Dry-run prints the diff and writes only its run record.
async fn dry_run_writes_nothing(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\nMSFT\n")], Mode::Full).await;
    let before = db.state().await;
    let r = db
        .load_ok(
            LoadKind::Holdings,
            &[("spy.csv", "Symbol\nAAPL\nNVDA\n"), ("qqq.csv", "Symbol\nAAPL\n")],
            Mode::DryRun,
        )
        .await;
    assert_eq!(r.status, "dry_run");
    assert_eq!((r.totals.added, r.totals.removed, r.totals.unchanged), (2, 1, 1));
    assert_eq!(db.state().await, before);
    let run = &db.store.runs(1).await.unwrap()[0];
    assert_eq!((run.status.as_str(), run.mode.as_str(), run.added), ("dry_run", "dry-run", 2));
}

/// `--prune` deletes ETF groups absent from the input; without it they stay.
async fn prune_removes_absent_groups(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n"), ("qqq.csv", "Symbol\nMSFT\n")], Mode::Full).await;
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n")], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Etf, "QQQ").await, ["MSFT"]);
    let r = db
        .load_with(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\n")], Mode::Full, |r| r.prune = true)
        .await
        .unwrap();
    assert!(r.groups.iter().any(|g| g.name == "QQQ" && g.action == Action::Pruned));
    let names: Vec<String> = db
        .store
        .group_summaries(Default::default(), &[GroupKind::Etf])
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["SPY"]);
    assert_eq!(db.open_intervals().await, 1);
}

/// Group metadata keeps TickStock's shape, and keys written by others survive a reload.
async fn metadata_shape(db: &TestDb) {
    let content = "Symbol\nAAPL\nMSFT\n";
    db.load_ok(LoadKind::Holdings, &[("data/spy_holdings.csv", content)], Mode::Full).await;
    let g = db.store.groups_with_members(Default::default(), GroupKind::Etf).await.unwrap().remove(0);
    let m = g.metadata.unwrap();
    assert_eq!(m["total_holdings"], 2);
    assert_eq!(m["data_source"], "spy_holdings.csv");
    assert_eq!(m["checksum"], format!("{:x}", md5::compute(content)));
    assert!(m["last_updated"].as_str().is_some());
    assert_eq!(g.description.as_deref(), Some("SPY"));
}

/// Two loads of the same fund at once serialise: both apply, the result is one of the two inputs, and history
/// has exactly one open interval per membership.
async fn concurrent_loads_serialise(db: &TestDb) {
    db.load_ok(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\nMSFT\n")], Mode::Full).await;
    let a = db.load(LoadKind::Holdings, &[("spy.csv", "Symbol\nAAPL\nNVDA\nAMZN\n")], Mode::Full);
    let b = db.load(LoadKind::Holdings, &[("spy.csv", "Symbol\nMSFT\nTSLA\n")], Mode::Full);
    let (a, b) = tokio::join!(a, b);
    assert_eq!((a.unwrap().status, b.unwrap().status), (RunStatus::Applied, RunStatus::Applied));
    let members = db.symbols_of(GroupKind::Etf, "SPY").await;
    assert!(members == ["AAPL", "AMZN", "NVDA"] || members == ["MSFT", "TSLA"], "{members:?}");
    assert_eq!(db.open_intervals().await, members.len() as i64);
}

/// `n` distinct tickers from `from` on (AAAA, AAAB, …): synthetic, valid, shared between files.
fn tickers(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|mut i| {
            let mut t = [b'A'; 4];
            for c in t.iter_mut().rev() {
                *c = b'A' + (i % 26) as u8;
                i /= 26;
            }
            String::from_utf8(t.to_vec()).unwrap()
        })
        .collect()
}

fn borrow(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect()
}

fn ticker_file(tickers: &[String]) -> String {
    format!("Symbol\n{}\n", tickers.join("\n"))
}

/// A load larger than one chunk (80,000 memberships in four files; members are held a chunk of files at a time)
/// writes every membership and history interval; one bad file anywhere rejects all of it; an incremental reload
/// re-reads only the changed file; `--prune` works across chunks.
async fn large_loads_stream(db: &TestDb) {
    let files: Vec<(String, String)> =
        (0..4).map(|f| (format!("f{f}.csv"), ticker_file(&tickers(f * 5_000, 20_000)))).collect();

    // A bad line in the last file: nothing is written, and the problem names the file and line.
    let mut bad = files.clone();
    bad.push(("f4.csv".into(), "Symbol\nAAPL\nAB$C\n".into()));
    let before = db.state().await;
    let problems = db.load_err(LoadKind::Holdings, &borrow(&bad)).await;
    assert!(problems.iter().any(|p| p.starts_with("f4.csv:3: field \"Symbol\": invalid ticker")), "{problems:?}");
    assert_eq!(db.state().await, before, "nothing written");

    let r = db.load_ok(LoadKind::Holdings, &borrow(&files), Mode::Full).await;
    assert_eq!((r.status, r.totals.added, r.groups.len()), (RunStatus::Applied, 80_000, 4));
    assert_eq!(db.open_intervals().await, 80_000);
    assert_eq!(db.symbols_of(GroupKind::Etf, "F3").await, tickers(15_000, 20_000));

    // One file changes (a holding leaves, another comes): only it is read and written.
    let mut changed = files.clone();
    let mut f1 = tickers(5_000, 20_000);
    f1.remove(7);
    f1.push("ZZZZ".into());
    changed[1].1 = ticker_file(&f1);
    let r = db.load_ok(LoadKind::Holdings, &borrow(&changed), Mode::Incremental).await;
    let actions: Vec<(String, Action, usize, usize)> =
        r.groups.iter().map(|g| (g.name.clone(), g.action, g.counts.added, g.counts.removed)).collect();
    assert_eq!(
        actions,
        [
            ("F0".into(), Action::Unchanged, 0, 0),
            ("F1".into(), Action::Updated, 1, 1),
            ("F2".into(), Action::Unchanged, 0, 0),
            ("F3".into(), Action::Unchanged, 0, 0),
        ]
    );
    assert!(r.notes.iter().any(|n| n.contains("3 file(s) unchanged")), "{:?}", r.notes);
    assert_eq!(db.symbols_of(GroupKind::Etf, "F1").await.len(), 20_000);
    assert_eq!(db.open_intervals().await, 80_000);

    // Prune across chunks: F3 goes, with its intervals closed.
    let r = db.load_with(LoadKind::Holdings, &borrow(&changed[..3]), Mode::Full, |r| r.prune = true).await.unwrap();
    assert_eq!(r.groups.last().map(|g| (g.name.as_str(), g.action)), Some(("F3", Action::Pruned)));
    assert!(db.symbols_of(GroupKind::Etf, "F3").await.is_empty());
    assert_eq!(db.open_intervals().await, 60_000);
}

/// An incremental load skips a file only when its own name gives the stored group: a group named by `--etf` is
/// not taken for "unchanged" when the same file comes again without it.
async fn incremental_skip_needs_the_files_own_name(db: &TestDb) {
    let file = [("export.csv", "Symbol\nAAPL\nMSFT\n")];
    db.load_with(LoadKind::Holdings, &file, Mode::Full, |r| r.etf = Some("QQQ".into())).await.unwrap();
    let again = db.load_with(LoadKind::Holdings, &file, Mode::Incremental, |r| r.etf = Some("QQQ".into())).await;
    assert_eq!(again.unwrap().groups[0].action, Action::Unchanged);
    let r = db.load_ok(LoadKind::Holdings, &file, Mode::Incremental).await;
    let groups: Vec<(&str, Action)> = r.groups.iter().map(|g| (g.name.as_str(), g.action)).collect();
    assert_eq!(groups, [("EXPORT", Action::Created)], "{:?}", r.notes);
    assert_eq!(db.symbols_of(GroupKind::Etf, "QQQ").await, ["AAPL", "MSFT"]);
}

contract!(
    incremental_skip_needs_the_files_own_name,
    large_loads_stream,
    concurrent_loads_serialise,
    ishares_export,
    spdr_uses_ticker_not_identifier,
    invesco_padded_tickers,
    vanguard_percent_of_fund,
    weight_units,
    ticker_list_and_etf_flag,
    bad_input_writes_nothing,
    modes_and_history,
    dry_run_writes_nothing,
    prune_removes_absent_groups,
    metadata_shape,
);
