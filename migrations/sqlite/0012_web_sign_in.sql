-- Web sign-in of administrators: a password (argon2id), a TOTP second factor sealed with a key
-- kept outside the database, and sessions shared by every server on the database.

CREATE TABLE admin_web_credentials (
    admin_id            INTEGER PRIMARY KEY NOT NULL REFERENCES admins (id),
    -- The argon2id PHC string of the web password; the password itself is never stored.
    password_hash       TEXT CHECK (length(password_hash) <= 256),
    password_set_at     TEXT,
    -- The confirmed TOTP secret, sealed (ChaCha20-Poly1305, escrow key, bound to the admin).
    totp_key_id         TEXT,
    totp_nonce          BLOB,
    totp_ciphertext     BLOB,
    totp_confirmed_at   TEXT,
    -- A secret being enrolled, sealed alike; it replaces the confirmed one once confirmed.
    pending_key_id      TEXT,
    pending_nonce       BLOB,
    pending_ciphertext  BLOB,
    -- The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step      INTEGER,
    updated_at          TEXT NOT NULL,
    CHECK ((totp_ciphertext IS NULL) = (totp_confirmed_at IS NULL))
) STRICT;

CREATE TABLE web_sessions (
    id              INTEGER PRIMARY KEY,
    -- SHA-256 of the session token; the token itself is never stored.
    token_hash      BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    admin_id        INTEGER NOT NULL REFERENCES admins (id),
    created_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    revoked_at      TEXT,
    -- Shown to administrators, never trusted.
    remote_address  TEXT CHECK (length(remote_address) <= 64),
    user_agent      TEXT NOT NULL CHECK (length(user_agent) <= 256)
) STRICT;

CREATE INDEX web_sessions_admin ON web_sessions (admin_id, id);
