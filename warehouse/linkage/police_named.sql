-- The police crimes named in link_scope_keys ('police'), latest versions (an incremental
-- night's records: a plain key filter, which DuckDB pushes below the staging view's window).
-- No crime-number tokens (`police_tokens_named`): reading the lists of a night's wide scope
-- took half of this query's time, and only a few crimes' tokens can be shared.
-- Only the columns linkage reads: the rest (file hash, offence text, flags) would be
-- carried through every frame of a night for nothing.
select
    p.crime_key, p.force_id, p.status,
    p.offence_category,
    p.occurred_from, p.occurred_to, p.reported_date,
    p.street, p.town, p.postcode_unit_key, p.postcode_sector, p.postcode_district, p.postcode_area,
    p.summary_redacted, p.identity_tokens
from stg_police_crimes as p
where p.crime_key in (select record_key from link_scope_keys where source = 'police')
-- in key order: blocking breaks exact narrative ties by position, so the same every night
order by p.crime_key
