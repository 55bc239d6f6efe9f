-- Signed heads of the audit chain: the audit signing key's Ed25519 signature over a record's
-- sequence number and hash (`domain::audit::head_message`), so that a chain rewritten by whoever
-- can write the database (every hash recomputed) no longer matches a signature. Append-only, like
-- audit_log. Signing a head is not itself an audit record.

CREATE TABLE audit_heads (
    seq         BIGINT PRIMARY KEY,
    hash        BYTEA NOT NULL CHECK (length(hash) = 32),
    signed_at   TIMESTAMPTZ NOT NULL,
    key_id      TEXT NOT NULL,
    signature   BYTEA NOT NULL CHECK (length(signature) = 64)
);

CREATE FUNCTION audit_heads_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_heads is append-only';
END;
$$;

CREATE TRIGGER audit_heads_no_update_delete BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_append_only();

CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_heads_append_only();
