//! Universe algebra: one grammar for every place a universe is named (CLI, API, jobs' `universe_key`), parsed once
//! into a typed expression.
//!
//! ```text
//! expr    := inter (( ":" | "|" | "-" ) inter)*     union (`:` is TickStock's, `|` ours) and difference, left to right
//! inter   := postfix ( "&" postfix )*               intersection binds tighter
//! postfix := primary ( "@" DATE )?                  the operand as of that day (YYYY-MM-DD, read whole)
//! primary := "(" expr ")" | NAME | ("stock_universe" | "etf_universe") ":" KEY
//! ```
//!
//! `sp500&information_technology`, `(nasdaq100|dow30)-SPY`, `sp500@2008-09-12 - sp500` (who has left since).
//! Spaces are allowed anywhere between tokens. A date after `@` is read whole, so its hyphens are never the
//! difference operator. A plain `a:b:stock_universe:c` means what it always meant.

use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;

use super::universe_key::{CacheKind, KeyPart};

/// A parsed universe expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UniverseExpr {
    /// A group, or a `cache_entries` universe row.
    Part(KeyPart),
    /// Members of either.
    Union(Box<UniverseExpr>, Box<UniverseExpr>),
    /// Members of both.
    Inter(Box<UniverseExpr>, Box<UniverseExpr>),
    /// Members of the first that are not in the second.
    Diff(Box<UniverseExpr>, Box<UniverseExpr>),
    /// The operand as of a day (its parts' membership that day).
    At(Box<UniverseExpr>, NaiveDate),
}

/// Why an expression does not parse; positions are 0-based character offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UniverseExprError {
    /// Nothing to parse.
    #[error("empty universe key")]
    Empty,
    /// A token where another was expected.
    #[error("at {at}: expected {expected}, found {found:?}")]
    Unexpected {
        /// Offset.
        at: usize,
        /// What would have been valid.
        expected: &'static str,
        /// What was there (`end` at the end).
        found: String,
    },
    /// `@` not followed by a date.
    #[error("at {at}: {text:?} is not a date (YYYY-MM-DD) after @")]
    BadDate {
        /// Offset.
        at: usize,
        /// The text read.
        text: String,
    },
    /// `stock_universe` or `etf_universe` with no key after it.
    #[error("{0} must be followed by a key, as in {0}:KEY")]
    MissingCacheKey(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Name(String),
    Colon,
    Pipe,
    Amp,
    Minus,
    Open,
    Close,
    At(String),
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '^' | '/')
}

fn lex(raw: &str) -> Result<Vec<(usize, Tok)>, UniverseExprError> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        i += 1;
        let tok = match c {
            c if c.is_whitespace() => continue,
            ':' => Tok::Colon,
            '|' => Tok::Pipe,
            '&' => Tok::Amp,
            '-' => Tok::Minus,
            '(' => Tok::Open,
            ')' => Tok::Close,
            '@' => {
                while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                    i += 1;
                }
                // A date is read whole and no further: `YYYY-MM-DD` is ten characters, so `@2008-09-12-sp500` is the
                // date, then the difference.
                let from = i;
                while i - from < 10 && chars.get(i).is_some_and(|c| c.is_ascii_digit() || *c == '-') {
                    i += 1;
                }
                Tok::At(chars[from..i].iter().collect())
            }
            c if is_name_char(c) => {
                while chars.get(i).is_some_and(|c| is_name_char(*c)) {
                    i += 1;
                }
                Tok::Name(chars[start..i].iter().collect())
            }
            other => {
                return Err(UniverseExprError::Unexpected {
                    at: start,
                    expected: "a name, an operator (: | & -), a parenthesis or @DATE",
                    found: other.to_string(),
                });
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(a, _)| *a)
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end".into(),
            Some(Tok::Name(n)) => n.clone(),
            Some(Tok::At(d)) => format!("@{d}"),
            Some(t) => match t {
                Tok::Colon => ":",
                Tok::Pipe => "|",
                Tok::Amp => "&",
                Tok::Minus => "-",
                Tok::Open => "(",
                _ => ")",
            }
            .into(),
        }
    }

    fn expr(&mut self) -> Result<UniverseExpr, UniverseExprError> {
        let mut left = self.inter()?;
        loop {
            let union = match self.peek() {
                Some(Tok::Colon | Tok::Pipe) => true,
                Some(Tok::Minus) => false,
                _ => return Ok(left),
            };
            self.pos += 1;
            // TickStock's keys tolerate blanks between colons (`a::b`).
            while union && matches!(self.peek(), Some(Tok::Colon)) {
                self.pos += 1;
            }
            let right = Box::new(self.inter()?);
            left = if union {
                UniverseExpr::Union(Box::new(left), right)
            } else {
                UniverseExpr::Diff(Box::new(left), right)
            };
        }
    }

    fn inter(&mut self) -> Result<UniverseExpr, UniverseExprError> {
        let mut left = self.postfix()?;
        while matches!(self.peek(), Some(Tok::Amp)) {
            self.pos += 1;
            let right = self.postfix()?;
            left = UniverseExpr::Inter(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn postfix(&mut self) -> Result<UniverseExpr, UniverseExprError> {
        let e = self.primary()?;
        if let Some(Tok::At(text)) = self.peek() {
            let at = self.at();
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| UniverseExprError::BadDate { at, text: text.clone() })?;
            self.pos += 1;
            return Ok(UniverseExpr::At(Box::new(e), date));
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<UniverseExpr, UniverseExprError> {
        match self.peek().cloned() {
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.expr()?;
                if !matches!(self.peek(), Some(Tok::Close)) {
                    return Err(UniverseExprError::Unexpected { at: self.at(), expected: ")", found: self.found() });
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Name(name)) => {
                self.pos += 1;
                match CacheKind::parse(&name) {
                    Some(kind) => {
                        if !matches!(self.peek(), Some(Tok::Colon)) {
                            return Err(UniverseExprError::MissingCacheKey(kind.as_str()));
                        }
                        self.pos += 1;
                        match self.peek().cloned() {
                            Some(Tok::Name(key)) => {
                                self.pos += 1;
                                Ok(UniverseExpr::Part(KeyPart::Cache(kind, key)))
                            }
                            _ => Err(UniverseExprError::MissingCacheKey(kind.as_str())),
                        }
                    }
                    None => Ok(UniverseExpr::Part(KeyPart::Group(name))),
                }
            }
            _ => Err(UniverseExprError::Unexpected {
                at: self.at(),
                expected: "a universe name or (",
                found: self.found(),
            }),
        }
    }
}

impl UniverseExpr {
    /// Parses an expression.
    pub fn parse(raw: &str) -> Result<UniverseExpr, UniverseExprError> {
        let mut toks = lex(raw)?;
        // Leading and trailing colons are blanks in TickStock's keys.
        while matches!(toks.first(), Some((_, Tok::Colon))) {
            toks.remove(0);
        }
        while matches!(toks.last(), Some((_, Tok::Colon))) {
            toks.pop();
        }
        if toks.is_empty() {
            return Err(UniverseExprError::Empty);
        }
        let mut p = Parser { toks, pos: 0, len: raw.chars().count() };
        let e = p.expr()?;
        if p.pos < p.toks.len() {
            return Err(UniverseExprError::Unexpected {
                at: p.at(),
                expected: "an operator or the end",
                found: p.found(),
            });
        }
        Ok(e)
    }

    /// Every part with the day it is read on (`None`: today), in order, each once.
    pub fn leaves(&self) -> Vec<(KeyPart, Option<NaiveDate>)> {
        let mut out = Vec::new();
        self.collect(None, &mut out);
        out
    }

    fn collect(&self, day: Option<NaiveDate>, out: &mut Vec<(KeyPart, Option<NaiveDate>)>) {
        match self {
            UniverseExpr::Part(p) => {
                if !out.iter().any(|(q, d)| q == p && *d == day) {
                    out.push((p.clone(), day));
                }
            }
            UniverseExpr::Union(a, b) | UniverseExpr::Inter(a, b) | UniverseExpr::Diff(a, b) => {
                a.collect(day, out);
                b.collect(day, out);
            }
            // The innermost date wins: `(a@2010-01-01 | b)@2008-01-01` reads a in 2010.
            UniverseExpr::At(e, d) => e.collect(Some(*d), out),
        }
    }

    /// Evaluates with each leaf's members (owned tickers, or borrowed from a snapshot).
    pub fn eval<T: Ord + Clone>(&self, leaf: &dyn Fn(&KeyPart, Option<NaiveDate>) -> BTreeSet<T>) -> BTreeSet<T> {
        self.eval_on(None, leaf)
    }

    fn eval_on<T: Ord + Clone>(
        &self,
        day: Option<NaiveDate>,
        leaf: &dyn Fn(&KeyPart, Option<NaiveDate>) -> BTreeSet<T>,
    ) -> BTreeSet<T> {
        match self {
            UniverseExpr::Part(p) => leaf(p, day),
            UniverseExpr::Union(a, b) => &a.eval_on(day, leaf) | &b.eval_on(day, leaf),
            UniverseExpr::Inter(a, b) => &a.eval_on(day, leaf) & &b.eval_on(day, leaf),
            UniverseExpr::Diff(a, b) => &a.eval_on(day, leaf) - &b.eval_on(day, leaf),
            UniverseExpr::At(e, d) => e.eval_on(Some(*d), leaf),
        }
    }
}

impl fmt::Display for UniverseExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UniverseExpr::Part(p) => write!(f, "{p}"),
            UniverseExpr::Union(a, b) => write!(f, "({a}|{b})"),
            UniverseExpr::Inter(a, b) => write!(f, "({a}&{b})"),
            UniverseExpr::Diff(a, b) => write!(f, "({a}-{b})"),
            UniverseExpr::At(e, d) => write!(f, "({e})@{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn g(n: &str) -> Box<UniverseExpr> {
        Box::new(UniverseExpr::Part(KeyPart::Group(n.into())))
    }

    #[test]
    fn grammar() {
        use UniverseExpr::*;
        let p = |s: &str| UniverseExpr::parse(s).unwrap();
        assert_eq!(p("sp500&information_technology"), Inter(g("sp500"), g("information_technology")));
        assert_eq!(p("(nasdaq100|dow30)-SPY"), Diff(Box::new(Union(g("nasdaq100"), g("dow30"))), g("SPY")));
        let d = NaiveDate::from_ymd_opt(2008, 9, 12).unwrap();
        assert_eq!(p("sp500@2008-09-12 - sp500"), Diff(Box::new(At(g("sp500"), d)), g("sp500")));
        assert_eq!(p("sp500 @ 2008-09-12-sp500"), p("sp500@2008-09-12 - sp500"), "a date is read whole");
        assert_eq!(p("a|b&c"), Union(g("a"), Box::new(Inter(g("b"), g("c")))), "& binds tighter");
        assert_eq!(p("a-b-c"), Diff(Box::new(Diff(g("a"), g("b"))), g("c")), "left to right");
        // TickStock's keys mean what they meant.
        let legacy = p(" nasdaq100 : SPY::ETF_universe:etf_core: ");
        let parts: Vec<String> = legacy.leaves().into_iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(parts, ["nasdaq100", "SPY", "etf_universe:etf_core"]);
        assert_eq!(p("stock_universe:index_dow30&dow30").leaves().len(), 2);
    }

    #[test]
    fn errors_say_where() {
        let e = |s: &str| UniverseExpr::parse(s).unwrap_err();
        assert_eq!(e(" : "), UniverseExprError::Empty);
        assert!(matches!(e("a&"), UniverseExprError::Unexpected { at: 2, .. }));
        assert!(matches!(e("(a|b"), UniverseExprError::Unexpected { expected: ")", .. }));
        assert!(matches!(e("a@2008-13-01"), UniverseExprError::BadDate { at: 1, .. }));
        assert_eq!(e("dow30:stock_universe"), UniverseExprError::MissingCacheKey("stock_universe"));
        assert!(matches!(e("a b"), UniverseExprError::Unexpected { at: 2, .. }));
        assert!(matches!(e("a,b"), UniverseExprError::Unexpected { at: 1, .. }));
    }

    #[test]
    fn innermost_date_wins() {
        let e = UniverseExpr::parse("(a@2010-01-01 | b)@2008-01-01").unwrap();
        let days: Vec<String> = e.leaves().iter().map(|(k, d)| format!("{k}@{}", d.unwrap())).collect();
        assert_eq!(days, ["a@2010-01-01", "b@2008-01-01"]);
    }

    const NAMES: [&str; 4] = ["a", "b", "c", "d"];

    fn expr() -> impl Strategy<Value = UniverseExpr> {
        let leaf = prop::sample::select(&NAMES[..]).prop_map(|n| UniverseExpr::Part(KeyPart::Group(n.into())));
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| UniverseExpr::Union(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| UniverseExpr::Inter(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| UniverseExpr::Diff(Box::new(a), Box::new(b))),
            ]
        })
    }

    fn dated_expr() -> impl Strategy<Value = UniverseExpr> {
        let group = prop::sample::select(&NAMES[..]).prop_map(|n| UniverseExpr::Part(KeyPart::Group(n.into())));
        let cache = prop::sample::select(&["index_sp500", "mega_cap"][..])
            .prop_map(|k| UniverseExpr::Part(KeyPart::Cache(CacheKind::Stock, k.into())));
        let leaf = prop_oneof![group, cache];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| UniverseExpr::Union(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| UniverseExpr::Diff(Box::new(a), Box::new(b))),
                (inner, 0..9000i64).prop_map(|(a, d)| {
                    UniverseExpr::At(
                        Box::new(a),
                        NaiveDate::from_ymd_opt(2001, 1, 1).unwrap() + chrono::Duration::days(d),
                    )
                }),
            ]
        })
    }

    /// Each name's members among eight symbols, as bit masks.
    fn sets() -> impl Strategy<Value = [u8; 4]> {
        any::<[u8; 4]>()
    }

    fn members(mask: u8) -> BTreeSet<String> {
        (0..8).filter(|i| mask & (1 << i) != 0).map(|i| format!("S{i}")).collect()
    }

    /// The reference: the same expression on bit masks.
    fn reference(e: &UniverseExpr, sets: &[u8; 4]) -> u8 {
        match e {
            UniverseExpr::Part(KeyPart::Group(n)) => sets[NAMES.iter().position(|x| x == n).unwrap()],
            UniverseExpr::Union(a, b) => reference(a, sets) | reference(b, sets),
            UniverseExpr::Inter(a, b) => reference(a, sets) & reference(b, sets),
            UniverseExpr::Diff(a, b) => reference(a, sets) & !reference(b, sets),
            other => unreachable!("{other:?}"),
        }
    }

    fn eval(e: &UniverseExpr, sets: &[u8; 4]) -> BTreeSet<String> {
        e.eval(&|k, _| match k {
            KeyPart::Group(n) => members(sets[NAMES.iter().position(|x| x == n).unwrap()]),
            KeyPart::Cache(..) => BTreeSet::new(),
        })
    }

    proptest! {
        #[test]
        fn evaluates_as_the_reference_and_parses_its_own_text(e in expr(), s in sets()) {
            prop_assert_eq!(eval(&e, &s), members(reference(&e, &s)));
            prop_assert_eq!(UniverseExpr::parse(&e.to_string()).unwrap(), e);
        }

        /// The laws, on expressions the parser reads from text (so its precedence and grouping take part):
        /// union and intersection commute, a - a is empty, De Morgan holds within the known symbols.
        #[test]
        fn laws(a in expr(), b in expr(), s in sets()) {
            let v = |text: String| eval(&UniverseExpr::parse(&text).unwrap(), &s);
            prop_assert_eq!(v(format!("{a}|{b}")), v(format!("{b}|{a}")));
            prop_assert_eq!(v(format!("{a}:{b}")), v(format!("{a}|{b}")));
            prop_assert_eq!(v(format!("{a}&{b}")), v(format!("{b}&{a}")));
            let self_difference = v(format!("{a}-{a}"));
            prop_assert!(self_difference.is_empty());
            let all = "(a|b|c|d)";
            prop_assert_eq!(v(format!("{all}-({a}|{b})")), v(format!("({all}-{a})&({all}-{b})")));
            prop_assert_eq!(v(format!("{all}-({a}&{b})")), v(format!("({all}-{a})|({all}-{b})")));
        }

        /// Dates and cache rows survive printing and parsing too.
        #[test]
        fn parses_its_own_text_with_dates_and_cache_rows(e in dated_expr()) {
            prop_assert_eq!(UniverseExpr::parse(&e.to_string()).unwrap(), e);
        }
    }
}
