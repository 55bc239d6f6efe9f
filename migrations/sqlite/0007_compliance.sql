-- Compliance: the policy (global, per office, and the default from the configuration), each
-- mailbox's current standing, and the append-only history of its states that answers any past date.
-- Migrations are append-only: never edit one that has been released; add a new one.

CREATE TABLE compliance_policies (
    -- 'default' (from the server's configuration), 'global' (set by an administrator) or a CRPCEN.
    scope          TEXT PRIMARY KEY NOT NULL,
    due_soon_days  INTEGER NOT NULL CHECK (due_soon_days >= 0),
    limit_days     INTEGER NOT NULL CHECK (limit_days > due_soon_days),
    offline_days   INTEGER NOT NULL CHECK (offline_days > 0),
    updated_at     TEXT NOT NULL
) STRICT;

CREATE TABLE mailbox_compliance (
    mailbox_id           INTEGER PRIMARY KEY NOT NULL REFERENCES mailboxes (id),
    office               TEXT NOT NULL,
    state                TEXT NOT NULL,
    reason               TEXT,
    since                TEXT NOT NULL,
    non_compliant_since  TEXT,
    last_verified_at     TEXT,
    -- NULL until first assessed (a mailbox just registered).
    assessed_at          TEXT,
    next_check_at        TEXT
) STRICT;

-- Covers the per-office counts of a report.
CREATE INDEX mailbox_compliance_office ON mailbox_compliance
    (office, state, last_verified_at, non_compliant_since);
-- Covers the fleet's summary.
CREATE INDEX mailbox_compliance_state ON mailbox_compliance
    (state, office, last_verified_at, non_compliant_since);
CREATE INDEX mailbox_compliance_next ON mailbox_compliance (next_check_at);

CREATE TABLE compliance_history (
    seq                  INTEGER PRIMARY KEY,
    mailbox_id           INTEGER NOT NULL REFERENCES mailboxes (id),
    office               TEXT NOT NULL,
    at                   TEXT NOT NULL,
    state                TEXT NOT NULL,
    reason               TEXT,
    non_compliant_since  TEXT,
    last_verified_at     TEXT
) STRICT;

CREATE INDEX compliance_history_mailbox ON compliance_history (mailbox_id, at, seq);
CREATE INDEX compliance_history_office ON compliance_history (office, mailbox_id);

CREATE TRIGGER compliance_history_no_update BEFORE UPDATE ON compliance_history
BEGIN
    SELECT RAISE(ABORT, 'compliance_history is append-only');
END;

CREATE TRIGGER compliance_history_no_delete BEFORE DELETE ON compliance_history
BEGIN
    SELECT RAISE(ABORT, 'compliance_history is append-only');
END;

-- Mailboxes registered before this migration are assessed by the first sweep.
INSERT INTO mailbox_compliance (mailbox_id, office, state, since, next_check_at)
SELECT id, office, 'never_enrolled', created_at, created_at FROM mailboxes;

-- When a periodic rotation's mailbox reaches its limit (told to the agent).
ALTER TABLE rotations ADD COLUMN due_at TEXT;
