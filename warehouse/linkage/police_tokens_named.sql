-- The crime-number tokens of the police crimes named in link_scope_keys ('police_tokens'),
-- latest versions: the crimes a night's pairs can share a token with.
select p.crime_key, p.crime_ref_tokens
from stg_police_crimes as p
where p.crime_key in (select record_key from link_scope_keys where source = 'police_tokens')
