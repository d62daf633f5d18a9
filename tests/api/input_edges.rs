//! Odd input that used to lose data with exit 0: blank and short rows mid-file, headers after long preambles,
//! out-of-range numbers, values longer than PostgreSQL's columns, history rows naming nothing, huge or endless
//! files, a one-row sectors file, implausible weight sums. Each case on both backends.

use universe::domain::GroupKind;
use universe::load::{Input, LoadKind, Mode};
use universe::transfer;

use crate::helpers::{TestDb, contract};

/// A whitespace-only line mid-file is skipped and reported; every row after it is loaded.
async fn blank_line_mid_file_keeps_the_rest(db: &TestDb) {
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "Symbol\nAAPL\nMSFT\nGOOG\nAMZN\n")], Mode::Full).await;
    let r =
        db.load_ok(LoadKind::Universes, &[("dow30.csv", "Symbol\nAAPL\nMSFT\n\" \"\nGOOG\nAMZN\n")], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Universe, "dow30").await, ["AAPL", "AMZN", "GOOG", "MSFT"]);
    assert_eq!((r.totals.removed, r.totals.unchanged), (0, 4));
    assert!(r.notes.iter().any(|n| n == "dow30.csv: blank lines skipped: 4"), "{:?}", r.notes);
    // Truly empty lines (which the CSV reader passes over) and whitespace-only lines in a holdings table.
    let r = db
        .load_ok(LoadKind::Holdings, &[("SPY.csv", "Symbol,Weight\nAAPL,50\n\n   \nMSFT,30\nGOOG,20\n\n")], Mode::Full)
        .await;
    assert_eq!(db.symbols_of(GroupKind::Etf, "SPY").await, ["AAPL", "GOOG", "MSFT"]);
    assert!(r.notes.iter().any(|n| n == "SPY.csv: blank lines skipped: 3–4"), "{:?}", r.notes);
    // A headerless list of tickers, one per line.
    let r = db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\n\n  \nGOOG\n\n")], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Universe, "dow30").await, ["AAPL", "GOOG", "MSFT"]);
    assert!(r.notes.iter().any(|n| n == "dow30.csv: blank lines skipped: 3–4"), "{:?}", r.notes);
}

/// An empty (`,,`) or short row before the end is an error naming its line; nothing is written.
async fn short_or_empty_row_mid_file_is_an_error(db: &TestDb) {
    db.load_ok(
        LoadKind::Holdings,
        &[("SPY.csv", "Symbol,Name,Weight\nAAPL,Apple,60\nMSFT,Microsoft,40\n")],
        Mode::Full,
    )
    .await;
    let before = db.state().await;
    let empty = "Symbol,Name,Weight\nAAPL,Apple,50\n,,\nGOOG,Alphabet,30\nAMZN,Amazon,20\n";
    let err = db.load_err(LoadKind::Holdings, &[("SPY.csv", empty)]).await;
    assert_eq!(err, ["SPY.csv:3: empty row (every field is empty) among the data"]);
    let short = "Symbol,Name,Weight\nAAPL,Apple,50\nGOOG\nAMZN,Amazon,20\n";
    let err = db.load_err(LoadKind::Holdings, &[("SPY.csv", short)]).await;
    assert_eq!(err, ["SPY.csv:3: expected 3 fields as in the header, found 1"]);
    // Legal text mid-file is not a footer when data follows it.
    let text =
        "Symbol,Name,Weight\nAAPL,Apple,50\nThe content contained herein is owned by the issuer\nAMZN,Amazon,20\n";
    let err = db.load_err(LoadKind::Holdings, &[("SPY.csv", text)]).await;
    assert_eq!(err, ["SPY.csv:3: expected 3 fields as in the header, found 1"]);
    // A short last row is not taken as a footer either: it could be a cut-off holding.
    let cut = "Symbol,Name,Weight\nAAPL,Apple,50\nAMZN\n";
    let err = db.load_err(LoadKind::Holdings, &[("SPY.csv", cut)]).await;
    assert_eq!(err, ["SPY.csv:3: expected 3 fields as in the header, found 1"]);
    assert_eq!(db.state().await, before);
    // A holding whose name starts with "Total" is data, also as the last row.
    let spdr = "Name,Ticker,Weight\nAPPLE INC,AAPL,60\nTOTALENERGIES SE,TTE,40\n";
    db.load_ok(LoadKind::Holdings, &[("FEZ.csv", spdr)], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Etf, "FEZ").await, ["AAPL", "TTE"]);
    // A header followed by nothing but a footer has no holdings.
    let err = db.load_err(LoadKind::Holdings, &[("EMPTY.csv", "Symbol,Name,Weight\n,,\nTotal,,100\n")]).await;
    assert_eq!(err, ["EMPTY.csv: no holdings found (simple format)"]);
    // A trailing footer (totals, legal text, empty rows) is skipped and listed.
    let footer = "Symbol,Name,Weight\nAAPL,Apple,60\nMSFT,Microsoft,40\n\nTotal,,100\n,,\n\"Holdings are subject to change without notice.\"\n";
    let r = db.load_ok(LoadKind::Holdings, &[("SPY.csv", footer)], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Etf, "SPY").await, ["AAPL", "MSFT"]);
    assert!(r.notes.iter().any(|n| n == "SPY.csv: lines 4–7 skipped as the footer (Total)"), "{:?}", r.notes);
}

/// A header after 45 preamble lines is found; the preamble is skipped and listed, never loaded as tickers. A
/// ticker cell equal to a header word is refused.
async fn header_after_long_preamble(db: &TestDb) {
    let mut file: String = (0..45).map(|i| format!("PRE{i}\n")).collect();
    file.push_str("Symbol,Weight\nAAPL,60\nMSFT,40\n");
    let r = db.load_ok(LoadKind::Holdings, &[("SPY.csv", &file)], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Etf, "SPY").await, ["AAPL", "MSFT"]);
    assert!(r.notes.iter().any(|n| n == "SPY.csv: lines 1–45 before the header skipped (preamble)"), "{:?}", r.notes);
    // A one-column file: lines above its header that look like tickers are refused, not skipped (they may be
    // tickers above a stray header line); prose above it is a preamble.
    let mut file: String = (0..45).map(|i| format!("PRE{i}\n")).collect();
    file.push_str("Symbol\nAAPL\nMSFT\n");
    let err = db.load_err(LoadKind::Universes, &[("dow30.csv", &file)]).await;
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].starts_with("dow30.csv:1: \"PRE0\" above the header (line 46) looks like a ticker"), "{err:?}");
    let err = db.load_err(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\nSymbol\nGOOG\n")]).await;
    assert!(err[0].starts_with("dow30.csv:1: \"AAPL\" above the header (line 3)"), "{err:?}");
    let file = "Dow Jones Industrial Average constituents\nAs of 2026-11-30\nSymbol\nAAPL\nMSFT\n";
    db.load_ok(LoadKind::Universes, &[("dow30.csv", file)], Mode::Full).await;
    assert_eq!(db.symbols_of(GroupKind::Universe, "dow30").await, ["AAPL", "MSFT"]);
    // A second header line among the data is not a symbol called SYMBOL.
    let err = db.load_err(LoadKind::Universes, &[("dow30.csv", "Symbol\nAAPL\nSymbol\nMSFT\n")]).await;
    assert_eq!(
        err,
        ["dow30.csv:3: field \"Symbol\": \"Symbol\" is a column name, not a ticker (a header line among the data?)"]
    );
}

/// Out-of-range and non-numeric market caps are errors naming the file, line and field.
async fn market_cap_out_of_range(db: &TestDb) {
    let err = db
        .load_err(LoadKind::Symbols, &[("s.csv", "symbol,market_cap\nAAPL,1e30\nMSFT,NaN\nGOOG,-5\nAMZN,inf\n")])
        .await;
    assert_eq!(
        err,
        [
            "s.csv:2: field \"market_cap\": market cap 1e30 is out of range (at most 1e15 dollars)",
            "s.csv:3: field \"market_cap\": market cap \"NaN\" is not a number",
            "s.csv:4: field \"market_cap\": market cap -5 is negative",
            "s.csv:5: field \"market_cap\": market cap \"inf\" is not a number",
        ]
    );
    assert!(db.store.symbols().await.unwrap().is_empty());
}

/// Values longer than PostgreSQL's `VARCHAR` columns are refused at parse time, with file, line and field, the
/// same on both backends; values at the limit load on both.
async fn field_lengths_checked_at_parse_time(db: &TestDb) {
    let at_limit = "N".repeat(100);
    let over = "N".repeat(101);
    let file =
        format!("symbol,name,exchange\nAAPL,{at_limit},XNAS\nMSFT,{over},XNAS\nGOOG,Alphabet,{}\n", "X".repeat(21));
    let err = db.load_err(LoadKind::Symbols, &[("s.csv", &file)]).await;
    assert_eq!(
        err,
        [
            "s.csv:3: field \"name\": 101 characters; symbols.name holds at most 100",
            "s.csv:4: field \"exchange\": 21 characters; symbols.exchange holds at most 20",
        ]
    );
    let r = db.load_ok(LoadKind::Symbols, &[("s.csv", &format!("symbol,name\nAAPL,{at_limit}\n"))], Mode::Full).await;
    assert_eq!(r.totals.added, 1);
    assert_eq!(db.store.symbols().await.unwrap()["AAPL"].name.as_deref(), Some(at_limit.as_str()));
    // Multi-byte characters count as characters, as PostgreSQL counts them.
    let accents = "É".repeat(100);
    db.load_ok(LoadKind::Symbols, &[("s.csv", &format!("symbol,name\nMSFT,{accents}\n"))], Mode::Full).await;
    // An industry in a sectors file goes to symbols.industry too.
    let err = db
        .load_err(LoadKind::Sectors, &[("c.csv", &format!("symbol,sector,industry\nAAPL,Technology,{over}\n"))])
        .await;
    assert_eq!(err, ["c.csv:2: field \"industry\": 101 characters; symbols.industry holds at most 100"]);
}

/// A 2 MB cell is not echoed whole into the message or into `load_runs.error`.
async fn huge_cell_is_clipped(db: &TestDb) {
    let cell = "A".repeat(2_000_000);
    let err = db.load_err(LoadKind::Universes, &[("dow30.csv", &format!("Symbol\n{cell}\n"))]).await;
    assert_eq!(err.len(), 2, "the ticker, and no symbols found");
    assert!(err[0].len() < 1_000, "{} bytes", err[0].len());
    assert!(err[0].contains("(2000") && err[0].contains("bytes in all)"), "{}", err[0]);
    let run = &db.store.runs(1).await.unwrap()[0];
    assert_eq!(run.status, "failed");
    assert!(run.error.as_ref().unwrap().len() < 1_000);
}

/// A sectors file is per-stock facts: a one-row file moves that stock and leaves every other stock where it is;
/// `--prune` makes the file the whole classification.
async fn sectors_file_moves_only_its_stocks(db: &TestDb) {
    let all = "symbol,sector,industry\nXOM,Energy,Oil\nCVX,Energy,Oil\nSLB,Energy,Services\nAAPL,Technology,Hardware\n";
    db.load_ok(LoadKind::Sectors, &[("c.csv", all)], Mode::Full).await;
    let dry = db.load_ok(LoadKind::Sectors, &[("x.csv", "symbol,sector\nXOM,Energy\n")], Mode::DryRun).await;
    assert_eq!((dry.totals.removed, dry.totals.added), (0, 0), "{:#?}", dry.groups);
    // AAPL moves to Energy: it leaves Technology, and nothing else leaves Energy.
    let r = db.load_ok(LoadKind::Sectors, &[("x.csv", "symbol,sector,industry\nAAPL,Energy,Odd\n")], Mode::Full).await;
    assert_eq!((r.totals.added, r.totals.removed), (1, 1));
    assert_eq!(db.symbols_of(GroupKind::Sector, "energy").await, ["AAPL", "CVX", "SLB", "XOM"]);
    assert!(db.symbols_of(GroupKind::Sector, "information_technology").await.is_empty());
    let groups = db.store.groups_with_members(universe::domain::Environment::Default, GroupKind::Sector).await.unwrap();
    let energy = groups.iter().find(|g| g.name.as_str() == "energy").unwrap();
    let meta = energy.metadata.as_ref().unwrap();
    assert_eq!(meta["stock_count"], 4);
    assert_eq!(meta["industries"], serde_json::json!(["Odd", "Oil", "Services"]));
    // The sector AAPL left says so too.
    let tech = groups.iter().find(|g| g.name.as_str() == "information_technology").unwrap();
    let meta = tech.metadata.as_ref().unwrap();
    assert_eq!((meta["stock_count"].clone(), meta["industries"].clone()), (0.into(), serde_json::json!([])));
    assert_eq!(db.open_intervals().await, 4);
    // --prune: only XOM stays classified.
    let r = db
        .load_with(LoadKind::Sectors, &[("x.csv", "symbol,sector\nXOM,Energy\n")], Mode::Full, |r| r.prune = true)
        .await
        .unwrap();
    assert_eq!(r.totals.removed, 3);
    assert_eq!(db.symbols_of(GroupKind::Sector, "energy").await, ["XOM"]);
}

/// Weights far from 100 % and a repeated column name are warnings in the output.
async fn implausible_weights_warn(db: &TestDb) {
    let r =
        db.load_ok(LoadKind::Holdings, &[("SPY.csv", "Symbol,Weight\nAAPL,90\nMSFT,90\nGOOG,90\n")], Mode::Full).await;
    assert!(
        r.notes.iter().any(|n| n.starts_with("warning: SPY.csv: weights sum to 270.00 %, far from 100 %")),
        "{:?}",
        r.notes
    );
    let r = db
        .load_ok(LoadKind::Holdings, &[("QQQ.csv", "Symbol,Weight,Symbol\nAAPL,60,X\nMSFT,40,Y\n")], Mode::Full)
        .await;
    assert!(
        r.notes
            .iter()
            .any(|n| n == "warning: QQQ.csv: column names appear more than once: Symbol (the first of each is read)"),
        "{:?}",
        r.notes
    );
    assert_eq!(db.symbols_of(GroupKind::Etf, "QQQ").await, ["AAPL", "MSFT"]);
}

/// Import checks history rows like memberships, and every length against the schema, before writing anything.
async fn import_checks_history_and_lengths(db: &TestDb) {
    db.load_ok(LoadKind::Universes, &[("dow30.csv", "AAPL\nMSFT\n")], Mode::Full).await;
    let doc = transfer::export(&db.store, universe::domain::Environment::Default).await.unwrap();
    let mut text = serde_json::to_value(&doc).unwrap();
    text["symbols"] = serde_json::json!([{ "symbol": "AAPL", "name": "N".repeat(101), "type": null, "exchange": null,
        "market": null, "market_cap": null, "sector": null, "industry": null, "list_date": null, "active": null,
        "cik": null, "composite_figi": null, "share_class_figi": null }]);
    let h = text["history"][0].clone();
    let mut bad_ticker = h.clone();
    bad_ticker["symbol"] = "not a ticker!".into();
    bad_ticker["valid_to"] = bad_ticker["valid_from"].clone();
    let mut ghost = h.clone();
    ghost["group_name"] = "nasdaq100".into();
    text["history"].as_array_mut().unwrap().extend([bad_ticker, ghost]);
    let input = Input::from_bytes("doc.json", serde_json::to_vec(&text).unwrap());
    let problems: Vec<String> = transfer::parse(&input).unwrap_err().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "doc.json: field \"symbols[0].name\": 101 characters; symbols.name holds at most 100",
            "doc.json: field \"history[2].symbol\": \"not a ticker!\" is not a canonical ticker",
            "doc.json: field \"history[3]\": open interval in UNIVERSE nasdaq100, a group the document does not have",
        ]
    );
    // The document as exported is accepted.
    let input = Input::from_bytes("doc.json", serde_json::to_vec(&doc).unwrap());
    transfer::parse(&input).expect("an export imports");
}

contract!(
    blank_line_mid_file_keeps_the_rest,
    short_or_empty_row_mid_file_is_an_error,
    header_after_long_preamble,
    market_cap_out_of_range,
    field_lengths_checked_at_parse_time,
    huge_cell_is_clipped,
    sectors_file_moves_only_its_stocks,
    implausible_weights_warn,
    import_checks_history_and_lengths,
);

/// A file over the input limit, and an endless one (`/dev/zero`), are refused without reading them whole.
#[test]
fn input_size_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.csv");
    std::fs::write(&p, "Symbol\n".repeat(1000)).unwrap();
    let e = Input::read(&p, 1000).unwrap_err().to_string();
    assert!(
        e.ends_with("big.csv: file is 7000 bytes, over the 1000 bytes input limit (raise it with --max-input-bytes)"),
        "{e}"
    );
    assert!(Input::read(&p, 7000).is_ok());
    let e = Input::read(std::path::Path::new("/dev/zero"), universe::load::DEFAULT_MAX_INPUT_BYTES).unwrap_err();
    assert!(e.to_string().contains("file is binary"), "{e}");
    // A stream whose size is unknown beforehand (a pipe) is cut off at the limit, not read to its end.
    let fifo = dir.path().join("pipe.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let line = "AAPL\n".repeat(1000);
            // Stops when the reader closes the pipe.
            for _ in 0..1000 {
                if f.write_all(line.as_bytes()).is_err() {
                    return true;
                }
            }
            false
        })
    };
    let e = Input::read(&fifo, 100_000).unwrap_err().to_string();
    assert!(e.contains("more than 100000 bytes"), "{e}");
    assert!(writer.join().unwrap(), "the reader stopped before the writer finished 5 MB");
    let e = Input::read(dir.path(), 1000).unwrap_err();
    assert!(e.to_string().contains("is a folder"), "{e}");
}
