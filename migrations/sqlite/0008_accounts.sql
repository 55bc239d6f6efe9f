-- Local accounts: the account of a workstation that may act on a mailbox there. A mailbox may
-- have a default account (workstation_id '', set by an import or an administrator) and, per
-- workstation, a binding of its own (set by the first verified report of a provisional rotation
-- there, or by an administrator). The effective binding of (mailbox, workstation) is the
-- workstation's own row, else the default row, else none. Each step report keeps the account
-- that acted.

CREATE TABLE mailbox_accounts (
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes (id),
    -- The workstation the binding holds on, or '' for the mailbox's default.
    workstation_id  TEXT NOT NULL,
    -- What a binding compares (Linux: the user name; Windows: the SID), and evidence for people.
    account_id      TEXT NOT NULL,
    account_detail  TEXT NOT NULL,
    bound_at        TEXT NOT NULL,
    -- 'report' (a verified report, rotation_id names its rotation), 'admin' or 'import'.
    source          TEXT NOT NULL CHECK (source IN ('report', 'admin', 'import')),
    -- The actor, as the audit trail names it.
    bound_by        TEXT NOT NULL,
    rotation_id     TEXT,
    PRIMARY KEY (mailbox_id, workstation_id)
) STRICT;

-- The local account that acted, as the report named it (NULL when it named none).
ALTER TABLE rotation_events ADD COLUMN account_id TEXT;
ALTER TABLE rotation_events ADD COLUMN account_detail TEXT;
