-- The newest audit record of one action (the last audit.key.rotate, read at every start) found
-- through an index, not by scanning the whole trail backwards.
CREATE INDEX audit_log_action_seq ON audit_log (action, seq);
