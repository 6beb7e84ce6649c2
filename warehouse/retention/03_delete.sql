-- the warehouse tables holding purged records or what was derived from them.
-- one statement per table, each preceded by `-- table: <name>` (its removed-row
-- count is recorded under that name in purge_counts). Tables not named here
-- that hold a report_key, crime_key or record_key column are swept by
-- flows/retention.py; the marts are rebuilt afterwards.

-- table: stg_cst_report_versions
delete from stg_cst_report_versions
where report_key in (select record_key from purge_records where source = 'cst');

-- table: stg_police_crime_versions
delete from stg_police_crime_versions
where crime_key in (select record_key from purge_records where source = 'police');

-- table: link_pairs
delete from link_pairs
where report_key in (select record_key from purge_records where source = 'cst')
   or crime_key in (select record_key from purge_records where source = 'police');

-- table: review_decisions
delete from review_decisions
where report_key in (select record_key from purge_records where source = 'cst')
   or crime_key in (select record_key from purge_records where source = 'police');

-- table: police_incident_groups
delete from police_incident_groups
where crime_key in (select record_key from purge_records where source = 'police');

-- table: link_record_state
delete from link_record_state
where exists (
    select 1 from purge_records
    where purge_records.source = link_record_state.source
      and purge_records.record_key = link_record_state.record_key
);

-- table: incident_ids
delete from incident_ids
where member_key in (
    select case source when 'cst' then 'r:' else 'c:' end || record_key from purge_records
);

-- table: quarantine
-- a purged record's rows, and every entry about a file that arrived before the
-- cutoff (an extract only holds incidents that happened before it was sent).
delete from quarantine
where record_key in (select record_key from purge_records)
   or cast(first_seen as date) < cast($cutoff as date);
