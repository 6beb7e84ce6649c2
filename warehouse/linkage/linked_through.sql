-- The newest file (ingest_seq) a version in link_record_state comes from, -1 when it holds none.
-- After every link each record's latest version is in link_record_state, so only a record with
-- a version loaded after this one can be new or changed (changed_reports.sql, changed_crimes.sql).
select coalesce(max(manifest.ingest_seq), -1) as ingest_seq
from manifest
where manifest.file_hash in (select distinct file_hash from link_record_state)
