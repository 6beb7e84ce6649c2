-- Every police crime recorded with the same force, time range and report date as a
-- changed crime (link_scope_keys 'police_changed'): the crimes whose incident group
-- a night's changes can alter. Only the crimes crimes_in_changed_blocks.sql named
-- ('police_block') are ranked for their latest version, by a key filter DuckDB pushes below
-- the staging view's window; materialized, as a join below it kept the filter from going
-- down (ranking every crime's versions took 0.28-0.33 s on a 100x daily night, this 0.15 s).
with

changed as (
    select distinct p.force_id, p.occurred_from, p.occurred_to, p.reported_date
    from stg_police_crimes as p
    where p.crime_key in (select record_key from link_scope_keys where source = 'police_changed')
),

block_crimes as materialized (
    select
        p.crime_key, p.force_id, p.occurred_from, p.occurred_to, p.reported_date,
        p.postcode_unit_key, p.street, p.postcode_district, p.status, p.summary_redacted, p.identity_tokens
    from stg_police_crimes as p
    where p.crime_key in (select record_key from link_scope_keys where source = 'police_block')
)

select b.*
from block_crimes as b
join changed as c
    on b.force_id = c.force_id
    and b.occurred_from is not distinct from c.occurred_from
    and b.occurred_to is not distinct from c.occurred_to
    and b.reported_date is not distinct from c.reported_date
