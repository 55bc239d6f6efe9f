-- Step reports: rotations get a kind (provisional or periodic) and the last step an agent
-- reported; each report is kept in rotation_events, idempotent by (workstation, report id); each
-- mailbox's last verified change is kept with its key evidence.
--
-- SQLite cannot change a CHECK constraint in place: the rotations table is rebuilt, so that a
-- periodic rotation (which never holds an escrowed password) can be open.

CREATE TABLE rotations_new (
    id                TEXT PRIMARY KEY NOT NULL,
    mailbox_id        INTEGER NOT NULL REFERENCES mailboxes (id),
    office            TEXT NOT NULL REFERENCES offices (crpcen),
    -- 'provisional' (opened with a provisional password) or 'periodic' (the period came due).
    kind              TEXT NOT NULL DEFAULT 'provisional' CHECK (kind IN ('provisional', 'periodic')),
    -- 'issued', 'delivered', 'completed', 'failed', 'cancelled' or 'expired'.
    status            TEXT NOT NULL,
    key_id            TEXT,
    nonce             BLOB,
    ciphertext        BLOB,
    issued_by         TEXT NOT NULL,
    issued_at         TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    delivered_at      TEXT,
    closed_at         TEXT,
    -- The last step an agent reported, when the server received it, which workstation, and the
    -- failure reason of a failed step.
    last_step         TEXT,
    last_step_at      TEXT,
    last_workstation  TEXT,
    failure           TEXT,
    -- A provisional rotation holds its escrowed password exactly while open; a periodic one never.
    CHECK (CASE kind
        WHEN 'provisional' THEN (status IN ('issued', 'delivered')) = (ciphertext IS NOT NULL)
        ELSE ciphertext IS NULL END)
) STRICT;

INSERT INTO rotations_new (id, mailbox_id, office, kind, status, key_id, nonce, ciphertext,
    issued_by, issued_at, expires_at, delivered_at, closed_at)
SELECT id, mailbox_id, office, 'provisional', status, key_id, nonce, ciphertext, issued_by,
    issued_at, expires_at, delivered_at, closed_at FROM rotations;

DROP TABLE rotations;
ALTER TABLE rotations_new RENAME TO rotations;

CREATE UNIQUE INDEX rotations_one_open_per_mailbox ON rotations (mailbox_id) WHERE status IN ('issued', 'delivered');
CREATE INDEX rotations_office_status ON rotations (office, status);
CREATE INDEX rotations_mailbox ON rotations (mailbox_id);

CREATE TABLE rotation_events (
    workstation_id   TEXT NOT NULL REFERENCES workstations (id),
    -- Chosen by the agent: the idempotency key.
    report_id        TEXT NOT NULL,
    rotation_id      TEXT NOT NULL REFERENCES rotations (id),
    -- 'pending', 'started', 'changed', 'verified', 'completed' or 'failed'.
    step             TEXT NOT NULL,
    failure          TEXT,
    -- The agent's clock, and the server's.
    occurred_at      TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    -- 'observed_absent' or 'person_confirmed', on a started step.
    evidence_kind    TEXT,
    evidence_at      TEXT,
    evidence_detail  TEXT,
    detail           TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    PRIMARY KEY (workstation_id, report_id)
) STRICT;

CREATE INDEX rotation_events_rotation ON rotation_events (rotation_id, seq);

CREATE TABLE mailbox_verified_changes (
    mailbox_id       INTEGER PRIMARY KEY NOT NULL REFERENCES mailboxes (id),
    rotation_id      TEXT NOT NULL REFERENCES rotations (id),
    kind             TEXT NOT NULL,
    verified_at      TEXT NOT NULL,
    workstation_id   TEXT NOT NULL,
    evidence_kind    TEXT,
    evidence_at      TEXT,
    evidence_detail  TEXT
) STRICT;
