-- Stored incident groups of the crimes named in link_scope_keys ('police').
select crime_key, police_incident_id
from police_incident_groups
where crime_key in (select record_key from link_scope_keys where source = 'police')
