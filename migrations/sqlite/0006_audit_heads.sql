-- Signed heads of the audit chain: the audit signing key's Ed25519 signature over a record's
-- sequence number and hash (`domain::audit::head_message`), so that a chain rewritten by whoever
-- can write the database (every hash recomputed) no longer matches a signature. Append-only, like
-- audit_log. Signing a head is not itself an audit record.

CREATE TABLE audit_heads (
    seq         INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL CHECK (length(hash) = 32),
    signed_at   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    signature   BLOB NOT NULL CHECK (length(signature) = 64)
) STRICT;

CREATE TRIGGER audit_heads_no_update BEFORE UPDATE ON audit_heads
BEGIN
    SELECT RAISE(ABORT, 'audit_heads is append-only');
END;

CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
BEGIN
    SELECT RAISE(ABORT, 'audit_heads is append-only');
END;
