-- Police crimes whose latest version was never linked (new) or differs from the one linked
-- (a correction, or a cancellation). Only a crime with a version loaded after file
-- $linked_through can be either (see changed_reports.sql).
with

loaded_since as (
    select distinct crime_key
    from stg_police_crime_versions
    where ingest_seq > $linked_through
),

latest as materialized (
    select p.crime_key, p.file_hash, p.source_row
    from stg_police_crimes as p
    where p.crime_key in (select crime_key from loaded_since)
)

select latest.crime_key
from latest
anti join link_record_state as s
    on s.source = 'police'
    and s.record_key = latest.crime_key
    and s.file_hash = latest.file_hash
    and s.source_row = latest.source_row
