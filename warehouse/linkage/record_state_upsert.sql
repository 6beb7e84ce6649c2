-- Remember the version of every record in link_scope_keys as linked by this run (`?` = run id);
-- a record's narrative floor is written after (narrative_floors_update), null until then.
insert or replace into link_record_state (source, record_key, file_hash, source_row, linked_run_id, no_place_floor)
select 'cst', c.report_key, c.file_hash, c.source_row, ?, cast(null as double)
from stg_cst_reports as c
where c.report_key in (select record_key from link_scope_keys where source = 'cst_changed')
union all
select 'police', p.crime_key, p.file_hash, p.source_row, ?, cast(null as double)
from stg_police_crimes as p
where p.crime_key in (select record_key from link_scope_keys where source = 'police_changed')
