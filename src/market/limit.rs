//! The client-side request budget: a plan-sized rate (`5/min` on the free plan, `100/s` on a paid one) enforced
//! by a GCRA limiter (governor), requests evenly spaced so no 60-second window ever holds more than the plan
//! allows. With several workers on one API key, [`SharedLimit`] keeps the same GCRA state in Redis, so the
//! workers together stay within the plan.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// A request rate: `count` requests per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSpec {
    /// Requests allowed…
    pub count: u32,
    /// …per this period.
    pub per: Duration,
}

/// A rate that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate {0:?}: use COUNT/UNIT with UNIT s, min or h (e.g. 5/min, 100/s)")]
pub struct RateSpecError(String);

impl RateSpec {
    /// Massive's free plan: 5 requests per minute.
    pub const FREE_PLAN: RateSpec = RateSpec { count: 5, per: Duration::from_secs(60) };

    /// The spacing between two requests.
    pub fn interval(self) -> Duration {
        self.per / self.count
    }
}

impl FromStr for RateSpec {
    type Err = RateSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RateSpecError(s.to_string());
        let (count, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        Ok(RateSpec { count, per })
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => return write!(f, "{}/{:?}", self.count, self.per),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A limiter on a given clock (the real one in production, governor's fake clock in tests).
pub struct RateLimit<C: Clock + Clone = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    clock: C,
}

impl RateLimit<DefaultClock> {
    /// A limiter on the monotonic clock.
    pub fn new(rate: RateSpec) -> Self {
        Self::with_clock(rate, DefaultClock::default())
    }

    /// Waits until the next request may start.
    pub async fn acquire(&self) {
        while let Some(wait) = self.wait_time() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl<C: Clock + Clone> RateLimit<C> {
    /// A limiter on `clock`. Burst 1: requests are spaced by [`RateSpec::interval`] rather than sent in a burst
    /// that a per-minute window on the server could count against the next minute too.
    pub fn with_clock(rate: RateSpec, clock: C) -> Self {
        let interval = rate.interval().max(Duration::from_nanos(1));
        let quota = Quota::with_period(interval).expect("non-zero period").allow_burst(NonZeroU32::MIN);
        RateLimit { limiter: RateLimiter::direct_with_clock(quota, clock.clone()), clock }
    }

    /// Takes a slot if one is free now (`None`), or says how long until one is (`Some(wait)`; nothing taken).
    pub fn wait_time(&self) -> Option<Duration> {
        match self.limiter.check() {
            Ok(()) => None,
            Err(not_until) => Some(not_until.wait_time_from(self.clock.now())),
        }
    }
}

/// GCRA in Redis: reserves the next slot (the theoretical arrival time, on Redis's clock so every worker agrees)
/// and returns how many microseconds the caller waits before sending. Numbers are microseconds since the epoch
/// (below 2^53, exact in Lua's doubles); `%.0f` keeps them out of scientific notation.
const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1000)
return tat - now
";

/// A request budget shared by every process on one API key, kept in Redis.
pub struct SharedLimit {
    client: redis::Client,
    conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    /// `universe:massive:rate:{md5 of the API key}`: the key itself never goes to Redis.
    key: String,
    interval_us: u64,
}

impl SharedLimit {
    /// A limit of `rate` for `api_key`, kept in the Redis at `redis_url` (connected on first use).
    pub fn new(redis_url: &str, rate: RateSpec, api_key: &str) -> redis::RedisResult<SharedLimit> {
        Ok(SharedLimit {
            client: redis::Client::open(redis_url)?,
            conn: tokio::sync::OnceCell::new(),
            key: format!("universe:massive:rate:{:x}", md5::compute(api_key)),
            interval_us: rate.interval().as_micros().max(1) as u64,
        })
    }

    /// Reserves the next shared slot and waits for it.
    pub async fn acquire(&self) -> redis::RedisResult<()> {
        let conn = self
            .conn
            .get_or_try_init(|| {
                // Short timeouts: with Redis away a request waits a second at most, then goes on its local limit.
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                self.client.get_connection_manager_with_config(config)
            })
            .await?;
        let wait_us: i64 = redis::cmd("EVAL")
            .arg(GCRA_SCRIPT)
            .arg(1)
            .arg(&self.key)
            .arg(self.interval_us)
            .query_async(&mut conn.clone())
            .await?;
        if wait_us > 0 {
            tokio::time::sleep(Duration::from_micros(wait_us as u64)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!("5/min".parse::<RateSpec>().unwrap(), RateSpec::FREE_PLAN);
        assert_eq!("100/s".parse::<RateSpec>().unwrap().interval(), Duration::from_millis(10));
        assert_eq!(" 3600 / hour ".parse::<RateSpec>().unwrap().interval(), Duration::from_secs(1));
        for bad in ["", "5", "0/s", "5/day", "x/min"] {
            assert!(bad.parse::<RateSpec>().is_err(), "{bad:?}");
        }
        assert_eq!(RateSpec::FREE_PLAN.to_string(), "5/min");
    }

    #[test]
    fn free_plan_spaces_requests_twelve_seconds_apart() {
        let clock = FakeRelativeClock::default();
        let limit = RateLimit::with_clock(RateSpec::FREE_PLAN, clock.clone());
        assert_eq!(limit.wait_time(), None, "the first request goes at once");
        assert_eq!(limit.wait_time(), Some(Duration::from_secs(12)));
        clock.advance(Duration::from_secs(11));
        assert_eq!(limit.wait_time(), Some(Duration::from_secs(1)));
        clock.advance(Duration::from_secs(1));
        assert_eq!(limit.wait_time(), None);
        // Over one simulated minute, at most five requests pass.
        let mut passed = 1;
        for _ in 0..60 {
            clock.advance(Duration::from_secs(1));
            if limit.wait_time().is_none() {
                passed += 1;
            }
        }
        assert_eq!(passed, 6, "12 s, then five more in the next 60 s");
    }
}
