//! The NYSE trading-day calendar: weekends, the exchange's regular holidays by rule, and its one-off closures.
//!
//! Used to skip requests for closed days (the grouped-daily strategy asks once per trading day), to count the
//! requests a strategy needs, and to find the last completed session. Checked against every date in the shared
//! 2013–2018 S&P 500 daily file (a test): the calendar's trading days are exactly the days that have bars.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::America::New_York;

/// Closures outside the holiday rules (national days of mourning, weather, 9/11).
const SPECIAL_CLOSURES: [(i32, u32, u32); 12] = [
    (2001, 9, 11),
    (2001, 9, 12),
    (2001, 9, 13),
    (2001, 9, 14),
    (2004, 6, 11),  // President Reagan
    (2007, 1, 2),   // President Ford
    (2012, 10, 29), // Hurricane Sandy
    (2012, 10, 30),
    (2018, 12, 5), // President G. H. W. Bush
    (2025, 1, 9),  // President Carter
    (1994, 4, 27), // President Nixon
    (1985, 9, 27), // Hurricane Gloria
];

/// Hour (New York time) after which the day's session counts as complete: the 16:00 close plus time for the
/// vendor to finalise the day's bar.
const SESSION_FINAL_HOUR: u32 = 17;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

/// The `n`-th (1-based) `weekday` of a month.
fn nth_weekday(y: i32, m: u32, weekday: Weekday, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(y, m, weekday, n as u8).expect("month has that weekday")
}

/// The last `weekday` of a month.
fn last_weekday(y: i32, m: u32, weekday: Weekday) -> NaiveDate {
    let first_next = if m == 12 { date(y + 1, 1, 1) } else { date(y, m + 1, 1) };
    let mut d = first_next - Duration::days(1);
    while d.weekday() != weekday {
        d -= Duration::days(1);
    }
    d
}

/// Easter Sunday (Anonymous Gregorian algorithm).
fn easter(y: i32) -> NaiveDate {
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    date(y, month as u32, day as u32)
}

/// A fixed-date holiday moved off the weekend: Saturday → Friday, Sunday → Monday.
fn observed(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Duration::days(1),
        Weekday::Sun => d + Duration::days(1),
        _ => d,
    }
}

/// Whether the NYSE is closed all day for a holiday on `d` (weekends aside).
fn is_holiday(d: NaiveDate) -> bool {
    let y = d.year();
    // New Year's Day: a Saturday New Year is not observed on the Friday before (NYSE rule 7.2).
    let new_year = date(y, 1, 1);
    if d == new_year || (new_year.weekday() == Weekday::Sun && d == date(y, 1, 2)) {
        return true;
    }
    let mut days = vec![
        nth_weekday(y, 2, Weekday::Mon, 3),  // Washington's Birthday
        easter(y) - Duration::days(2),       // Good Friday
        last_weekday(y, 5, Weekday::Mon),    // Memorial Day
        observed(date(y, 7, 4)),             // Independence Day
        nth_weekday(y, 9, Weekday::Mon, 1),  // Labor Day
        nth_weekday(y, 11, Weekday::Thu, 4), // Thanksgiving
        observed(date(y, 12, 25)),           // Christmas
    ];
    if y >= 1998 {
        days.push(nth_weekday(y, 1, Weekday::Mon, 3)); // Martin Luther King Jr. Day
    }
    if y >= 2022 {
        days.push(observed(date(y, 6, 19))); // Juneteenth
    }
    days.contains(&d) || SPECIAL_CLOSURES.iter().any(|&(sy, sm, sd)| d == date(sy, sm, sd))
}

/// Whether the NYSE holds a session on `d`.
pub fn is_trading_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(d)
}

/// Trading days in `from..=to`, in order.
pub fn trading_days(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days().take_while(|d| *d <= to).filter(|d| is_trading_day(*d)).collect()
}

/// The most recent session whose daily bar is final at instant `now`: today after 17:00 New York time if today
/// trades, else the trading day before.
pub fn last_completed_session(now: DateTime<Utc>) -> NaiveDate {
    let local = now.with_timezone(&New_York);
    let today = local.date_naive();
    if is_trading_day(today) && local.hour() >= SESSION_FINAL_HOUR {
        return today;
    }
    let mut d = today - Duration::days(1);
    while !is_trading_day(d) {
        d -= Duration::days(1);
    }
    d
}

/// Today's date in New York (the end of an intraday range).
pub fn today_new_york(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&New_York).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_holidays_and_sessions() {
        for closed in [
            (2024, 3, 29),
            (2023, 6, 19),
            (2022, 12, 26),
            (2021, 12, 24),
            (2018, 12, 5),
            (2017, 1, 2),
            (2015, 7, 3),
            (2026, 11, 26),
        ] {
            assert!(!is_trading_day(date(closed.0, closed.1, closed.2)), "{closed:?} is closed");
        }
        // New Year 2022 fell on a Saturday: Friday 2021-12-31 traded.
        assert!(is_trading_day(date(2021, 12, 31)));
        assert!(is_trading_day(date(2026, 11, 27)));
        assert_eq!(trading_days(date(2024, 1, 1), date(2024, 12, 31)).len(), 252);
        assert_eq!(trading_days(date(2023, 1, 1), date(2023, 12, 31)).len(), 250);
    }

    #[test]
    fn last_completed_session_waits_for_the_close() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Friday 2026-11-20, 15:00 New York (EST, UTC-5): Thursday is the last complete session.
        assert_eq!(last_completed_session(at("2026-11-20T20:00:00Z")), date(2026, 11, 19));
        // Same Friday at 18:00 New York: Friday itself.
        assert_eq!(last_completed_session(at("2026-11-20T23:00:00Z")), date(2026, 11, 20));
        // Saturday 2026-11-21 and Sunday: Friday.
        assert_eq!(last_completed_session(at("2026-11-22T12:00:00Z")), date(2026, 11, 20));
        // The Friday after Thanksgiving 2026, early morning: Wednesday (Thursday is closed).
        assert_eq!(last_completed_session(at("2026-11-27T10:00:00Z")), date(2026, 11, 25));
    }
}
