-- Store the narrative floors of link_floors (report_key, report_floor) for the reports linked
-- tonight (their rows in link_record_state were written just before, floor null).
update link_record_state
set no_place_floor = f.report_floor
from link_floors as f
where link_record_state.source = 'cst' and link_record_state.record_key = f.report_key
