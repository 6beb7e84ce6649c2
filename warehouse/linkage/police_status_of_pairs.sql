-- Force and status of the crimes named in link_scope_keys ('police').
select crime_key, force_id, status
from stg_police_crimes
where crime_key in (select record_key from link_scope_keys where source = 'police')
