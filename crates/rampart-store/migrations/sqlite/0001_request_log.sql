-- One row per gateway request. Ids are UUIDv7 strings, so ordering by id is time order.
-- Unsigned counters are kept as signed 64-bit integers; the writer saturates at i64::MAX.
CREATE TABLE request_log (
    id           TEXT    NOT NULL PRIMARY KEY,
    request_id   TEXT    NOT NULL,
    time_unix_ms INTEGER NOT NULL,
    endpoint     TEXT    NOT NULL,
    model        TEXT    NOT NULL,
    backend      TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    stream       BOOLEAN NOT NULL,
    tokens_in    INTEGER NOT NULL,
    tokens_out   INTEGER NOT NULL,
    latency_ms   INTEGER NOT NULL,
    cost_usd     REAL    NOT NULL,
    error        TEXT
);

CREATE INDEX request_log_time_idx ON request_log (time_unix_ms);
CREATE INDEX request_log_model_idx ON request_log (model);
