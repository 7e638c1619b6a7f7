//! [`LimitLedger`](rampart_core::LimitLedger) on every engine: SQLite and PostgreSQL, beside the
//! request log in the store's own database, and Redis, for gateways that share limits.
//!
//! The SQL engines decide in Rust, not in SQL: they read the rows a call touches while holding
//! them (SQLite's write lock, PostgreSQL's row locks), replay the calls over those values with
//! [`Counters`], and write back the resulting values. One piece of code therefore decides for
//! both engines, and no counter is ever computed by SQL arithmetic (which SQLite would turn into
//! a floating-point number on overflow). The SQL for the `limit_counters` table is written once
//! here, generic over the engine.

pub(crate) mod postgres;
pub(crate) mod redis;
pub(crate) mod sqlite;

use std::collections::{BTreeMap, HashMap};

use rampart_core::{LimitCharge, ReserveOutcome};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// How long a counter is kept after its window ends, so that a settlement arriving late (a
/// long stream finishing after the window) still finds it.
pub(crate) const RETAIN_AFTER_WINDOW_SECS: i64 = 3600;
/// Expired counters are deleted at most this often by one ledger.
pub(crate) const PRUNE_INTERVAL_SECS: i64 = 60;
/// Counters per statement: at most 4 bound values each, far below both engines' limits on
/// bound values (32766 for SQLite, 65535 for PostgreSQL).
pub(crate) const COUNTERS_PER_STATEMENT: usize = 500;

/// One `limit_counters` row. As a value to write, `used` is what the chosen [`CounterWrite`]
/// does with it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct CounterRow {
    pub(crate) counter: String,
    pub(crate) window_start: i64,
    pub(crate) window_end: i64,
    pub(crate) used: i64,
}

/// Each distinct counter the charges touch, once, in the order every engine inserts and locks
/// rows (counter bytes, then window start), with the charges' amounts summed into `used` and the
/// first charge's `window_end`.
pub(crate) fn distinct_counters<'charge>(charges: impl IntoIterator<Item = &'charge LimitCharge>) -> Vec<CounterRow> {
    let mut rows: BTreeMap<(&str, i64), CounterRow> = BTreeMap::new();
    for charge in charges {
        rows.entry((charge.counter.as_str(), charge.window_start))
            .and_modify(|row| row.used = row.used.saturating_add(charge.amount))
            .or_insert_with(|| CounterRow {
                counter: charge.counter.clone(),
                window_start: charge.window_start,
                window_end: charge.window_end,
                used: charge.amount,
            });
    }
    rows.into_values().collect()
}

/// The values of some counters as a ledger holds them while deciding: rows read from the
/// engine, then changed by each reservation and adjustment in turn, so that a later call sees
/// what an earlier one added. Counters never charged hold 0.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    rows: BTreeMap<(String, i64), CounterValue>,
}

#[derive(Debug, Clone, Copy)]
struct CounterValue {
    used: i64,
    window_end: i64,
    changed: bool,
}

impl Counters {
    /// Takes rows as they are stored.
    pub(crate) fn load(&mut self, stored: impl IntoIterator<Item = CounterRow>) {
        for row in stored {
            let value = CounterValue { used: row.used, window_end: row.window_end, changed: false };
            self.rows.insert((row.counter, row.window_start), value);
        }
    }

    fn used(&self, counter: &str, window_start: i64) -> i64 {
        // Keys are owned strings, so a lookup by `&str` needs one; counters are short.
        self.rows.get(&(counter.to_owned(), window_start)).map_or(0, |value| value.used)
    }

    /// [`rampart_core::LimitLedger::reserve`]: every amount or none. A counter named twice is
    /// checked with the earlier amount already added; `used` reports each counter's value before
    /// this reservation.
    pub(crate) fn reserve(&mut self, charges: &[LimitCharge]) -> ReserveOutcome {
        let mut used = Vec::with_capacity(charges.len());
        let mut after: HashMap<(&str, i64), i64> = HashMap::with_capacity(charges.len());
        let mut fits = true;
        for charge in charges {
            let stored = self.used(&charge.counter, charge.window_start);
            used.push(stored);
            let value = after.entry((charge.counter.as_str(), charge.window_start)).or_insert(stored);
            // Compared in i128, so a sum beyond i64 is over any limit rather than saturated.
            let total = i128::from(*value) + i128::from(charge.amount);
            fits &= total <= i128::from(charge.limit);
            *value = value.saturating_add(charge.amount);
        }
        if !fits {
            return ReserveOutcome::Exceeded { used };
        }
        self.adjust(charges);
        ReserveOutcome::Reserved
    }

    /// [`rampart_core::LimitLedger::adjust`]: adds every amount, unchecked (saturating at the
    /// ends of `i64` rather than failing a settlement).
    pub(crate) fn adjust(&mut self, charges: &[LimitCharge]) {
        for charge in charges {
            let value = self.rows.entry((charge.counter.clone(), charge.window_start)).or_insert(CounterValue {
                used: 0,
                window_end: charge.window_end,
                changed: false,
            });
            value.used = value.used.saturating_add(charge.amount);
            value.changed = true;
        }
    }

    /// The rows whose value changed, to be written with [`CounterWrite::Set`], in lock order.
    pub(crate) fn changed(&self) -> Vec<CounterRow> {
        self.rows
            .iter()
            .filter(|(_, value)| value.changed)
            .map(|((counter, window_start), value)| CounterRow {
                counter: counter.clone(),
                window_start: *window_start,
                window_end: value.window_end,
                used: value.used,
            })
            .collect()
    }
}

/// The value of each counter asked for, 0 for those without a row, in the order asked.
pub(crate) fn values_in_order(counters: &[(String, i64)], stored: Vec<CounterRow>) -> Vec<i64> {
    let stored: HashMap<(String, i64), i64> =
        stored.into_iter().map(|row| ((row.counter, row.window_start), row.used)).collect();
    counters.iter().map(|key| stored.get(key).copied().unwrap_or(0)).collect()
}

/// Whether a `SELECT` of counters also locks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    None,
    /// `FOR UPDATE`, in lock order (PostgreSQL only).
    ForUpdate,
}

/// `SELECT counter, window_start, window_end, used FROM limit_counters WHERE ...` for one chunk
/// of at most [`COUNTERS_PER_STATEMENT`] counters.
pub(crate) fn select_statement<'args, DB>(
    counters: impl IntoIterator<Item = (&'args str, i64)>,
    lock: Lock,
) -> QueryBuilder<'args, DB>
where
    DB: Database,
    DB::Arguments<'args>: Default,
    &'args str: Encode<'args, DB> + Type<DB>,
    i64: Encode<'args, DB> + Type<DB>,
{
    let mut statement = QueryBuilder::new("");
    push_select(&mut statement, counters, lock);
    statement
}

/// [`select_statement`], appended to `statement`.
fn push_select<'args, DB>(
    statement: &mut QueryBuilder<'args, DB>,
    counters: impl IntoIterator<Item = (&'args str, i64)>,
    lock: Lock,
) where
    DB: Database,
    &'args str: Encode<'args, DB> + Type<DB>,
    i64: Encode<'args, DB> + Type<DB>,
{
    statement.push("SELECT counter, window_start, window_end, used FROM limit_counters WHERE FALSE");
    for (counter, window_start) in counters {
        statement.push(" OR (counter = ").push_bind(counter).push(" AND window_start = ").push_bind(window_start);
        statement.push(")");
    }
    if lock == Lock::ForUpdate {
        // The lock is taken on rows as they leave the sort, so always in this order.
        statement.push(" ORDER BY counter, window_start FOR UPDATE");
    }
}

/// What an `INSERT` of counter rows does with `used`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CounterWrite {
    /// Creates missing rows at 0 and leaves existing ones alone (`used` is not written).
    CreateAtZero,
    /// Sets `used`, creating missing rows; an existing row keeps its `window_end`.
    Set,
    /// Adds `used` to the stored value, creating missing rows (PostgreSQL's one-statement
    /// adjustment; fails rather than wrap when the sum leaves `i64`).
    Add,
}

/// `INSERT INTO limit_counters ... ON CONFLICT ...` for one chunk of at most
/// [`COUNTERS_PER_STATEMENT`] distinct rows, written in the order given.
pub(crate) fn write_statement<'args, DB>(rows: &'args [CounterRow], write: CounterWrite) -> QueryBuilder<'args, DB>
where
    DB: Database,
    DB::Arguments<'args>: Default,
    &'args str: Encode<'args, DB> + Type<DB>,
    i64: Encode<'args, DB> + Type<DB>,
{
    let mut statement = QueryBuilder::new("");
    push_write(&mut statement, rows, write);
    statement
}

/// [`write_statement`], appended to `statement`.
fn push_write<'args, DB>(statement: &mut QueryBuilder<'args, DB>, rows: &'args [CounterRow], write: CounterWrite)
where
    DB: Database,
    &'args str: Encode<'args, DB> + Type<DB>,
    i64: Encode<'args, DB> + Type<DB>,
{
    statement.push("INSERT INTO limit_counters (counter, window_start, window_end, used) ");
    statement.push_values(rows, |mut values, row| {
        values.push_bind(row.counter.as_str()).push_bind(row.window_start).push_bind(row.window_end);
        match write {
            CounterWrite::CreateAtZero => values.push("0"),
            CounterWrite::Set | CounterWrite::Add => values.push_bind(row.used),
        };
    });
    statement.push(match write {
        CounterWrite::CreateAtZero => " ON CONFLICT (counter, window_start) DO NOTHING",
        CounterWrite::Set => " ON CONFLICT (counter, window_start) DO UPDATE SET used = excluded.used",
        CounterWrite::Add => {
            " ON CONFLICT (counter, window_start) DO UPDATE SET used = limit_counters.used + excluded.used"
        }
    });
}

/// Counters whose window ended before this are deleted.
pub(crate) fn prune_before(now_unix_secs: i64) -> i64 {
    now_unix_secs.saturating_sub(RETAIN_AFTER_WINDOW_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(counter: &str, window_start: i64, amount: i64, limit: i64) -> LimitCharge {
        LimitCharge { counter: counter.to_owned(), window_start, window_end: window_start + 60, amount, limit }
    }

    #[test]
    fn distinct_counters_sum_repeats_and_sort_by_bytes() {
        let charges = [charge("b", 0, 1, 9), charge("a", 60, 2, 9), charge("b", 0, 3, 9), charge("a", 0, 4, 9)];
        let rows = distinct_counters(&charges);
        let keys: Vec<_> = rows.iter().map(|row| (row.counter.as_str(), row.window_start, row.used)).collect();
        assert_eq!(keys, vec![("a", 0, 4), ("a", 60, 2), ("b", 0, 4)]);
    }

    #[test]
    fn a_counter_named_twice_is_checked_with_both_amounts() {
        let mut counters = Counters::default();
        counters.load([CounterRow { counter: "c".to_owned(), window_start: 0, window_end: 60, used: 5 }]);
        let twice = [charge("c", 0, 3, 10), charge("c", 0, 3, 10)];
        assert_eq!(counters.reserve(&twice), ReserveOutcome::Exceeded { used: vec![5, 5] });
        assert_eq!(counters.changed(), vec![]);

        let fits = [charge("c", 0, 2, 10), charge("c", 0, 3, 10)];
        assert_eq!(counters.reserve(&fits), ReserveOutcome::Reserved);
        assert_eq!(counters.used("c", 0), 10);
    }

    #[test]
    fn adjustments_saturate_instead_of_overflowing() {
        let mut counters = Counters::default();
        counters.adjust(&[charge("c", 0, i64::MAX, 0), charge("c", 0, 1, 0)]);
        assert_eq!(counters.used("c", 0), i64::MAX);
        assert_eq!(counters.reserve(&[charge("c", 0, 1, i64::MAX)]), ReserveOutcome::Exceeded { used: vec![i64::MAX] });
    }
}
