-- Compliance: the policy (global, per office, and the default from the configuration), each
-- mailbox's current standing, and the append-only history of its states that answers any past date.
-- Migrations are append-only: never edit one that has been released; add a new one.

CREATE TABLE compliance_policies (
    -- 'default' (from the server's configuration), 'global' (set by an administrator) or a CRPCEN.
    scope          TEXT PRIMARY KEY,
    due_soon_days  BIGINT NOT NULL CHECK (due_soon_days >= 0),
    limit_days     BIGINT NOT NULL CHECK (limit_days > due_soon_days),
    offline_days   BIGINT NOT NULL CHECK (offline_days > 0),
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE mailbox_compliance (
    mailbox_id           BIGINT PRIMARY KEY REFERENCES mailboxes (id),
    office               TEXT NOT NULL,
    state                TEXT NOT NULL,
    reason               TEXT,
    since                TIMESTAMPTZ NOT NULL,
    non_compliant_since  TIMESTAMPTZ,
    last_verified_at     TIMESTAMPTZ,
    -- NULL until first assessed (a mailbox just registered).
    assessed_at          TIMESTAMPTZ,
    next_check_at        TIMESTAMPTZ
);

-- Covers the per-office counts of a report.
CREATE INDEX mailbox_compliance_office ON mailbox_compliance
    (office, state, last_verified_at, non_compliant_since);
-- Covers the fleet's summary.
CREATE INDEX mailbox_compliance_state ON mailbox_compliance
    (state, office, last_verified_at, non_compliant_since);
CREATE INDEX mailbox_compliance_next ON mailbox_compliance (next_check_at);

CREATE TABLE compliance_history (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id           BIGINT NOT NULL REFERENCES mailboxes (id),
    office               TEXT NOT NULL,
    at                   TIMESTAMPTZ NOT NULL,
    state                TEXT NOT NULL,
    reason               TEXT,
    non_compliant_since  TIMESTAMPTZ,
    last_verified_at     TIMESTAMPTZ
);

CREATE INDEX compliance_history_mailbox ON compliance_history (mailbox_id, at, seq);
CREATE INDEX compliance_history_office ON compliance_history (office, mailbox_id);

CREATE FUNCTION compliance_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'compliance_history is append-only';
END;
$$;

CREATE TRIGGER compliance_history_no_update_delete BEFORE UPDATE OR DELETE ON compliance_history
    FOR EACH ROW EXECUTE FUNCTION compliance_history_append_only();

CREATE TRIGGER compliance_history_no_truncate BEFORE TRUNCATE ON compliance_history
    FOR EACH STATEMENT EXECUTE FUNCTION compliance_history_append_only();

-- Mailboxes registered before this migration are assessed by the first sweep.
INSERT INTO mailbox_compliance (mailbox_id, office, state, since, next_check_at)
SELECT id, office, 'never_enrolled', created_at, created_at FROM mailboxes;

-- When a periodic rotation's mailbox reaches its limit (told to the agent).
ALTER TABLE rotations ADD COLUMN due_at TIMESTAMPTZ;
