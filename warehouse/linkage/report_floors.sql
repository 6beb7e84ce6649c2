-- The narrative floors (link_record_state) of the CST reports named in link_scope_keys ('cst').
select s.record_key as report_key, s.no_place_floor as report_floor
from link_record_state as s
where s.source = 'cst'
    and s.no_place_floor is not null
    and s.record_key in (select record_key from link_scope_keys where source = 'cst')
