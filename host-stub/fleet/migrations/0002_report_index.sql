-- 0002: fleet reports (`smart-host report KIND --from postgresql://...`, report_db.c) read a
-- station's records of the few actions a kind needs, in seq order: a due list reads status
-- transitions, calibrations and tags, a small part of a ledger that is mostly gate decisions.
-- This index finds them without reading the rest; created on fleet.records, it is created on
-- every month's partition, those to come included.
CREATE INDEX records_node_action_seq ON fleet.records (node_id, action, seq);
