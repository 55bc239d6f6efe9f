-- Identities: administrator roles and scopes, enrollment tokens, workstations and their
-- certificates, recovery challenges.

CREATE TABLE admin_offices (
    admin_id  INTEGER NOT NULL REFERENCES admins (id),
    office    TEXT NOT NULL REFERENCES offices (crpcen),
    PRIMARY KEY (admin_id, office)
) STRICT;

CREATE TABLE enrollment_tokens (
    id            INTEGER PRIMARY KEY,
    -- SHA-256 of the token; the token itself is never stored.
    token_hash    BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    office        TEXT NOT NULL REFERENCES offices (crpcen),
    uses_left     INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

CREATE INDEX enrollment_tokens_office ON enrollment_tokens (office, id);

CREATE TABLE workstations (
    id                  TEXT PRIMARY KEY NOT NULL,
    office              TEXT NOT NULL REFERENCES offices (crpcen),
    hostname            TEXT NOT NULL,
    os                  TEXT NOT NULL,
    agent_version       TEXT NOT NULL,
    -- The registered public key: the uncompressed ECDSA P-256 point.
    public_key          BLOB NOT NULL,
    -- 'active', 'locked' or 'revoked'.
    status              TEXT NOT NULL,
    lock_reason         TEXT,
    generation          INTEGER NOT NULL,
    current_serial      TEXT NOT NULL,
    -- Whether the current certificate has been presented at least once.
    current_confirmed   INTEGER NOT NULL,
    previous_serial     TEXT,
    cert_not_after      TEXT NOT NULL,
    last_seen_at        TEXT NOT NULL,
    enrolled_at         TEXT NOT NULL
) STRICT;

CREATE INDEX workstations_office ON workstations (office, id);

CREATE TABLE recovery_challenges (
    workstation_id  TEXT NOT NULL REFERENCES workstations (id),
    challenge       BLOB NOT NULL,
    expires_at      TEXT NOT NULL,
    PRIMARY KEY (workstation_id, challenge)
) STRICT;
