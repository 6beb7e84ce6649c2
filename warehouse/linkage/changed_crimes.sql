-- Police crimes whose latest version was never linked (new) or differs from the one linked
-- (a correction, or a cancellation).
select p.crime_key
from stg_police_crimes as p
left join link_record_state as s
    on s.source = 'police'
    and s.record_key = p.crime_key
    and s.file_hash = p.file_hash
    and s.source_row = p.source_row
where s.record_key is null
