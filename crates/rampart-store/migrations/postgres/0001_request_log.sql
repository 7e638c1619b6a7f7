-- One row per gateway request. Ids are UUIDv7 strings, so ordering by id is time order;
-- the "C" collation makes that byte order whatever the database's locale is.
-- Unsigned counters are kept as signed 64-bit integers; the writer saturates at i64::MAX.
CREATE TABLE request_log (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    request_id   TEXT             NOT NULL,
    time_unix_ms BIGINT           NOT NULL,
    endpoint     TEXT             NOT NULL,
    model        TEXT             NOT NULL,
    backend      TEXT             NOT NULL,
    status       INTEGER          NOT NULL,
    stream       BOOLEAN          NOT NULL,
    tokens_in    BIGINT           NOT NULL,
    tokens_out   BIGINT           NOT NULL,
    latency_ms   BIGINT           NOT NULL,
    cost_usd     DOUBLE PRECISION NOT NULL,
    error        TEXT
);

CREATE INDEX request_log_time_idx ON request_log (time_unix_ms);
CREATE INDEX request_log_model_idx ON request_log (model);
