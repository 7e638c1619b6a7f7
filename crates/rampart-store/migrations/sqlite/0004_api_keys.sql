-- API keys (rampart_core::ApiKeyStore): a public id and a salted SHA-256 of the secret, never
-- the secret. Roles are a comma-separated list; salt and hash are lower-case hex.
CREATE TABLE api_keys (
    id                TEXT   NOT NULL PRIMARY KEY,
    name              TEXT,
    tenant_id         TEXT   NOT NULL,
    user_id           TEXT,
    roles             TEXT   NOT NULL,
    salt              TEXT   NOT NULL,
    hash              TEXT   NOT NULL,
    created_unix_ms   BIGINT NOT NULL,
    expires_unix_ms   BIGINT,
    revoked_unix_ms   BIGINT,
    last_used_unix_ms BIGINT
);

CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_unix_ms);
