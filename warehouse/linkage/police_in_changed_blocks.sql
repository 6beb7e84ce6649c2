-- Every police crime recorded with the same force, time range and report date as a
-- changed crime (link_scope_keys 'police_changed'): the crimes whose incident group
-- a night's changes can alter.
with changed as (
    select distinct p.force_id, p.occurred_from, p.occurred_to, p.reported_date
    from stg_police_crimes as p
    where p.crime_key in (select record_key from link_scope_keys where source = 'police_changed')
)
select
    p.crime_key, p.force_id, p.occurred_from, p.occurred_to, p.reported_date,
    p.postcode_unit_key, p.street, p.postcode_district, p.status, p.summary_redacted, p.identity_tokens
from stg_police_crimes as p
join changed as c
    on p.force_id = c.force_id
    and p.occurred_from is not distinct from c.occurred_from
    and p.occurred_to is not distinct from c.occurred_to
    and p.reported_date is not distinct from c.reported_date
