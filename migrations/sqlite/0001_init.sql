-- Offices, mailboxes, administrators and the audit trail.
-- Migrations are append-only: never edit one that has been released; add a new one.

CREATE TABLE offices (
    crpcen      TEXT PRIMARY KEY NOT NULL CHECK (length(crpcen) = 5),
    name        TEXT NOT NULL,
    city        TEXT,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    address       TEXT NOT NULL UNIQUE,
    office        TEXT NOT NULL REFERENCES offices (crpcen),
    last_name     TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

CREATE INDEX mailboxes_office_address ON mailboxes (office, address);

CREATE TABLE admins (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash  BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    office      TEXT,
    target      TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash        BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE INDEX audit_log_office_seq ON audit_log (office, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
