-- The narrative floors (link_record_state) of the police crimes named in link_scope_keys ('police').
select s.record_key as crime_key, s.no_place_floor as crime_floor
from link_record_state as s
where s.source = 'police'
    and s.no_place_floor is not null
    and s.record_key in (select record_key from link_scope_keys where source = 'police')
