-- Step reports: rotations get a kind (provisional or periodic) and the last step an agent
-- reported; each report is kept in rotation_events, idempotent by (workstation, report id); each
-- mailbox's last verified change is kept with its key evidence.

ALTER TABLE rotations ADD COLUMN kind TEXT NOT NULL DEFAULT 'provisional'
    CHECK (kind IN ('provisional', 'periodic'));
ALTER TABLE rotations ADD COLUMN last_step TEXT;
ALTER TABLE rotations ADD COLUMN last_step_at TIMESTAMPTZ;
ALTER TABLE rotations ADD COLUMN last_workstation TEXT;
ALTER TABLE rotations ADD COLUMN failure TEXT;

-- A provisional rotation holds its escrowed password exactly while open; a periodic one never.
ALTER TABLE rotations DROP CONSTRAINT rotations_check;
ALTER TABLE rotations ADD CONSTRAINT rotations_escrow CHECK (CASE kind
    WHEN 'provisional' THEN (status IN ('issued', 'delivered')) = (ciphertext IS NOT NULL)
    ELSE ciphertext IS NULL END);

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
    occurred_at      TIMESTAMPTZ NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    -- 'observed_absent' or 'person_confirmed', on a started step.
    evidence_kind    TEXT,
    evidence_at      TIMESTAMPTZ,
    evidence_detail  TEXT,
    detail           TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    PRIMARY KEY (workstation_id, report_id)
);

CREATE INDEX rotation_events_rotation ON rotation_events (rotation_id, seq);

CREATE TABLE mailbox_verified_changes (
    mailbox_id       BIGINT PRIMARY KEY REFERENCES mailboxes (id),
    rotation_id      TEXT NOT NULL REFERENCES rotations (id),
    kind             TEXT NOT NULL,
    verified_at      TIMESTAMPTZ NOT NULL,
    workstation_id   TEXT NOT NULL,
    evidence_kind    TEXT,
    evidence_at      TIMESTAMPTZ,
    evidence_detail  TEXT
);
