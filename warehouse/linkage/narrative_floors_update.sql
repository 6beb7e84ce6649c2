-- Store the narrative floors of link_floors (source, record_key, floor) for the records linked
-- tonight (their rows in link_record_state were written just before, floor null): a report's
-- k-th best cosine among the crimes the no_place rule let it meet, a crime's among the reports.
update link_record_state
set no_place_floor = f.floor
from link_floors as f
where link_record_state.source = f.source and link_record_state.record_key = f.record_key
