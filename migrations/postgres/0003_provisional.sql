-- Provisional passwords: policies, workstation-to-mailbox assignments, rotations with their
-- escrowed (encrypted) provisional password.

CREATE TABLE password_policies (
    -- 'global' or an office's CRPCEN.
    scope               TEXT PRIMARY KEY,
    min_length          BIGINT NOT NULL CHECK (min_length >= 10),
    require_lower       BOOLEAN NOT NULL,
    require_upper       BOOLEAN NOT NULL,
    require_digit       BOOLEAN NOT NULL,
    require_special     BOOLEAN NOT NULL,
    provisional_length  BIGINT NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE workstation_mailboxes (
    workstation_id  TEXT NOT NULL REFERENCES workstations (id),
    mailbox_id      BIGINT NOT NULL REFERENCES mailboxes (id),
    assigned_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workstation_id, mailbox_id)
);

CREATE TABLE rotations (
    id            TEXT PRIMARY KEY,
    mailbox_id    BIGINT NOT NULL REFERENCES mailboxes (id),
    office        TEXT NOT NULL REFERENCES offices (crpcen),
    -- 'issued', 'delivered', 'completed', 'failed', 'cancelled' or 'expired'.
    status        TEXT NOT NULL,
    key_id        TEXT,
    nonce         BYTEA,
    ciphertext    BYTEA,
    issued_by     TEXT NOT NULL,
    issued_at     TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    delivered_at  TIMESTAMPTZ,
    closed_at     TIMESTAMPTZ,
    -- The escrowed password exists exactly while the rotation is open.
    CHECK ((status IN ('issued', 'delivered')) = (ciphertext IS NOT NULL))
);

CREATE UNIQUE INDEX rotations_one_open_per_mailbox ON rotations (mailbox_id) WHERE status IN ('issued', 'delivered');
CREATE INDEX rotations_office_status ON rotations (office, status);
