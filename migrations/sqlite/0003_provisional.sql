-- Provisional passwords: policies, workstation-to-mailbox assignments, rotations with their
-- escrowed (encrypted) provisional password.

CREATE TABLE password_policies (
    -- 'global' or an office's CRPCEN.
    scope               TEXT PRIMARY KEY NOT NULL,
    min_length          INTEGER NOT NULL CHECK (min_length >= 10),
    require_lower       INTEGER NOT NULL,
    require_upper       INTEGER NOT NULL,
    require_digit       INTEGER NOT NULL,
    require_special     INTEGER NOT NULL,
    provisional_length  INTEGER NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

CREATE TABLE workstation_mailboxes (
    workstation_id  TEXT NOT NULL REFERENCES workstations (id),
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes (id),
    assigned_at     TEXT NOT NULL,
    PRIMARY KEY (workstation_id, mailbox_id)
) STRICT;

CREATE TABLE rotations (
    id            TEXT PRIMARY KEY NOT NULL,
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes (id),
    office        TEXT NOT NULL REFERENCES offices (crpcen),
    -- 'issued', 'delivered', 'completed', 'failed', 'cancelled' or 'expired'.
    status        TEXT NOT NULL,
    key_id        TEXT,
    nonce         BLOB,
    ciphertext    BLOB,
    issued_by     TEXT NOT NULL,
    issued_at     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    delivered_at  TEXT,
    closed_at     TEXT,
    -- The escrowed password exists exactly while the rotation is open.
    CHECK ((status IN ('issued', 'delivered')) = (ciphertext IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX rotations_one_open_per_mailbox ON rotations (mailbox_id) WHERE status IN ('issued', 'delivered');
CREATE INDEX rotations_office_status ON rotations (office, status);
