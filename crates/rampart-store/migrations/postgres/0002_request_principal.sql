-- Who each request is charged to (rampart_core::Principal); NULL when the request did not say.
-- The end user is `end_user`, not `user`, which PostgreSQL reserves; both engines keep one name.
ALTER TABLE request_log ADD COLUMN api_key_id TEXT;
ALTER TABLE request_log ADD COLUMN tenant TEXT;
ALTER TABLE request_log ADD COLUMN end_user TEXT;

-- Usage totals filter by one principal and a time window.
CREATE INDEX request_log_api_key_time_idx ON request_log (api_key_id, time_unix_ms);
CREATE INDEX request_log_tenant_time_idx ON request_log (tenant, time_unix_ms);
CREATE INDEX request_log_end_user_time_idx ON request_log (end_user, time_unix_ms);
