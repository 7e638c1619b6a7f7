-- The audit log (rampart_core::AuditLog): hash-chained records in seq order, the chain's head,
-- and signed checkpoints. `record` is the canonical JSON exactly as hashed; `hash` and every
-- other hash are lower-case hex.
CREATE TABLE audit_log (
    seq          BIGINT NOT NULL PRIMARY KEY,
    time_unix_ms BIGINT NOT NULL,
    tenant       TEXT,
    kind         TEXT   NOT NULL,
    request_id   TEXT,
    record       TEXT   NOT NULL,
    hash         TEXT   NOT NULL
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant, seq);
CREATE INDEX audit_log_request_idx ON audit_log (request_id);

-- One row: where the chain stands (rampart_audit::AuditChain::to_bytes, hex), locked and
-- replaced inside every append transaction, so gateways sharing the database append in turn.
CREATE TABLE audit_head (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    size  BIGINT  NOT NULL,
    chain TEXT    NOT NULL
);
INSERT INTO audit_head (id, size, chain) VALUES (1, 0, '');

CREATE TABLE audit_checkpoints (
    tree_size    BIGINT NOT NULL PRIMARY KEY,
    root_hash    TEXT   NOT NULL,
    head_hash    TEXT   NOT NULL,
    time_unix_ms BIGINT NOT NULL,
    key_id       TEXT   NOT NULL,
    signature    TEXT   NOT NULL
);

-- Append-only: the database itself refuses to change or remove a record. Someone who can
-- drop these triggers can tamper, and `rampart audit verify` then names what they touched.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
