//! Rate limits and budgets as counters in fixed UTC windows, kept by a [`LimitLedger`].
//!
//! A request is admitted by reserving an amount on every counter that applies to it (one
//! request, an estimate of its tokens, an estimate of its cost) in one all-or-nothing step, and
//! settled afterwards by adjusting each counter by the difference between what it used and what
//! was reserved. Because the check and the increment are one atomic step in the ledger, any
//! number of concurrent requests, in one gateway process or in many sharing one ledger, can
//! never push a counter past its limit on their reservations.

use async_trait::async_trait;

use crate::StoreError;

/// The length of a counter's window. Windows are fixed and aligned to UTC: a minute starts at
/// second 0, a day at 00:00 UTC, a month at 00:00 UTC on its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitWindow {
    Minute,
    Day,
    Month,
}

impl LimitWindow {
    pub fn name(self) -> &'static str {
        match self {
            LimitWindow::Minute => "minute",
            LimitWindow::Day => "day",
            LimitWindow::Month => "month",
        }
    }

    /// `[start, end)` in Unix seconds of the window that holds `now_unix_secs`.
    pub fn bounds(self, now_unix_secs: i64) -> (i64, i64) {
        match self {
            LimitWindow::Minute => {
                let start = now_unix_secs.div_euclid(60) * 60;
                (start, start + 60)
            }
            LimitWindow::Day => {
                let start = now_unix_secs.div_euclid(86_400) * 86_400;
                (start, start + 86_400)
            }
            LimitWindow::Month => {
                let (year, month, _) = civil_from_days(now_unix_secs.div_euclid(86_400));
                let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                (days_from_civil(year, month, 1) * 86_400, days_from_civil(next_year, next_month, 1) * 86_400)
            }
        }
    }
}

/// One amount on one counter: what a reservation adds (checked against `limit`) or what a
/// settlement adds (may be negative; never checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCharge {
    /// The counter's identity, stable across restarts: limit name, principal and meter.
    pub counter: String,
    /// Start of the window the amount belongs to (Unix seconds); with `counter`, the row.
    pub window_start: i64,
    /// End of the window (Unix seconds), after which the ledger may forget the counter.
    pub window_end: i64,
    pub amount: i64,
    /// The most the counter may hold once a reservation is added.
    pub limit: i64,
}

/// What [`LimitLedger::reserve`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Every amount was added.
    Reserved,
    /// At least one counter would have passed its limit, so nothing was added. `used` holds
    /// each counter's value at the time of the decision, in the order of the charges, so the
    /// caller can see which ones are short and by how much.
    Exceeded { used: Vec<i64> },
}

/// Where counters live: the [`crate::Store`] engines (SQLite, PostgreSQL) and Redis for
/// gateways that share limits. Every engine passes the same conformance suite.
#[async_trait]
pub trait LimitLedger: Send + Sync {
    /// `sqlite`, `postgres` or `redis`.
    fn ledger_engine(&self) -> &'static str;

    /// Adds every charge's amount to its counter if, for each, `used + amount <= limit`;
    /// otherwise adds none. Atomic with respect to every other call on the same ledger, from
    /// any process. Acknowledged only once durable (for engines that persist).
    async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError>;

    /// Adds each amount (which may be negative) to its counter unconditionally: the settlement
    /// of a reservation, whose actual use differed from the estimate.
    async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError>;

    /// The current value of each counter (0 for one never charged), in the order given.
    async fn read(&self, counters: &[(String, i64)]) -> Result<Vec<i64>, StoreError>;
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_utc_calendar() {
        // 2024-02-29T13:45:30Z, in a leap year.
        let now = 1_709_214_330;
        assert_eq!(LimitWindow::Minute.bounds(now), (1_709_214_300, 1_709_214_360));
        assert_eq!(LimitWindow::Day.bounds(now), (1_709_164_800, 1_709_251_200));
        // 2024-02-01T00:00Z to 2024-03-01T00:00Z.
        assert_eq!(LimitWindow::Month.bounds(now), (1_706_745_600, 1_709_251_200));
        // December rolls into the next year: 2025-12-31T23:59:59Z.
        assert_eq!(LimitWindow::Month.bounds(1_767_225_599), (1_764_547_200, 1_767_225_600));
        // The first second of a month belongs to it.
        assert_eq!(LimitWindow::Month.bounds(1_767_225_600).0, 1_767_225_600);
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000, -1, 0, 59, 60, 11_016, 19_782, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days, "{year}-{month}-{day}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
