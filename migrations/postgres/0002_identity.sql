-- Identities: administrator roles and scopes, enrollment tokens, workstations and their
-- certificates, recovery challenges.

CREATE TABLE admin_offices (
    admin_id  BIGINT NOT NULL REFERENCES admins (id),
    office    TEXT NOT NULL REFERENCES offices (crpcen),
    PRIMARY KEY (admin_id, office)
);

CREATE TABLE enrollment_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- SHA-256 of the token; the token itself is never stored.
    token_hash    BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    office        TEXT NOT NULL REFERENCES offices (crpcen),
    uses_left     BIGINT NOT NULL CHECK (uses_left >= 0),
    expires_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX enrollment_tokens_office ON enrollment_tokens (office, id);

CREATE TABLE workstations (
    id                  TEXT PRIMARY KEY,
    office              TEXT NOT NULL REFERENCES offices (crpcen),
    hostname            TEXT NOT NULL,
    os                  TEXT NOT NULL,
    agent_version       TEXT NOT NULL,
    -- The registered public key: the uncompressed ECDSA P-256 point.
    public_key          BYTEA NOT NULL,
    -- 'active', 'locked' or 'revoked'.
    status              TEXT NOT NULL,
    lock_reason         TEXT,
    generation          BIGINT NOT NULL,
    current_serial      TEXT NOT NULL,
    -- Whether the current certificate has been presented at least once.
    current_confirmed   BOOLEAN NOT NULL,
    previous_serial     TEXT,
    cert_not_after      TIMESTAMPTZ NOT NULL,
    last_seen_at        TIMESTAMPTZ NOT NULL,
    enrolled_at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX workstations_office ON workstations (office, id);

CREATE TABLE recovery_challenges (
    workstation_id  TEXT NOT NULL REFERENCES workstations (id),
    challenge       BYTEA NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workstation_id, challenge)
);
