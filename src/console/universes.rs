//! The console's universe pages, read from the snapshot: search every group and `cache_entries` universe; a
//! group's members (sortable, paged, as of a past day from the stored history, with its membership changes and a
//! CSV download; ETFs with their holdings as a chart); a key box resolving any universe key or expression
//! (`nasdaq100:dow30`, `sp500 & SPY`); and a stock's page (its ETFs with weights, sector, themes, universes).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::pages::{self, layout};
use super::session::Session;
use crate::api::AppState;
use crate::cache::{Group, Snapshot};
use crate::domain::{GroupKind, UniverseExpr};
use crate::universes::ResolveError;

/// The search page.
pub(super) const SEARCH: &str = "/admin/universes";
/// A group's page (`?kind=&name=`: names from TickStock's tables may hold any character).
pub(super) const GROUP: &str = "/admin/group";
/// The key box's answer.
pub(super) const KEY: &str = "/admin/universes/key";
/// A stock's page.
pub(super) const STOCK: &str = "/admin/stock";

/// Members per page.
pub(super) const PER_PAGE: usize = 100;
/// Search results listed at most (the count says how many matched).
const SEARCH_LIMIT: usize = 500;
/// Membership changes listed at most on a group page (newest first).
const CHANGES_SHOWN: usize = 200;
/// Holdings drawn in an ETF's chart.
const CHART_BARS: usize = 15;

/// A query string from pairs, encoded.
pub(super) fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The link to a group's page.
pub(super) fn group_href(kind: GroupKind, name: &str) -> String {
    format!("{GROUP}?{}", query(&[("kind", kind.as_str()), ("name", name)]))
}

/// The link to a stock's page.
pub(super) fn stock_href(ticker: &str) -> String {
    format!("{STOCK}?{}", query(&[("ticker", ticker)]))
}

/// The link resolving a universe key.
fn key_href(key: &str) -> String {
    format!("{KEY}?{}", query(&[("key", key)]))
}

/// `?q=&kind=` of the search page.
#[derive(Deserialize, Default)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
    /// A group kind, `cache`, or empty for all.
    #[serde(default)]
    kind: String,
}

/// One search hit.
struct Hit {
    kind: &'static str,
    name: String,
    description: Option<String>,
    members: usize,
    href: String,
}

pub(super) async fn search(session: Session, State(state): State<AppState>, Query(s): Query<SearchQuery>) -> Response {
    let snap = state.cache.snapshot();
    let needle = s.q.trim().to_ascii_lowercase();
    let hit = |t: &str| needle.is_empty() || t.to_ascii_lowercase().contains(&needle);
    let kind = GroupKind::parse(&s.kind);
    let cache_only = s.kind.eq_ignore_ascii_case("cache");
    let mut hits = Vec::new();
    if !cache_only {
        for g in snap.groups().filter(|g| kind.is_none_or(|k| k == g.kind)) {
            if hit(&g.name) || g.description.as_deref().is_some_and(hit) {
                hits.push(Hit {
                    kind: g.kind.as_str(),
                    name: g.name.to_string(),
                    description: g.description.as_deref().map(str::to_string),
                    members: g.members.len(),
                    href: group_href(g.kind, &g.name),
                });
            }
        }
    }
    if kind.is_none() {
        for c in snap.cache_universes() {
            let key = format!("{}:{}", c.kind.as_str(), c.key);
            if hit(&key) || hit(&c.name) {
                hits.push(Hit {
                    kind: c.kind.as_str(),
                    description: Some(c.name.to_string()),
                    members: c.symbols.as_ref().map_or(0, |s| s.len()),
                    href: key_href(&key),
                    name: key,
                });
            }
        }
    }
    let total = hits.len();
    hits.truncate(SEARCH_LIMIT);
    let kinds = GroupKind::ALL.iter().map(|k| (k.as_str(), k.as_str())).chain([("cache", "cache_entries universes")]);
    let body = html! {
        h1 { "Universes" }
        section {
            (key_box(""))
            form.search method="get" action=(SEARCH) {
                // htmx: the results follow the typing (the button still submits without script).
                label { "Search " input type="search" name="q" value=(s.q) placeholder="name or description"
                    hx-get=(SEARCH) hx-trigger="input changed delay:300ms, search" hx-include="closest form"
                    hx-target="#hits" hx-select="#hits" hx-swap="outerHTML" hx-push-url="true"; }
                label { " Kind "
                    select name="kind" {
                        option value="" { "all" }
                        @for (value, label) in kinds {
                            option value=(value) selected[s.kind.eq_ignore_ascii_case(value)] { (label) }
                        }
                    }
                }
                button type="submit" { "Search" }
            }
        }
        section #hits {
            p.count { (total) " match" @if total != 1 { "es" } @if total > hits.len() { " (the first " (hits.len()) " shown)" } "." }
            table.hits {
                tr { th { "Kind" } th { "Name" } th { "Description" } th.num { "Members" } }
                @for h in &hits {
                    tr { td { (h.kind) } td { a href=(h.href) { (h.name) } } td { (h.description.as_deref().unwrap_or("")) } td.num { (h.members) } }
                }
            }
        }
    };
    pages::ok(layout("Universes", Some(&session), body))
}

/// The key box: any universe key or expression.
fn key_box(value: &str) -> Markup {
    html! {
        form.key method="get" action=(KEY) {
            label { "Universe key " input type="text" name="key" value=(value) placeholder="nasdaq100:dow30, sp500 & SPY, sp500@2015-06-30" size="40" required; }
            button type="submit" { "Resolve" }
        }
    }
}

/// How a member list is ordered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Ticker,
    Name,
    Weight,
    Sector,
    Industry,
}

impl SortBy {
    const ALL: [(SortBy, &'static str, &'static str); 5] = [
        (SortBy::Ticker, "ticker", "Ticker"),
        (SortBy::Name, "name", "Name"),
        (SortBy::Weight, "weight", "Weight"),
        (SortBy::Sector, "sector", "Sector"),
        (SortBy::Industry, "industry", "Industry"),
    ];

    fn parse(s: &str) -> Option<SortBy> {
        SortBy::ALL.iter().find(|(_, k, _)| *k == s).map(|(b, _, _)| *b)
    }

    fn key(self) -> &'static str {
        SortBy::ALL.iter().find(|(b, _, _)| *b == self).map_or("ticker", |(_, k, _)| k)
    }
}

/// The paging, ordering and day of a member list, as asked.
#[derive(Deserialize, Default, Clone)]
pub(super) struct ListQuery {
    #[serde(default)]
    sort: String,
    /// `asc` or `desc`.
    #[serde(default)]
    dir: String,
    /// 1-based (a string: numbers do not survive `serde(flatten)` in a query string).
    #[serde(default)]
    page: String,
    /// `YYYY-MM-DD` (empty: now).
    #[serde(default)]
    as_of: String,
    /// `csv` for a download.
    #[serde(default)]
    format: String,
}

impl ListQuery {
    fn page(&self) -> usize {
        self.page.trim().parse().unwrap_or(1)
    }
}

/// One member as listed.
pub(super) struct Line<'a> {
    ticker: &'a str,
    name: &'a str,
    weight: Option<f64>,
    sector: &'a str,
    industry: &'a str,
}

/// A member's line, with what the snapshot knows of the symbol now.
fn line<'a>(snap: &'a Snapshot, ticker: &'a str, weight: Option<f64>) -> Line<'a> {
    match snap.symbol_id(ticker).map(|id| snap.symbol(id)) {
        Some(s) => Line {
            ticker,
            name: s.name.as_deref().unwrap_or(""),
            weight,
            sector: snap.sector_of(s).map(|g| &*g.name).or(s.sector_text.as_deref()).unwrap_or(""),
            industry: s.industry.as_deref().unwrap_or(""),
        },
        None => Line { ticker, name: "", weight, sector: "", industry: "" },
    }
}

/// Sorts lines (ties by ticker; weightless lines last, either way, when sorting by weight).
fn sort_lines(lines: &mut [Line<'_>], by: SortBy, desc: bool) {
    let way = |o: std::cmp::Ordering| if desc { o.reverse() } else { o };
    lines.sort_by(|a, b| {
        let o = match (by, a.weight, b.weight) {
            (SortBy::Ticker, ..) => way(a.ticker.cmp(b.ticker)),
            (SortBy::Name, ..) => way(a.name.cmp(b.name)),
            (SortBy::Sector, ..) => way(a.sector.cmp(b.sector)),
            (SortBy::Industry, ..) => way(a.industry.cmp(b.industry)),
            (SortBy::Weight, Some(x), Some(y)) => way(x.total_cmp(&y)),
            (SortBy::Weight, x, y) => y.is_none().cmp(&x.is_none()).reverse(),
        };
        o.then_with(|| a.ticker.cmp(b.ticker))
    });
}

fn pct(w: Option<f64>) -> String {
    w.map_or_else(String::new, |w| format!("{:.2}%", w * 100.0))
}

/// A member list's CSV download (every member, in the order asked).
fn csv_download(file_stem: &str, lines: &[Line<'_>]) -> Response {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["ticker", "name", "weight_percent", "sector", "industry"]);
    for l in lines {
        let weight = l.weight.map_or_else(String::new, |w| format!("{:.4}", w * 100.0));
        let _ = w.write_record([l.ticker, l.name, &weight, l.sector, l.industry]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    pages::download(&format!("{file_stem}.csv"), "text/csv; charset=utf-8", bytes)
}

/// The sortable, paged member table. `href(sort, dir, page)` links to another ordering or page.
fn member_table(
    lines: &[Line<'_>],
    by: SortBy,
    desc: bool,
    page: usize,
    weights: bool,
    href: &dyn Fn(SortBy, bool, usize) -> String,
) -> Markup {
    let pages = lines.len().div_ceil(PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let shown = &lines[((page - 1) * PER_PAGE).min(lines.len())..(page * PER_PAGE).min(lines.len())];
    html! {
        p.count { (lines.len()) " members" @if pages > 1 { ", page " span.page { (page) } " of " (pages) } "." }
        table.members {
            tr {
                @for (b, _, label) in SortBy::ALL {
                    @if b != SortBy::Weight || weights {
                        // A header sorts by its column; a second click reverses.
                        th { a.sort href=(href(b, b == by && !desc, 1)) hx-get=(href(b, b == by && !desc, 1)) hx-target="#members"
                            hx-select="#members" hx-swap="outerHTML" hx-push-url="true" { (label) @if b == by { (if desc { " ▼" } else { " ▲" }) } } }
                    }
                }
            }
            @for l in shown {
                tr {
                    td.ticker { a href=(stock_href(l.ticker)) { (l.ticker) } }
                    td { (l.name) }
                    @if weights { td.num { (pct(l.weight)) } }
                    td { (l.sector) }
                    td { (l.industry) }
                }
            }
        }
        @if pages > 1 {
            nav.pager {
                @if page > 1 { a rel="prev" href=(href(by, desc, page - 1)) hx-get=(href(by, desc, page - 1)) hx-target="#members"
                    hx-select="#members" hx-swap="outerHTML" hx-push-url="true" { "← Previous" } }
                " "
                @if page < pages { a rel="next" href=(href(by, desc, page + 1)) hx-get=(href(by, desc, page + 1)) hx-target="#members"
                    hx-select="#members" hx-swap="outerHTML" hx-push-url="true" { "Next →" } }
            }
        }
    }
}

/// `?kind=&name=` and the list's options.
#[derive(Deserialize)]
pub(super) struct GroupQuery {
    kind: String,
    name: String,
    #[serde(flatten)]
    list: ListQuery,
}

/// A page for a bad request (an unknown group, an unparseable date).
fn not_found(session: &Session, status: StatusCode, title: &str, why: &str) -> Response {
    pages::respond(
        status,
        layout(
            title,
            Some(session),
            html! { h1 { (title) } p.error role="alert" { (why) } section { (key_box("")) } p { a href=(SEARCH) { "Search the universes" } } },
        ),
    )
}

/// The day asked, if any.
fn day_of(raw: &str) -> Result<Option<chrono::NaiveDate>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("as_of: {raw:?} is not a date (YYYY-MM-DD)"))
}

pub(super) async fn group(session: Session, State(state): State<AppState>, Query(q): Query<GroupQuery>) -> Response {
    let snap = state.cache.snapshot();
    let Some(g) = GroupKind::parse(&q.kind).and_then(|k| snap.group_named(k, &q.name)) else {
        return not_found(
            &session,
            StatusCode::NOT_FOUND,
            "No such group",
            &format!("No {} group is named {:?}.", q.kind, q.name),
        );
    };
    let day = match day_of(&q.list.as_of) {
        Ok(d) => d,
        Err(why) => return not_found(&session, StatusCode::BAD_REQUEST, "Bad date", &why),
    };
    let lines: Result<Vec<Line<'_>>, ResolveError> = match day {
        None => Ok(g
            .members
            .iter()
            .map(|m| line(&snap, &snap.symbol(m.symbol).ticker, m.weight.map(|w| w.fraction())))
            .collect()),
        Some(d) => snap.intervals_on(g, d).map(|v| v.into_iter().map(|i| line(&snap, &i.symbol, i.weight)).collect()),
    };
    let weights = g.kind == GroupKind::Etf;
    let default_sort = if weights { SortBy::Weight } else { SortBy::Ticker };
    let by = SortBy::parse(&q.list.sort).unwrap_or(default_sort);
    let desc = match q.list.dir.as_str() {
        "desc" => true,
        "asc" => false,
        _ => by == SortBy::Weight,
    };
    let (mut lines, refused) = match lines {
        Ok(l) => (l, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    sort_lines(&mut lines, by, desc);
    if let (Some(why), "csv") = (&refused, q.list.format.as_str()) {
        return not_found(&session, StatusCode::UNPROCESSABLE_ENTITY, "No members that day", why);
    }
    if q.list.format == "csv" {
        let stem = match day {
            Some(d) => format!("{}_members_{d}", g.name),
            None => format!("{}_members", g.name),
        };
        return csv_download(&stem, &lines);
    }
    let as_of = q.list.as_of.trim().to_string();
    // A link to this list with another ordering, page or format (`page` or `format` as the last pair).
    let link = |by: SortBy, desc: bool, last: (&str, &str)| {
        let dir = if desc { "desc" } else { "asc" };
        let pairs =
            [("kind", g.kind.as_str()), ("name", &g.name), ("as_of", &as_of), ("sort", by.key()), ("dir", dir), last];
        format!("{GROUP}?{}", query(&pairs))
    };
    let href = |by: SortBy, desc: bool, page: usize| link(by, desc, ("page", &page.to_string()));
    let csv_href = link(by, desc, ("format", "csv"));
    let history = snap.history().of(g.kind, &g.name);
    let today = chrono::Utc::now().date_naive();
    let changes = history
        .and_then(|h| snap.history_changes(g, h.start.date_naive(), day.unwrap_or(today)).ok())
        .unwrap_or_default();
    let chart = weights.then(|| holdings_chart(&lines));
    let body = html! {
        h1 { (g.kind.as_str()) " " span.group-name { (g.name) } }
        @if let Some(d) = &g.description { p.description { (d) } }
        section {
            form.as-of method="get" action=(GROUP) {
                input type="hidden" name="kind" value=(g.kind.as_str());
                input type="hidden" name="name" value=(g.name);
                input type="hidden" name="sort" value=(by.key());
                input type="hidden" name="dir" value=(if desc { "desc" } else { "asc" });
                label { "As of " input type="date" name="as_of" value=(as_of)
                    min=[history.map(|h| h.start.date_naive().to_string())] max=(today.to_string()); }
                button type="submit" { "Show" }
                @if day.is_some() { " " a href=(group_href(g.kind, &g.name)) { "Now" } }
            }
            @match history {
                Some(h) => p.muted { "History from " (h.start.date_naive()) "." },
                None => p.muted { "No membership history is stored for this group: only its members now." },
            }
            @if let Some(d) = day { p.as-of-note { "Members at the end of " strong { (d) } "." } }
            @if let Some(why) = &refused { p.error role="alert" { (why) } }
            p { a.csv href=(csv_href) download { "Download CSV" } }
        }
        @if let Some(chart) = chart {
            section { h2 { "Holdings by weight" } div.chart { (chart) } }
        }
        // The part the sort and page links replace in place (htmx), or the whole page without script.
        section #members { (member_table(&lines, by, desc, q.list.page(), weights, &href)) }
        section {
            h2 { "Membership changes" }
            @if changes.is_empty() { p { "No change recorded." } } @else {
                p.muted { (changes.len()) " changes" @if day.is_some() { " up to that day" } @if changes.len() > CHANGES_SHOWN { "; the latest " (CHANGES_SHOWN) " shown" } "." }
                table.changes {
                    tr { th { "Date" } th { "Change" } th { "Ticker" } }
                    @for c in changes.iter().rev().take(CHANGES_SHOWN) {
                        tr { td.when { (c.date) } td { (c.action) } td { a href=(stock_href(&c.symbol)) { (c.symbol) } } }
                    }
                }
            }
        }
    };
    // A day before the history: the page, saying so (422, as the API answers the same question).
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    pages::respond(status, layout(&format!("{} {}", g.kind.as_str(), g.name), Some(&session), body))
}

/// The heaviest holdings as a bar chart (inline SVG, labels escaped).
fn holdings_chart(lines: &[Line<'_>]) -> Markup {
    let mut top: Vec<&Line<'_>> = lines.iter().filter(|l| l.weight.is_some()).collect();
    top.sort_by(|a, b| b.weight.unwrap_or(0.0).total_cmp(&a.weight.unwrap_or(0.0)));
    let bars: Vec<(String, f64, String)> = top
        .iter()
        .take(CHART_BARS)
        .map(|l| (l.ticker.to_string(), l.weight.unwrap_or(0.0) * 100.0, pct(l.weight)))
        .collect();
    if bars.is_empty() {
        return html! { p { "No weights recorded." } };
    }
    PreEscaped(crate::report::bar_chart("holdings by weight", &bars))
}

/// `?key=` and the list's options.
#[derive(Deserialize)]
pub(super) struct KeyQuery {
    #[serde(default)]
    key: String,
    #[serde(flatten)]
    list: ListQuery,
}

pub(super) async fn key(session: Session, State(state): State<AppState>, Query(q): Query<KeyQuery>) -> Response {
    let snap = state.cache.snapshot();
    let raw = q.key.trim();
    let expr = match UniverseExpr::parse(raw) {
        Ok(e) => e,
        Err(e) => return key_refused(&session, raw, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    // One group, now: its own page (history, changes, chart).
    if let UniverseExpr::Part(part @ crate::domain::KeyPart::Group(_)) = &expr
        && let Ok(key) = crate::domain::UniverseKey::parse(&part.to_string())
        && let Ok(crate::cache::Resolved::Group(g)) = snap.resolve(&key)
    {
        return Redirect::to(&group_href(g.kind, &g.name)).into_response();
    }
    let tickers = match snap.resolve_expr(&expr) {
        Ok(t) => t,
        Err(e @ ResolveError::Unknown(_)) => return key_refused(&session, raw, StatusCode::NOT_FOUND, &e.to_string()),
        Err(e) => return key_refused(&session, raw, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let by = SortBy::parse(&q.list.sort).filter(|b| *b != SortBy::Weight).unwrap_or(SortBy::Ticker);
    let desc = q.list.dir == "desc";
    let mut lines: Vec<Line<'_>> = tickers.into_iter().map(|t| line(&snap, t, None)).collect();
    sort_lines(&mut lines, by, desc);
    if q.list.format == "csv" {
        return csv_download("universe", &lines);
    }
    let href = |by: SortBy, desc: bool, page: usize| {
        let page = page.to_string();
        format!(
            "{KEY}?{}",
            query(&[("key", raw), ("sort", by.key()), ("dir", if desc { "desc" } else { "asc" }), ("page", &page)])
        )
    };
    let dir = if desc { "desc" } else { "asc" };
    let csv_href = format!("{KEY}?{}", query(&[("key", raw), ("sort", by.key()), ("dir", dir), ("format", "csv")]));
    let body = html! {
        h1 { "Universe " code.key { (raw) } }
        section { (key_box(raw)) p { a.csv href=(csv_href) download { "Download CSV" } } }
        section #members { (member_table(&lines, by, desc, q.list.page(), false, &href)) }
    };
    pages::ok(layout("Universe key", Some(&session), body))
}

fn key_refused(session: &Session, raw: &str, status: StatusCode, why: &str) -> Response {
    let body = html! {
        h1 { "Universe key" }
        p.error role="alert" { (why) }
        section { (key_box(raw)) }
    };
    pages::respond(status, layout("Universe key", Some(session), body))
}

/// `?ticker=`
#[derive(Deserialize)]
pub(super) struct StockQuery {
    #[serde(default)]
    ticker: String,
}

pub(super) async fn stock(session: Session, State(state): State<AppState>, Query(q): Query<StockQuery>) -> Response {
    let snap = state.cache.snapshot();
    let Some(s) = snap.symbol_id(q.ticker.trim()).map(|id| snap.symbol(id)) else {
        return not_found(
            &session,
            StatusCode::NOT_FOUND,
            "No such symbol",
            &format!("No symbol {:?} is known.", q.ticker),
        );
    };
    let mut etfs: Vec<(&Group, Option<f64>)> =
        snap.memberships_of(s, GroupKind::Etf).map(|(g, w)| (g, w.map(|w| w.fraction()))).collect();
    etfs.sort_by(|a, b| b.1.unwrap_or(0.0).total_cmp(&a.1.unwrap_or(0.0)).then(a.0.name.cmp(&b.0.name)));
    let of = |kind| snap.memberships_of(s, kind).map(|(g, _)| g).collect::<Vec<&Group>>();
    let (themes, universes) = (of(GroupKind::Theme), of(GroupKind::Universe));
    let others: Vec<&Group> = [GroupKind::Segment, GroupKind::Custom].into_iter().flat_map(of).collect();
    let links = |groups: &[&Group]| {
        html! {
            @if groups.is_empty() { "none" }
            @for (i, g) in groups.iter().enumerate() { @if i > 0 { ", " } a href=(group_href(g.kind, &g.name)) { (g.name) } }
        }
    };
    let body = html! {
        h1 { span.ticker { (s.ticker) } @if let Some(n) = &s.name { " · " (n) } }
        section {
            table.facts {
                tr { th { "Type" } td { (s.kind.as_deref().unwrap_or("")) } }
                tr { th { "Exchange" } td { (s.exchange.as_deref().unwrap_or("")) } }
                tr { th { "Market cap" } td.num { (s.market_cap.map(|c| format!("${:.2} B", c as f64 / 1e9)).unwrap_or_default()) } }
                tr { th { "Sector" } td { @match snap.sector_of(s) {
                    Some(g) => a href=(group_href(g.kind, &g.name)) { (g.name) },
                    None => (s.sector_text.as_deref().unwrap_or("")),
                } } }
                tr { th { "Industry" } td { (s.industry.as_deref().unwrap_or("")) } }
                tr { th { "Themes" } td.themes { (links(&themes)) } }
                tr { th { "Universes" } td.universes { (links(&universes)) } }
                @if !others.is_empty() { tr { th { "Other groups" } td { (links(&others)) } } }
            }
        }
        section {
            h2 { "ETFs holding it" }
            @if etfs.is_empty() { p { "No ETF holds it." } } @else {
                table.etfs {
                    tr { th { "ETF" } th { "Name" } th.num { "Weight" } }
                    @for (g, w) in &etfs {
                        tr { td { a href=(group_href(g.kind, &g.name)) { (g.name) } } td { (g.description.as_deref().unwrap_or("")) } td.num { (pct(*w)) } }
                    }
                }
            }
        }
    };
    pages::ok(layout(&s.ticker, Some(&session), body))
}
