-- Every crime with a version in the block (force, time range, report date) of a changed crime
-- (link_scope_keys 'police_changed'). Found in the versions, which need no ranking: the latest
-- version of a crime in such a block is one of them, so police_in_changed_blocks.sql ranks only
-- these crimes' versions. A query, not an insert: inside an insert DuckDB did not push the key
-- filter below the staging view's window.
with

changed as (
    select distinct p.force_id, p.occurred_from, p.occurred_to, p.reported_date
    from stg_police_crimes as p
    where p.crime_key in (select record_key from link_scope_keys where source = 'police_changed')
)

select distinct v.crime_key
from stg_police_crime_versions as v
join changed as c
    on v.force_id = c.force_id
    and v.occurred_from is not distinct from c.occurred_from
    and v.occurred_to is not distinct from c.occurred_to
    and v.reported_date is not distinct from c.reported_date
