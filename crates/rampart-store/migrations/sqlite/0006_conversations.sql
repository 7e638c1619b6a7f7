-- Encrypted conversation history (rampart_core::ConversationStore). Content is AES-256-GCM
-- ciphertext (base64) under the tenant's data key; metadata stays in clear for listing,
-- retention and erasure. pii_tags is a comma-separated list of entity types.
CREATE TABLE conversations (
    id              TEXT   NOT NULL PRIMARY KEY,
    tenant          TEXT   NOT NULL,
    user_id         TEXT,
    request_id      TEXT,
    model           TEXT   NOT NULL,
    created_unix_ms BIGINT NOT NULL,
    expires_unix_ms BIGINT,
    pii_tags        TEXT   NOT NULL,
    data_key_id     TEXT   NOT NULL,
    nonce           TEXT   NOT NULL,
    ciphertext      TEXT   NOT NULL
);

CREATE INDEX conversations_tenant_idx ON conversations (tenant, user_id, created_unix_ms);
CREATE INDEX conversations_expiry_idx ON conversations (expires_unix_ms);

-- One data key per tenant, wrapped by the master key (base64).
CREATE TABLE conversation_keys (
    id              TEXT   NOT NULL PRIMARY KEY,
    tenant          TEXT   NOT NULL UNIQUE,
    master_key_id   TEXT   NOT NULL,
    wrapped         TEXT   NOT NULL,
    created_unix_ms BIGINT NOT NULL
);
