-- The police crimes named in link_scope_keys ('police'), latest versions (an incremental
-- night's records: a plain key filter, which DuckDB pushes below the staging view's window).
-- Crime-number tokens only for the crimes also named under 'police_tokens' (those a pair
-- can share a token with): the lists are half the bytes of a night's wide scope.
-- Only the columns linkage reads: the rest (file hash, offence text, flags) would be
-- carried through every frame of a night for nothing.
select
    p.crime_key, p.force_id, p.status,
    case when p.crime_key in (select record_key from link_scope_keys where source = 'police_tokens')
        then p.crime_ref_tokens end as crime_ref_tokens,
    p.offence_category,
    p.occurred_from, p.occurred_to, p.reported_date,
    p.street, p.town, p.postcode_unit_key, p.postcode_sector, p.postcode_district, p.postcode_area,
    p.summary_redacted
from stg_police_crimes as p
where p.crime_key in (select record_key from link_scope_keys where source = 'police')
-- in key order: blocking breaks exact narrative ties by position, so the same every night
order by p.crime_key
