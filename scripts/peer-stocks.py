#!/usr/bin/env python3
"""Writes data/bench/peer_stocks.csv: the 3,757 real US stocks of the peer-scale benchmark set (`universe
bench-data`), from the shared data (../shared/data). Run from the repository root; deterministic.

Order: today's index rosters (S&P 500, S&P 400, S&P 600, Nasdaq-100, Dow 30, in that order), then the live
plain-ticker stocks of the 2026-08 FinanceDatabase listing not in them, then stocks of the 2023-03 FinanceDatabase
listing spread evenly over it, to 3,757. `sector` and `industry` are the GICS classification the index rosters
give (blank for every stock in no roster): the state a platform that classifies from index files starts from."""
import csv
import re

D = "../shared/data"
N = 3757
plain = re.compile(r"^[A-Z]{1,5}$")
rows = {}  # symbol -> (name, sector, industry)


def add(symbol, name, sector="", industry=""):
    symbol = symbol.strip().replace("-", ".")
    if symbol and symbol not in rows:
        rows[symbol] = (name.strip(), sector.strip(), industry.strip())


for r in csv.DictReader(open(f"{D}/sp500_constituents.csv")):
    add(r["Symbol"], r["Security"], r["GICS Sector"], r["GICS Sub-Industry"])
for idx in ("sp400", "sp600"):
    for r in csv.DictReader(open(f"{D}/pit/{idx}_current.csv")):
        add(r["ticker"], r["name"], r["gics_sector"], r["gics_sub_industry"])
for f in ("nasdaq100_constituents.csv", "dowjones30_constituents.csv"):
    for r in csv.DictReader(open(f"{D}/{f}")):
        add(r["Symbol"], r["Name"])
for r in csv.DictReader(open(f"{D}/financedatabase_us_listed_2026-08_partial.csv")):
    if r["delisted"] == "False" and plain.match(r["symbol"]):
        add(r["symbol"], r["name"])
old = [r for r in csv.DictReader(open(f"{D}/financedatabase_us_equities_2023-03.csv"))
       if plain.match(r["symbol"]) and r["symbol"] not in rows]
need = N - len(rows)
for k in range(need):
    r = old[k * len(old) // need]
    add(r["symbol"], r["name"])
assert len(rows) == N, len(rows)
with open("data/bench/peer_stocks.csv", "w", newline="") as out:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["symbol", "name", "sector", "industry"])
    for s, (name, sector, industry) in rows.items():
        w.writerow([s, name, sector, industry])
