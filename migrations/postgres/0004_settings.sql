-- Settings and check-ins: the OWA address (global, per-office overrides), mailbox logon names,
-- and what each workstation last reported at its check-ins (key state, its look at OWA).

CREATE TABLE owa_urls (
    -- 'global' or an office's CRPCEN.
    scope       TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- DOMAIN\user, for OWA servers that ask for it; NULL to log on with the address.
ALTER TABLE mailboxes ADD COLUMN logon_name TEXT;

CREATE TABLE workstation_check_ins (
    workstation_id          TEXT PRIMARY KEY REFERENCES workstations (id),
    -- 'present', 'absent' or 'unknown'; NULL until an agent reports it.
    key_presence            TEXT,
    key_device              TEXT NOT NULL DEFAULT '',
    key_reason              TEXT NOT NULL DEFAULT '',
    key_since               TIMESTAMPTZ,
    key_reported_at         TIMESTAMPTZ,
    -- The last anonymous look at OWA; owa_url NULL until one is reported.
    owa_url                 TEXT,
    owa_checked_at          TIMESTAMPTZ,
    owa_reachable           BOOLEAN NOT NULL DEFAULT FALSE,
    owa_certificate_valid   BOOLEAN NOT NULL DEFAULT FALSE,
    owa_forms_based         BOOLEAN NOT NULL DEFAULT FALSE,
    owa_logon_format        TEXT NOT NULL DEFAULT 'unspecified',
    owa_language            TEXT NOT NULL DEFAULT '',
    owa_problem             TEXT NOT NULL DEFAULT '',
    owa_reported_at         TIMESTAMPTZ
);
