-- The workstations of a mailbox found through an index: the check-in writer looks up, once per
-- flush, the workstations of the mailboxes offline or past a deadline, and each reassessment reads
-- a mailbox's workstations.
CREATE INDEX workstation_mailboxes_mailbox ON workstation_mailboxes (mailbox_id, workstation_id);
