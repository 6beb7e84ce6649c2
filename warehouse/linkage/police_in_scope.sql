-- The police crimes named in link_scope_keys (all of them when it holds '*').
with scope as (select record_key from link_scope_keys where source = 'police')
select p.*
from stg_police_crimes as p
where p.crime_key in (select record_key from scope)
    or exists (select 1 from scope where record_key = '*')
