#!/usr/bin/env python3
"""Derives the sample data bundled for `universe demo` from ../shared/data (see data/sample/README.md).

Run from the repository root: python3 scripts/make-sample-data.py ../shared/data
Outputs are committed; nothing at build or test time runs this script.
"""
import csv
import pathlib
import shutil
import sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
out = pathlib.Path("data/sample")

# Universes: byte copies of the constituents files.
shutil.copyfile(src / "sp500_constituents.csv", out / "universes/sp500.csv")
shutil.copyfile(src / "nasdaq100_constituents.csv", out / "universes/nasdaq100.csv")
shutil.copyfile(src / "dowjones30_constituents.csv", out / "universes/dow30.csv")

sp = list(csv.DictReader(open(src / "sp500_constituents.csv", encoding="utf-8")))
ndx = list(csv.DictReader(open(src / "nasdaq100_constituents.csv", encoding="utf-8")))
dow = list(csv.DictReader(open(src / "dowjones30_constituents.csv", encoding="utf-8")))
fdb = {r["symbol"]: r for r in csv.DictReader(open(src / "financedatabase_us_equities_2023-03.csv", encoding="utf-8"))}
sp_syms = {r["Symbol"] for r in sp}

# Sectors: the S&P file's GICS columns are read directly by the sectors loader; members of the Nasdaq-100 and
# Dow 30 outside the S&P 500 get FinanceDatabase's (Yahoo vocabulary) sector where it has them, else unknown.
extras = sorted({r["Symbol"] for r in ndx + dow} - sp_syms)
with open(out / "sectors/extras.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["symbol", "sector", "industry"])
    for s in extras:
        r = fdb.get(s.replace(".", "-"))
        w.writerow([s, r["sector"] if r else "", r["industry"] if r else ""])

# Holdings: SPY, DIA, QQQ and the eleven sector SPDRs, built from the constituents (no weights: none are public).
def holdings(name, rows):
    with open(out / f"holdings/{name.lower()}_holdings.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Symbol", "Name"])
        for sym, nm in sorted(rows):
            w.writerow([sym, nm])

holdings("SPY", [(r["Symbol"], r["Security"]) for r in sp])
holdings("DIA", [(r["Symbol"], r["Name"]) for r in dow])
holdings("QQQ", [(r["Symbol"], r["Name"]) for r in ndx])
SPDR = {
    "XLK": "Information Technology", "XLF": "Financials", "XLV": "Health Care", "XLE": "Energy",
    "XLI": "Industrials", "XLY": "Consumer Discretionary", "XLP": "Consumer Staples", "XLU": "Utilities",
    "XLB": "Materials", "XLC": "Communication Services", "XLRE": "Real Estate",
}
for etf, sector in SPDR.items():
    holdings(etf, [(r["Symbol"], r["Security"]) for r in sp if r["GICS Sector"] == sector])

# Symbols: every stock above as CS, and the 14 funds as ETF.
ETFS = {
    "SPY": "SPDR S&P 500 ETF Trust", "DIA": "SPDR Dow Jones Industrial Average ETF Trust",
    "QQQ": "Invesco QQQ Trust", "XLK": "Technology Select Sector SPDR Fund",
    "XLF": "Financial Select Sector SPDR Fund", "XLV": "Health Care Select Sector SPDR Fund",
    "XLE": "Energy Select Sector SPDR Fund", "XLI": "Industrial Select Sector SPDR Fund",
    "XLY": "Consumer Discretionary Select Sector SPDR Fund", "XLP": "Consumer Staples Select Sector SPDR Fund",
    "XLU": "Utilities Select Sector SPDR Fund", "XLB": "Materials Select Sector SPDR Fund",
    "XLC": "Communication Services Select Sector SPDR Fund", "XLRE": "Real Estate Select Sector SPDR Fund",
}
with open(out / "symbols.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["symbol", "name", "type", "sector", "industry"])
    for r in sp:
        w.writerow([r["Symbol"], r["Security"], "CS", r["GICS Sector"], r["GICS Sub-Industry"]])
    names = {r["Symbol"]: r["Name"] for r in ndx + dow}
    for s in extras:
        r = fdb.get(s.replace(".", "-"))
        w.writerow([s, names[s], "CS", r["sector"] if r else "", r["industry"] if r else ""])
    for s, n in ETFS.items():
        w.writerow([s, n, "ETF", "", ""])

# Daily bars: the Dow 30 members present in the 2013-2018 S&P 500 OHLCV file, over its last 252 trading days.
dow_symbols = {r["Symbol"] for r in dow}
with open(src / "sp500_daily_ohlcv_2013-2018_all_stocks_5yr.csv", newline="", encoding="utf-8") as f:
    rows = [r for r in csv.DictReader(f) if r["Name"] in dow_symbols and r["open"]]
last_days = sorted({r["date"] for r in rows})[-252:]
keep = set(last_days)
(out / "bars" / "day").mkdir(parents=True, exist_ok=True)
with open(out / "bars" / "day" / "dow30.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["symbol", "date", "open", "high", "low", "close", "volume"])
    for r in sorted((r for r in rows if r["date"] in keep), key=lambda r: (r["Name"], r["date"])):
        w.writerow([r["Name"], r["date"], r["open"], r["high"], r["low"], r["close"], r["volume"]])
