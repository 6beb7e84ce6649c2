-- The police crimes named in link_scope_keys ('police'), latest versions, with only the
-- columns blocking reads (transforms.linkage.POLICE_BLOCKING_COLUMNS, the crime-number tokens
-- apart: police_tokens_named): an incremental night reads every crime in reach this way and
-- the summaries of its pairs' crimes alone (police_named).
select
    p.crime_key, p.occurred_from, p.occurred_to,
    p.postcode_unit_key, p.postcode_sector, p.postcode_district, p.street, p.force_id
from stg_police_crimes as p
where p.crime_key in (select record_key from link_scope_keys where source = 'police')
-- in key order: blocking breaks exact narrative ties by position, so the same every night
order by p.crime_key
