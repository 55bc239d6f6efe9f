-- Offices, mailboxes, administrators and the audit trail.
-- Migrations are append-only: never edit one that has been released; add a new one.

CREATE TABLE offices (
    crpcen      TEXT PRIMARY KEY CHECK (crpcen ~ '^[0-9]{5}$'),
    name        TEXT NOT NULL,
    city        TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE mailboxes (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    office        TEXT NOT NULL REFERENCES offices (crpcen),
    last_name     TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX mailboxes_office_address ON mailboxes (office, address);

CREATE TABLE admins (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash  BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    office      TEXT,
    target      TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   BYTEA NOT NULL CHECK (length(prev_hash) = 32),
    hash        BYTEA NOT NULL CHECK (length(hash) = 32)
);

CREATE INDEX audit_log_office_seq ON audit_log (office, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
