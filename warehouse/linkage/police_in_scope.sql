-- The police crimes named in link_scope_keys (all of them when it holds '*').
with scope as (select record_key from link_scope_keys where source = 'police')
-- Only the columns linkage reads: the rest (file hash, offence text, flags) would be
-- carried through every frame of a night for nothing.
select
    p.crime_key, p.force_id, p.status, p.crime_ref_tokens, p.offence_category,
    p.occurred_from, p.occurred_to, p.reported_date,
    p.street, p.town, p.postcode_unit_key, p.postcode_sector, p.postcode_district, p.postcode_area,
    p.summary_redacted, p.identity_tokens
from stg_police_crimes as p
where p.crime_key in (select record_key from scope)
    or exists (select 1 from scope where record_key = '*')
-- in key order: blocking breaks exact narrative ties by position, so the same every run
order by p.crime_key
