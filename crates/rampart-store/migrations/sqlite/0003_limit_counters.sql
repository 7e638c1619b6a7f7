-- Rate-limit and budget counters (rampart_core::LimitLedger): one row per counter and window.
-- `used` is written as a value computed by the gateway inside the write transaction, never by
-- SQL arithmetic, so it stays an integer.
CREATE TABLE limit_counters (
    counter      TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    PRIMARY KEY (counter, window_start)
);

-- Counters whose window ended long ago are pruned by window_end.
CREATE INDEX limit_counters_window_end_idx ON limit_counters (window_end);
