//! The Massive (ex-Polygon) REST client: aggregates, grouped daily, reference tickers, ticker overview and types.
//!
//! Thin on purpose: reqwest with an explicit request and connect timeout, the key in an `Authorization: Bearer`
//! header (so `next_url` is followed verbatim and the key never lands in a URL or a log), a plan-sized rate
//! limit ([`limit`]) and a concurrency limit, and retries with exponential backoff and jitter (backon) on 429,
//! 5xx and timeouts only, honouring `Retry-After`. 401/403 are never retried and say what to do. A body that is
//! not what the spec describes is an error naming the request path, never a panic.

pub mod limit;
pub mod types;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::NaiveDate;
use reqwest::{StatusCode, Url, header};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use crate::domain::Timeframe;
pub use limit::{RateLimit, RateSpec, RateSpecError, SharedLimit};
pub use types::{AggBar, EtfConstituent, GroupedBar, TickerEvent, TickerEvents, TickerRecord, TickerType};

/// The current Massive host (`api.polygon.io` answers the same keys).
pub const DEFAULT_BASE_URL: &str = "https://api.massive.com";
/// Largest `limit` the aggregates endpoint accepts (base bars scanned per page).
const AGGS_PAGE_LIMIT: u32 = 50_000;
/// Largest `limit` of the tickers list.
const TICKERS_PAGE_LIMIT: u32 = 1000;
/// A walk that needs more pages than this is looping (polygon-io/issues #289 saw a repeating cursor).
const MAX_PAGES: usize = 10_000;

/// How to reach Massive and how hard to push it.
#[derive(Clone)]
pub struct MassiveConfig {
    /// API key (`MASSIVE_API_KEY`, or `POLYGON_API_KEY`).
    pub api_key: String,
    /// Base URL; tests point it at a mock server.
    pub base_url: String,
    /// Request budget of the plan.
    pub rate: RateSpec,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for transient failures.
    pub retries: usize,
    /// First backoff delay (doubles each retry, with jitter).
    pub min_backoff: Duration,
    /// Longest single wait, including one asked for by `Retry-After`.
    pub max_backoff: Duration,
}

impl std::fmt::Debug for MassiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MassiveConfig")
            .field("api_key", &"***")
            .field("base_url", &self.base_url)
            .field("rate", &self.rate.to_string())
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl MassiveConfig {
    /// Defaults for a key: the free plan's 5 requests/minute, 4 in flight, 30 s timeout, 5 retries from 0.5 s.
    pub fn new(api_key: impl Into<String>) -> Self {
        MassiveConfig {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_string(),
            rate: RateSpec::FREE_PLAN,
            concurrency: 4,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 5,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(65),
        }
    }
}

/// A failed request, with the path (and query; never the key) it was for.
#[derive(Debug, thiserror::Error)]
pub enum MassiveError {
    /// 401: the key is wrong or missing.
    #[error(
        "{path}: Massive rejected the API key (HTTP 401: {message}); check MASSIVE_API_KEY (or POLYGON_API_KEY) — \
         keys are listed at https://massive.com/dashboard"
    )]
    Unauthorized {
        /// Request path.
        path: String,
        /// Server's message.
        message: String,
    },
    /// 403: the plan does not include this data.
    #[error(
        "{path}: your Massive plan does not cover this request (HTTP 403: {message}); ask for a shorter or more \
         recent range or a coarser timeframe, or upgrade the plan"
    )]
    NotEntitled {
        /// Request path.
        path: String,
        /// Server's message.
        message: String,
    },
    /// 404.
    #[error("{path}: not found (HTTP 404: {message})")]
    NotFound {
        /// Request path.
        path: String,
        /// Server's message.
        message: String,
    },
    /// 429, still limited after every retry.
    #[error(
        "{path}: rate limited by Massive (HTTP 429: {message}) after every retry; lower --rate to your plan's limit"
    )]
    RateLimited {
        /// Request path.
        path: String,
        /// Server's message.
        message: String,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 5xx, still failing after every retry.
    #[error("{path}: Massive server error (HTTP {status}: {message})")]
    Server {
        /// Request path.
        path: String,
        /// Status code.
        status: u16,
        /// Server's message.
        message: String,
        /// The server's `Retry-After` (503).
        retry_after: Option<Duration>,
    },
    /// Any other 4xx: the request itself is wrong.
    #[error("{path}: request rejected (HTTP {status}: {message})")]
    Rejected {
        /// Request path.
        path: String,
        /// Status code.
        status: u16,
        /// Server's message.
        message: String,
    },
    /// Timeout, connection refused, reset.
    #[error("{path}: {kind}: {source}")]
    Transport {
        /// Request path.
        path: String,
        /// `timed out`, `cannot connect`, `transport error`.
        kind: &'static str,
        /// The client's error.
        source: reqwest::Error,
    },
    /// A 200 whose body is not the documented JSON.
    #[error("{path}: malformed response body: {source}")]
    Malformed {
        /// Request path.
        path: String,
        /// Parser error (with line and column).
        source: serde_json::Error,
    },
    /// `next_url` is not a URL, or points back to a page already read.
    #[error("{path}: bad pagination: {why}")]
    Pagination {
        /// Request path.
        path: String,
        /// What went wrong.
        why: String,
    },
}

impl MassiveError {
    /// Worth retrying: rate limits, server errors, timeouts and connection failures.
    pub fn is_transient(&self) -> bool {
        match self {
            MassiveError::RateLimited { .. } | MassiveError::Server { .. } => true,
            MassiveError::Transport { source, .. } => {
                source.is_timeout() || source.is_connect() || source.is_request() || source.is_body()
            }
            _ => false,
        }
    }

    /// How long the server asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            MassiveError::RateLimited { retry_after, .. } | MassiveError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A failure that will repeat for every request (bad key): a loader stops instead of failing each task.
    pub fn is_fatal(&self) -> bool {
        matches!(self, MassiveError::Unauthorized { .. })
    }
}

/// The client. Cheap to clone; clones share the rate limit, the concurrency limit and the request counter.
#[derive(Clone)]
pub struct MassiveClient {
    http: reqwest::Client,
    base: Url,
    key: Arc<str>,
    limit: Arc<RateLimit>,
    /// The budget shared with other workers on the same key, when they share a Redis.
    shared: Option<Arc<SharedLimit>>,
    permits: Arc<Semaphore>,
    requests: Arc<AtomicU64>,
    config: MassiveConfig,
}

/// A base URL that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid Massive base URL {url:?}: {reason}")]
pub struct BadBaseUrl {
    url: String,
    reason: String,
}

/// Installs the ring crypto provider for rustls once per process (reqwest is built without a default one, to
/// avoid compiling aws-lc; sqlx already links ring). Call it before building any other `reqwest::Client`.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which is equally fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl MassiveClient {
    /// Builds a client.
    pub fn new(config: MassiveConfig) -> Result<Self, BadBaseUrl> {
        install_crypto_provider();
        let mut base_text = config.base_url.trim_end_matches('/').to_string();
        base_text.push('/');
        let base =
            Url::parse(&base_text).map_err(|e| BadBaseUrl { url: config.base_url.clone(), reason: e.to_string() })?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("tickstock-universe/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("reqwest client with a static configuration");
        Ok(MassiveClient {
            http,
            base,
            key: Arc::from(config.api_key.as_str()),
            limit: Arc::new(RateLimit::new(config.rate)),
            shared: None,
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            requests: Arc::new(AtomicU64::new(0)),
            config,
        })
    }

    /// Shares `--rate` with every other client on this API key through the Redis at `redis_url`: N workers
    /// together stay within the plan's limit.
    pub fn share_rate(mut self, redis_url: &str) -> redis::RedisResult<Self> {
        self.shared = Some(Arc::new(SharedLimit::new(redis_url, self.config.rate, &self.config.api_key)?));
        Ok(self)
    }

    /// The configuration.
    pub fn config(&self) -> &MassiveConfig {
        &self.config
    }

    /// HTTP requests sent so far (every attempt, retries included).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// All bars of a ticker in `from..=to` (both inclusive), following `next_url` until it is absent.
    pub async fn aggregates(
        &self,
        ticker: &str,
        tf: Timeframe,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<AggBar>, MassiveError> {
        let path = format!("v2/aggs/ticker/{ticker}/range/1/{}/{from}/{to}", tf.massive_timespan());
        let limit = AGGS_PAGE_LIMIT.to_string();
        let first = self.url(&path, &[("adjusted", "true"), ("sort", "asc"), ("limit", &limit)]);
        let mut bars = Vec::new();
        self.walk(first, |page: types::AggsPage| {
            bars.extend(page.results.unwrap_or_default());
            page.next_url
        })
        .await?;
        Ok(bars)
    }

    /// Every ticker's daily bar for one date (empty on a closed day).
    pub async fn grouped_daily(&self, date: NaiveDate) -> Result<Vec<GroupedBar>, MassiveError> {
        let url = self.url(&format!("v2/aggs/grouped/locale/us/market/stocks/{date}"), &[("adjusted", "true")]);
        let page: types::GroupedPage = self.get(url).await?;
        Ok(page.results.unwrap_or_default())
    }

    /// Reference tickers matching the filters (`market`, `type`, `active`, …), every page, test symbols dropped.
    pub async fn tickers(&self, filters: &[(&str, &str)]) -> Result<Vec<TickerRecord>, MassiveError> {
        let limit = TICKERS_PAGE_LIMIT.to_string();
        let mut query: Vec<(&str, &str)> = filters.to_vec();
        query.push(("limit", &limit));
        let first = self.url("v3/reference/tickers", &query);
        let mut out = Vec::new();
        self.walk(first, |page: types::TickersPage| {
            out.extend(page.results.unwrap_or_default().into_iter().filter(|t| !t.is_test));
            page.next_url
        })
        .await?;
        Ok(out)
    }

    /// One ticker's overview (SIC code, market cap, listing date, shares outstanding, …).
    pub async fn ticker_overview(&self, ticker: &str) -> Result<Option<TickerRecord>, MassiveError> {
        let url = self.url(&format!("v3/reference/tickers/{ticker}"), &[]);
        match self.get::<types::OverviewResponse>(url).await {
            Ok(r) => Ok(r.results),
            Err(MassiveError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An ETF's holdings from ETF Global (a separately entitled dataset), every page; `as_of` asks for that
    /// effective date, else every date returned is kept and the caller picks the latest.
    pub async fn etf_constituents(
        &self,
        etf: &str,
        as_of: Option<NaiveDate>,
    ) -> Result<Vec<types::EtfConstituent>, MassiveError> {
        let day = as_of.map(|d| d.to_string());
        let mut query: Vec<(&str, &str)> = vec![("composite_ticker", etf), ("limit", "5000")];
        if let Some(d) = &day {
            query.push(("effective_date", d));
        }
        let first = self.url("etf-global/v1/constituents", &query);
        let mut out = Vec::new();
        self.walk(first, |page: types::EtfGlobalPage<types::EtfConstituent>| {
            out.extend(page.results.unwrap_or_default());
            page.next_url
        })
        .await?;
        Ok(out)
    }

    /// An ETF's profile from ETF Global (issuer, type, expense ratio, AUM, benchmark): the latest, or the latest
    /// effective on or before `as_of`; `None` when it has none. The profile is daily: the month before is asked
    /// first (one page), every date only when that has none. A plan without the dataset gets
    /// [`MassiveError::NotEntitled`].
    pub async fn etf_profile(
        &self,
        etf: &str,
        as_of: Option<NaiveDate>,
    ) -> Result<Option<types::EtfProfile>, MassiveError> {
        let end = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
        let (gte, lte) = ((end - chrono::Duration::days(31)).to_string(), end.to_string());
        let recent = [("effective_date.gte", gte.as_str()), ("effective_date.lte", lte.as_str())];
        for window in [&recent[..], &recent[1..]] {
            let mut query: Vec<(&str, &str)> = vec![("composite_ticker", etf), ("limit", "100")];
            query.extend_from_slice(window);
            let mut out = Vec::new();
            self.walk(self.url("etf-global/v1/profiles", &query), |page: types::EtfGlobalPage<types::EtfProfile>| {
                out.extend(page.results.unwrap_or_default());
                page.next_url
            })
            .await?;
            if let Some(p) = out.into_iter().max_by_key(|p| p.effective_date) {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// A security's ticker changes (`id`: a ticker, CUSIP or composite FIGI); `None` when Massive does not know it.
    pub async fn ticker_events(&self, id: &str) -> Result<Option<types::TickerEvents>, MassiveError> {
        let url = self.url(&format!("vX/reference/tickers/{id}/events"), &[("types", "ticker_change")]);
        match self.get::<types::EventsResponse>(url).await {
            Ok(r) => Ok(r.results),
            Err(MassiveError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The ticker type codes (CS, ETF, ADRC, …) with their descriptions.
    pub async fn ticker_types(&self) -> Result<Vec<TickerType>, MassiveError> {
        let url = self.url("v3/reference/tickers/types", &[("asset_class", "stocks"), ("locale", "us")]);
        let page: types::TickerTypesPage = self.get(url).await?;
        Ok(page.results.unwrap_or_default())
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.join(path).expect("relative path joins onto a base URL");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Follows pages from `first`: `take` consumes a page and returns its `next_url`. Each `next_url` is re-based
    /// on our base URL (path and query kept), so a mock or a proxy serves every page; a repeat is an error.
    async fn walk<T, F>(&self, first: Url, mut take: F) -> Result<(), MassiveError>
    where
        T: DeserializeOwned,
        F: FnMut(T) -> Option<String>,
    {
        let mut seen = HashSet::new();
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let page: T = self.get(url.clone()).await?;
            let Some(next) = take(page) else { return Ok(()) };
            let bad = |why: String| MassiveError::Pagination { path: display_path(&url), why };
            let parsed = Url::parse(&next).map_err(|e| bad(format!("next_url {next:?} is not a URL: {e}")))?;
            let mut rebased = self.base.join(parsed.path().trim_start_matches('/')).map_err(|e| bad(e.to_string()))?;
            rebased.set_query(parsed.query());
            if !seen.insert(rebased.to_string()) {
                return Err(bad(format!("next_url {next:?} repeats a page already read")));
            }
            url = rebased;
        }
        Err(MassiveError::Pagination { path: display_path(&url), why: format!("more than {MAX_PAGES} pages") })
    }

    /// One GET with retries on transient failures.
    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, MassiveError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.min_backoff)
            .with_max_delay(self.config.max_backoff)
            .with_max_times(self.config.retries)
            .with_jitter();
        let cap = self.config.max_backoff;
        (|| self.attempt::<T>(&url))
            .retry(backoff)
            .when(MassiveError::is_transient)
            // Retry-After replaces the computed delay, but never extends the number of attempts.
            .adjust(|e, delay| delay.map(|d| e.retry_after().map_or(d, |r| r.min(cap))))
            .notify(|e, delay| tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Massive request failed, retrying"))
            .await
    }

    async fn attempt<T: DeserializeOwned>(&self, url: &Url) -> Result<T, MassiveError> {
        let path = display_path(url);
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        self.limit.acquire().await;
        if let Some(shared) = &self.shared
            && let Err(e) = shared.acquire().await
        {
            tracing::warn!(error = %e, "Redis unavailable: the shared rate limit is off; this worker keeps its own --rate");
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("universe_massive_requests_total").increment(1);
        let transport = |source: reqwest::Error| {
            let kind = if source.is_timeout() {
                "timed out"
            } else if source.is_connect() {
                "cannot connect"
            } else {
                "transport error"
            };
            MassiveError::Transport { path: path.clone(), kind, source }
        };
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(&*self.key)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|source| MassiveError::Malformed { path, source });
        }
        let message = types::ErrorBody::describe(&body);
        metrics::counter!("universe_massive_errors_total", "status" => status.as_u16().to_string()).increment(1);
        Err(match status {
            StatusCode::UNAUTHORIZED => MassiveError::Unauthorized { path, message },
            StatusCode::FORBIDDEN => MassiveError::NotEntitled { path, message },
            StatusCode::NOT_FOUND => MassiveError::NotFound { path, message },
            StatusCode::TOO_MANY_REQUESTS => MassiveError::RateLimited { path, message, retry_after },
            s if s.is_server_error() => MassiveError::Server { path, status: s.as_u16(), message, retry_after },
            s => MassiveError::Rejected { path, status: s.as_u16(), message },
        })
    }
}

/// Path and query of a request, for messages (the key travels in a header, never here).
fn display_path(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}
