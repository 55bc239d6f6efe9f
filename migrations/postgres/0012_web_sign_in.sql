-- Web sign-in of administrators: a password (argon2id), a TOTP second factor sealed with a key
-- kept outside the database, and sessions shared by every server on the database.

CREATE TABLE admin_web_credentials (
    admin_id            BIGINT PRIMARY KEY REFERENCES admins (id),
    -- The argon2id PHC string of the web password; the password itself is never stored.
    password_hash       TEXT CHECK (length(password_hash) <= 256),
    password_set_at     TIMESTAMPTZ,
    -- The confirmed TOTP secret, sealed (ChaCha20-Poly1305, escrow key, bound to the admin).
    totp_key_id         TEXT,
    totp_nonce          BYTEA,
    totp_ciphertext     BYTEA,
    totp_confirmed_at   TIMESTAMPTZ,
    -- A secret being enrolled, sealed alike; it replaces the confirmed one once confirmed.
    pending_key_id      TEXT,
    pending_nonce       BYTEA,
    pending_ciphertext  BYTEA,
    -- The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step      BIGINT,
    updated_at          TIMESTAMPTZ NOT NULL,
    CHECK ((totp_ciphertext IS NULL) = (totp_confirmed_at IS NULL))
);

CREATE TABLE web_sessions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- SHA-256 of the session token; the token itself is never stored.
    token_hash      BYTEA NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    admin_id        BIGINT NOT NULL REFERENCES admins (id),
    created_at      TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    revoked_at      TIMESTAMPTZ,
    -- Shown to administrators, never trusted.
    remote_address  TEXT CHECK (length(remote_address) <= 64),
    user_agent      TEXT NOT NULL CHECK (length(user_agent) <= 256)
);

CREATE INDEX web_sessions_admin ON web_sessions (admin_id, id);
