-- Rate-limit and budget counters (rampart_core::LimitLedger): one row per counter and window.
-- The "C" collation makes `ORDER BY counter` byte order, the order in which every transaction
-- inserts and locks rows, so concurrent reservations over the same counters cannot deadlock.
CREATE TABLE limit_counters (
    counter      TEXT COLLATE "C" NOT NULL,
    window_start BIGINT           NOT NULL,
    window_end   BIGINT           NOT NULL,
    used         BIGINT           NOT NULL,
    PRIMARY KEY (counter, window_start)
);

-- Counters whose window ended long ago are pruned by window_end.
CREATE INDEX limit_counters_window_end_idx ON limit_counters (window_end);
