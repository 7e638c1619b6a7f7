#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rampart_core::{AuditLog, unix_now_millis, unix_now_secs};
use sqlx::SqlitePool;

use super::*;
use crate::SqliteStore;

fn charge(counter: &str, amount: i64, limit: i64) -> LimitCharge {
    let window_end = unix_now_secs() + 3600;
    LimitCharge { counter: counter.to_owned(), window_start: 0, window_end, amount, limit }
}

fn event(kind: &str) -> AuditEvent {
    AuditEvent {
        time_unix_ms: unix_now_millis(),
        tenant: Some("t".to_owned()),
        kind: kind.to_owned(),
        actor: None,
        request_id: None,
        data: serde_json::json!({"n": 1}),
    }
}

/// A throwaway store, its read pool, and a target for a writer of the test's own on its file.
async fn scratch_store() -> (SqliteStore, SqlitePool, WriterTarget) {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    let pool = store.pool().clone();
    let target = store.writer_target().clone();
    (store, pool, target)
}

async fn used(pool: &SqlitePool, counter: &str) -> i64 {
    ledger::read(pool, &[(counter.to_owned(), 0)]).await.unwrap()[0]
}

/// Waits (without blocking the runtime) for a writer thread to end.
async fn ended(thread: JoinHandle<()>) {
    let joined = tokio::task::spawn_blocking(move || thread.join());
    tokio::time::timeout(Duration::from_secs(5), joined).await.expect("writer ends").unwrap().unwrap();
}

#[tokio::test]
async fn a_failed_round_answers_every_caller_with_the_error_and_the_writer_carries_on() {
    let (store, pool, target) = scratch_store().await;
    let (writer, _) = SqliteWriter::start(target).await.unwrap();
    sqlx::query("ALTER TABLE limit_counters RENAME TO limit_counters_away").execute(&pool).await.unwrap();

    let attempts = (0..20).map(|index| {
        let writer = writer.clone();
        tokio::spawn(async move {
            match index % 3 {
                0 => writer.reserve(&[charge("c", 1, 100)]).await.map(|_| ()),
                1 => writer.adjust(&[charge("c", 1, 100)]).await,
                _ => writer.append(vec![event("decision")]).await.map(|_| ()),
            }
        })
    });
    let mut failures = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        // An audit append alone in a round commits; one that shared a round with the limits
        // fails with them.
        if let Err(error) = attempt.await.unwrap() {
            failures += 1;
            assert!(
                matches!(error, StoreError::Query { ref detail } if detail.contains("limit_counters")),
                "{error:?}"
            );
        }
    }
    assert!(failures >= 14, "every limit operation failed, {failures} failures");

    sqlx::query("ALTER TABLE limit_counters_away RENAME TO limit_counters").execute(&pool).await.unwrap();
    assert_eq!(writer.reserve(&[charge("c", 1, 100)]).await.unwrap(), ReserveOutcome::Reserved);
    assert_eq!(used(&pool, "c").await, 1, "nothing from the failed rounds was kept");
    let head = store.audit_head().await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&pool).await.unwrap();
    assert_eq!(u64::try_from(rows).unwrap(), head.size, "the head counts exactly the committed records");
}

#[tokio::test]
async fn limits_audit_records_and_request_rows_all_commit() {
    let (store, pool, _) = scratch_store().await;
    let entry = RequestLogEntry {
        id: "r1".to_owned(),
        request_id: "q1".to_owned(),
        time_unix_ms: unix_now_millis(),
        endpoint: "chat.completions".to_owned(),
        model: "m".to_owned(),
        backend: "b".to_owned(),
        status: 200,
        stream: false,
        tokens_in: 3,
        tokens_out: 4,
        latency_ms: 5,
        cost_usd: 0.0,
        error: None,
        api_key_id: None,
        tenant: Some("t".to_owned()),
        user: None,
    };
    let charges = [charge("c", 2, 100)];
    let writer = store.writer();
    let (reserved, appended, logged) = tokio::join!(
        writer.reserve(&charges),
        writer.append(vec![event("decision"), event("outcome")]),
        writer.record_requests(std::slice::from_ref(&entry)),
    );
    assert_eq!(reserved.unwrap(), ReserveOutcome::Reserved);
    assert_eq!(appended.unwrap(), vec![1, 2]);
    logged.unwrap();
    assert_eq!(used(&pool, "c").await, 2);
    assert_eq!(store.audit_head().await.unwrap().size, 2);
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM request_log WHERE id = 'r1'").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn an_abandoned_reservation_is_skipped_without_failing_its_round() {
    let (_store, pool, target) = scratch_store().await;
    let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
    // Queued before the writer starts, so all three are taken at once.
    let (abandoned, abandoned_answer) = Operation::reserve(&[charge("c", 5, 100)]);
    queue.send(Job::Limit(abandoned)).await.unwrap();
    drop(abandoned_answer);
    let (adjustment, adjustment_answer) = Operation::adjust(&[charge("c", 2, 100)]);
    queue.send(Job::Limit(adjustment)).await.unwrap();
    let (reservation, reservation_answer) = Operation::reserve(&[charge("c", 1, 100)]);
    queue.send(Job::Limit(reservation)).await.unwrap();

    let writer = Writer::open(target).unwrap();
    let thread = std::thread::spawn(move || run(writer, jobs));
    assert_eq!(reservation_answer.await.unwrap().unwrap(), ReserveOutcome::Reserved);
    // The settlement is held for a later round.
    adjustment_answer.await.unwrap().unwrap();
    assert_eq!(used(&pool, "c").await, 3, "the abandoned reservation is not made; the adjustment is");

    drop(queue);
    ended(thread).await;
}

#[tokio::test]
async fn the_writer_ends_when_the_last_handle_is_dropped() {
    let (_store, _pool, target) = scratch_store().await;
    let (writer, thread) = SqliteWriter::start(target).await.unwrap();
    let copy = writer.clone();
    drop(writer);
    assert_eq!(copy.reserve(&[charge("c", 1, 1)]).await.unwrap(), ReserveOutcome::Reserved);
    drop(copy);
    ended(thread).await;
}

#[tokio::test]
async fn a_writer_that_cannot_open_its_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let target = WriterTarget { path: dir.path().join("missing").join("rampart.db"), synchronous: Synchronous::Full };
    let error = SqliteWriter::start(target).await.expect_err("no such directory");
    assert!(error.contains("unable to open"), "{error}");
}

#[tokio::test]
async fn the_first_round_with_limits_prunes_counters_long_expired() {
    let (_store, pool, target) = scratch_store().await;
    let now = unix_now_secs();
    for (counter, window_end) in [("expired", now - 2 * 3600), ("recent", now - 60)] {
        sqlx::query("INSERT INTO limit_counters (counter, window_start, window_end, used) VALUES (?, 0, ?, 7)")
            .bind(counter)
            .bind(window_end)
            .execute(&pool)
            .await
            .unwrap();
    }
    let (writer, _) = SqliteWriter::start(target).await.unwrap();
    writer.adjust(&[charge("other", 1, 0)]).await.unwrap();
    assert_eq!(used(&pool, "expired").await, 0);
    assert_eq!(used(&pool, "recent").await, 7, "kept for an hour after its window, for late settlements");
}

#[tokio::test]
async fn a_round_left_open_is_rolled_back_before_the_next() {
    let (_store, pool, target) = scratch_store().await;
    let mut writer = Writer::open(target).unwrap();
    writer.connection.execute_batch("BEGIN IMMEDIATE; INSERT INTO limit_counters VALUES ('left', 0, 9, 1)").unwrap();
    assert!(!writer.connection.is_autocommit());
    writer.recover();
    assert!(writer.connection.is_autocommit());
    assert_eq!(used(&pool, "left").await, 0, "the open transaction was rolled back, not committed");
}

#[tokio::test]
async fn writes_held_for_a_later_round_are_committed_before_the_writer_stops() {
    let (_store, pool, target) = scratch_store().await;
    let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
    let writer = Writer::open(target).unwrap();
    let thread = std::thread::spawn(move || run(writer, jobs));
    let (adjustment, adjustment_answer) = Operation::adjust(&[charge("held", 4, 0)]);
    queue.send(Job::Limit(adjustment)).await.unwrap();
    drop(adjustment_answer);
    // Gone at once: the writer still holds the settlement when its queue closes.
    drop(queue);
    ended(thread).await;
    assert_eq!(used(&pool, "held").await, 4);
}

#[tokio::test]
async fn a_held_write_is_answered_once_its_hold_has_passed() {
    let (store, pool, _) = scratch_store().await;
    let started = Instant::now();
    store.writer().adjust(&[charge("alone", 2, 0)]).await.unwrap();
    assert!(started.elapsed() >= LAZY_HOLD, "held for the hold, then committed");
    assert_eq!(used(&pool, "alone").await, 2);
}

#[tokio::test]
async fn committed_rounds_reach_the_database_file_through_the_checkpointer() {
    let (store, _pool, target) = scratch_store().await;
    let file_length = || std::fs::metadata(&target.path).map(|metadata| metadata.len()).unwrap_or(0);
    let before = file_length();
    let events = (0..200).map(|_| event("decision")).collect();
    store.writer().append(events).await.unwrap();
    // The writer's own commits never checkpoint: only the checkpointer copies the WAL back.
    let deadline = Instant::now() + Duration::from_secs(10);
    while file_length() <= before {
        assert!(Instant::now() < deadline, "no checkpoint within 10 s ({before} bytes)");
        tokio::time::sleep(checkpoint::INTERVAL).await;
    }
}

/// Only a round that nobody waits for gives its core away between rows: a reservation or an
/// audit append in it makes the whole round urgent.
#[test]
fn only_rounds_nobody_waits_for_yield_between_rows() {
    let entry_job = || {
        let (reply, _answer) = oneshot::channel();
        Job::Requests { entries: Vec::new(), reply }
    };
    let settlement = || Job::Limit(Operation::adjust(&[charge("c", 1, 10)]).0);

    let mut jobs = vec![entry_job(), settlement()];
    assert!(Round::take(&mut jobs).nobody_waits());

    // Its caller still waits (the answer's receiver is alive): an abandoned one is skipped.
    let (reservation, _caller) = Operation::reserve(&[charge("c", 1, 10)]);
    let mut jobs = vec![entry_job(), Job::Limit(reservation)];
    assert!(!Round::take(&mut jobs).nobody_waits());

    let (reply, _answer) = oneshot::channel();
    let mut jobs = vec![entry_job(), Job::Audit { events: vec![event("decision")], reply }];
    assert!(!Round::take(&mut jobs).nobody_waits());
}
