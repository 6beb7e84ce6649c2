-- The CST reports named in link_scope_keys ('cst'), latest versions (an incremental night's
-- records: a plain key filter, which DuckDB pushes below the staging view's window).
select c.*
from stg_cst_reports as c
where c.report_key in (select record_key from link_scope_keys where source = 'cst')
-- in key order: blocking breaks exact narrative ties by position, so the same every night
order by c.report_key
