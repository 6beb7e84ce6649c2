-- CST reports whose latest version was never linked (new) or differs from the one linked (changed).
select c.report_key
from stg_cst_reports as c
left join link_record_state as s
    on s.source = 'cst'
    and s.record_key = c.report_key
    and s.file_hash = c.file_hash
    and s.source_row = c.source_row
where s.record_key is null
