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

# DIA weighted by price, the Dow's own method: each member's close on the last session of the bundled daily
# bars over the sum of the 30 closes (the index divisor cancels out of the weights).
dow_symbols = {r["Symbol"] for r in dow}
with open(src / "sp500_daily_ohlcv_2013-2018_all_stocks_5yr.csv", newline="", encoding="utf-8") as f:
    ohlcv = [r for r in csv.DictReader(f) if r["Name"] in dow_symbols and r["open"]]
last_session = max(r["date"] for r in ohlcv)
closes = {r["Name"]: float(r["close"]) for r in ohlcv if r["date"] == last_session}
assert set(closes) == dow_symbols, sorted(dow_symbols - set(closes))
total = sum(closes.values())
with open(out / "holdings/dia_holdings.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["Symbol", "Name", "Weight (%)"])
    for r in sorted(dow, key=lambda r: r["Symbol"]):
        w.writerow([r["Symbol"], r["Name"], f"{closes[r['Symbol']] * 100 / total:.4f}"])

holdings("QQQ", [(r["Symbol"], r["Name"]) for r in ndx])
SPDR = {
    "XLK": "Information Technology", "XLF": "Financials", "XLV": "Health Care", "XLE": "Energy",
    "XLI": "Industrials", "XLY": "Consumer Discretionary", "XLP": "Consumer Staples", "XLU": "Utilities",
    "XLB": "Materials", "XLC": "Communication Services", "XLRE": "Real Estate",
}
for etf, sector in SPDR.items():
    holdings(etf, [(r["Symbol"], r["Security"]) for r in sp if r["GICS Sector"] == sector])

# Symbols: every stock above as CS, the 14 funds above and the common funds TickStock's ETF categories name
# (broad market, growth, value, bonds, international, factor, commodities) as ETF, and the companies the S&P 500
# lost to acquisitions and ticker changes in 2025-26 (pit/sp500_changes.csv), which were listed "the day before"
# the sample's next-day list below.
ETFS = {
    "SPY": "SPDR S&P 500 ETF Trust", "DIA": "SPDR Dow Jones Industrial Average ETF Trust",
    "QQQ": "Invesco QQQ Trust", "XLK": "Technology Select Sector SPDR Fund",
    "XLF": "Financial Select Sector SPDR Fund", "XLV": "Health Care Select Sector SPDR Fund",
    "XLE": "Energy Select Sector SPDR Fund", "XLI": "Industrial Select Sector SPDR Fund",
    "XLY": "Consumer Discretionary Select Sector SPDR Fund", "XLP": "Consumer Staples Select Sector SPDR Fund",
    "XLU": "Utilities Select Sector SPDR Fund", "XLB": "Materials Select Sector SPDR Fund",
    "XLC": "Communication Services Select Sector SPDR Fund", "XLRE": "Real Estate Select Sector SPDR Fund",
    "VOO": "Vanguard S&P 500 ETF", "IVV": "iShares Core S&P 500 ETF", "VTI": "Vanguard Total Stock Market ETF",
    "IWM": "iShares Russell 2000 ETF", "RSP": "Invesco S&P 500 Equal Weight ETF",
    "VUG": "Vanguard Growth ETF", "IWF": "iShares Russell 1000 Growth ETF", "VTV": "Vanguard Value ETF",
    "IWD": "iShares Russell 1000 Value ETF", "VGT": "Vanguard Information Technology ETF",
    "SMH": "VanEck Semiconductor ETF", "AGG": "iShares Core U.S. Aggregate Bond ETF",
    "BND": "Vanguard Total Bond Market ETF", "TLT": "iShares 20+ Year Treasury Bond ETF",
    "LQD": "iShares iBoxx $ Investment Grade Corporate Bond ETF", "VEA": "Vanguard FTSE Developed Markets ETF",
    "EEM": "iShares MSCI Emerging Markets ETF", "IEFA": "iShares Core MSCI EAFE ETF",
    "MTUM": "iShares MSCI USA Momentum Factor ETF", "QUAL": "iShares MSCI USA Quality Factor ETF",
    "USMV": "iShares MSCI USA Min Vol Factor ETF", "SCHD": "Schwab U.S. Dividend Equity ETF",
    "GLD": "SPDR Gold Shares", "SLV": "iShares Silver Trust", "DBC": "Invesco DB Commodity Index Tracking Fund",
}
changes = list(csv.DictReader(open(src / "pit/sp500_changes.csv", encoding="utf-8")))
sample_names = {r["Symbol"]: r["Security"] for r in sp}
gone, renamed_to = {}, {}
for c in changes:
    if c["date"] < "2025-07-01" or c["action"] != "removed":
        continue
    if c["reason"].startswith("rename →"):
        new = c["reason"].split("→", 1)[1].split(":", 1)[0].strip()
        gone[c["ticker"]] = sample_names.get(new, c["name"])
        renamed_to[c["ticker"]] = new
    elif "acquired" in c["reason"]:
        gone[c["ticker"]] = c["name"]
gone = {t: n for t, n in gone.items() if t not in sample_names}
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
    for s, n in sorted(gone.items()):
        w.writerow([s, n, "CS", "", ""])

# The next day's list (`universe sync --source sample`, and the demo's closing sync): every symbol above but the
# acquired and renamed ones, plus Solstice Advanced Materials (Honeywell's spin-off, a real new listing the
# sample lacks), with its listing date from the changes file.
solstice = next(c for c in changes if c["ticker"] == "SOLS" and c["action"] == "added")
(out / "next_day").mkdir(exist_ok=True)
with open(out / "symbols.csv", newline="", encoding="utf-8") as f:
    listed = [r for r in csv.DictReader(f) if r["symbol"] not in gone]
with open(out / "next_day/tickers.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["symbol", "name", "type", "list_date"])
    for r in listed:
        w.writerow([r["symbol"], r["name"], r["type"], ""])
    w.writerow(["SOLS", solstice["name"], "CS", solstice["date"]])

# Daily bars: the Dow 30 members present in the 2013-2018 S&P 500 OHLCV file, over its last 252 trading days.
rows = ohlcv
last_days = sorted({r["date"] for r in rows})[-252:]
keep = set(last_days)
(out / "bars" / "day").mkdir(parents=True, exist_ok=True)
with open(out / "bars" / "day" / "dow30.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["symbol", "date", "open", "high", "low", "close", "volume"])
    for r in sorted((r for r in rows if r["date"] in keep), key=lambda r: (r["Name"], r["date"])):
        w.writerow([r["Name"], r["date"], r["open"], r["high"], r["low"], r["close"], r["volume"]])
