//! Massive response bodies, typed as the OpenAPI spec and the recorded fixtures show them: only the fields the
//! spec marks required are required; `results` may be absent or `null`; volume is a float.

use serde::Deserialize;

/// One page of `/v2/aggs/ticker/{t}/range/…`.
#[derive(Debug, Clone, Deserialize)]
pub struct AggsPage {
    /// Echo of the requested ticker.
    pub ticker: Option<String>,
    /// `OK` (or `DELAYED` on delayed plans).
    pub status: Option<String>,
    /// Bars on this page; absent or `null` when there are none.
    pub results: Option<Vec<AggBar>>,
    /// Present while more bars remain.
    pub next_url: Option<String>,
}

/// One bar of an aggregates page.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct AggBar {
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    /// Volume (may be fractional).
    pub v: f64,
    /// Volume-weighted average price (optional).
    pub vw: Option<f64>,
    /// Start of the bar window, Unix milliseconds.
    pub t: i64,
    /// Number of trades (optional).
    pub n: Option<f64>,
    /// Present (true) only for OTC tickers.
    #[serde(default)]
    pub otc: bool,
}

/// `/v2/aggs/grouped/locale/us/market/stocks/{date}`: the whole market for one date, one page.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupedPage {
    /// `OK`.
    pub status: Option<String>,
    /// One bar per ticker that traded; absent or `null` on a closed day.
    pub results: Option<Vec<GroupedBar>>,
}

/// A bar of the grouped-daily answer. Its `t` is not the session date (see the fixture notes): rows are keyed by
/// the requested date.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct GroupedBar {
    #[serde(rename = "T")]
    pub ticker: String,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
    /// Timestamp (end of window; not used).
    pub t: Option<i64>,
    /// OTC flag.
    #[serde(default)]
    pub otc: bool,
}

/// One page of `/v3/reference/tickers`.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct TickersPage {
    pub results: Option<Vec<TickerRecord>>,
    /// Next page (cursor), absent on the last.
    pub next_url: Option<String>,
}

/// A ticker as the list endpoint and the overview endpoint describe it. Only `ticker`, `name`, `market` and
/// `locale` are required by the spec; the overview adds the SIC, size and listing fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct TickerRecord {
    pub ticker: String,
    pub name: Option<String>,
    /// `stocks`, `otc`, …
    pub market: Option<String>,
    /// `us`.
    pub locale: Option<String>,
    /// Primary listing MIC.
    pub primary_exchange: Option<String>,
    /// Type code (CS, ETF, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Still traded.
    pub active: Option<bool>,
    pub currency_name: Option<String>,
    /// SEC CIK.
    pub cik: Option<String>,
    /// Composite FIGI.
    pub composite_figi: Option<String>,
    /// Share-class FIGI.
    pub share_class_figi: Option<String>,
    /// When Massive last changed the record.
    pub last_updated_utc: Option<String>,
    /// Last trading day of a delisted ticker.
    pub delisted_utc: Option<String>,
    /// First listing date (`YYYY-MM-DD`; overview only).
    pub list_date: Option<String>,
    /// Market capitalisation (overview only).
    pub market_cap: Option<f64>,
    /// Shares of this class (overview only).
    pub share_class_shares_outstanding: Option<f64>,
    /// All classes in this class's terms (overview only).
    pub weighted_shares_outstanding: Option<f64>,
    /// SIC code, e.g. `"3571"` (overview only).
    pub sic_code: Option<String>,
    /// SIC description (overview only).
    pub sic_description: Option<String>,
    /// Employees (overview only).
    pub total_employees: Option<f64>,
    /// Exchange test symbols (NTEST): never part of a universe.
    #[serde(default)]
    pub is_test: bool,
}

/// `/v3/reference/tickers/{t}`: one object, not an array.
#[derive(Debug, Clone, Deserialize)]
pub struct OverviewResponse {
    /// The ticker.
    pub results: Option<TickerRecord>,
}

/// One page of ETF Global's endpoints (`/etf-global/v1/constituents`, `/profiles`): rows and the next page.
#[derive(Debug, Clone, Deserialize)]
pub struct EtfGlobalPage<T> {
    /// The rows.
    pub results: Option<Vec<T>>,
    /// The next page, if any.
    pub next_url: Option<String>,
}

/// A fund's profile on one effective date (ETF Global, through Massive; entitled with its dataset). The fields
/// this service keeps; the endpoint has many more (exposures, flows, market makers).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct EtfProfile {
    pub composite_ticker: Option<String>,
    pub issuer: Option<String>,
    /// `ETF`, `ETN`, …
    pub product_type: Option<String>,
    pub asset_class: Option<String>,
    /// Assets under management, in dollars.
    pub aum: Option<f64>,
    /// Net expense ratio, as a fraction (0.0945 % is 0.000945): the unit is not in Massive's spec; a public
    /// client's test of this endpoint gives VTI (0.03 %) `management_fee: 0.0003`. See
    /// [`EtfProfile::expense_ratio_percent`].
    pub net_expenses: Option<f64>,
    pub primary_benchmark: Option<String>,
    pub inception_date: Option<chrono::NaiveDate>,
    /// The day the profile was as given.
    pub effective_date: Option<chrono::NaiveDate>,
}

impl EtfProfile {
    /// The net expense ratio in percent, as TickStock's `symbols.expense_ratio` (numeric(5,4)) holds it; `None`
    /// when absent or implausible as a fraction (above 0.2, i.e. 20 %: the unit would be other than assumed).
    pub fn expense_ratio_percent(&self) -> Option<f64> {
        self.net_expenses.filter(|e| (0.0..=0.2).contains(e)).map(|e| (e * 1e6).round() / 1e4)
    }
}

/// One holding of an ETF (ETF Global, through Massive).
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct EtfConstituent {
    pub composite_ticker: Option<String>,
    pub constituent_ticker: Option<String>,
    pub constituent_name: Option<String>,
    /// Weight as a fraction.
    pub weight: Option<f64>,
    pub asset_class: Option<String>,
    pub security_type: Option<String>,
    /// The day the holdings were as given.
    pub effective_date: Option<chrono::NaiveDate>,
}

/// `/vX/reference/tickers/{id}/events`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventsResponse {
    /// The security and its events.
    pub results: Option<TickerEvents>,
}

/// A security's ticker changes.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct TickerEvents {
    pub name: Option<String>,
    /// The security's identity across tickers.
    pub composite_figi: Option<String>,
    pub cik: Option<String>,
    #[serde(default)]
    pub events: Vec<TickerEvent>,
}

/// One event (`ticker_change`: the ticker it took that day).
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct TickerEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub date: chrono::NaiveDate,
    pub ticker_change: Option<TickerChange>,
}

/// The ticker an event changed to.
#[derive(Debug, Clone, Deserialize)]
pub struct TickerChange {
    /// The new ticker.
    pub ticker: String,
}

/// `/v3/reference/tickers/types`.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct TickerTypesPage {
    pub results: Option<Vec<TickerType>>,
}

/// One ticker type.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct TickerType {
    /// Code (`CS`).
    pub code: String,
    /// Description (`Common Stock`).
    pub description: Option<String>,
    /// `stocks`, …
    pub asset_class: Option<String>,
    /// `us`.
    pub locale: Option<String>,
}

/// An error body: `status` and `request_id` plus either `error` or `message`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    /// `ERROR`, `NOT_AUTHORIZED`, …
    pub status: Option<String>,
    /// Request id, for support.
    pub request_id: Option<serde_json::Value>,
    /// Message (some errors).
    pub error: Option<String>,
    /// Message (other errors).
    pub message: Option<String>,
}

impl ErrorBody {
    /// The human-readable part of an error response: `message`, else `error`, else the start of the raw body.
    pub fn describe(body: &[u8]) -> String {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => e.message.or(e.error).or(e.status).unwrap_or_else(|| "no message".to_string()),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() { "empty body".to_string() } else { text.chars().take(200).collect() }
            }
        }
    }
}
