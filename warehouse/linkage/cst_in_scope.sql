-- The CST reports named in link_scope_keys (all of them when it holds '*').
with scope as (select record_key from link_scope_keys where source = 'cst')
select c.*
from stg_cst_reports as c
where c.report_key in (select record_key from scope)
    or exists (select 1 from scope where record_key = '*')
-- in key order: blocking breaks exact narrative ties by position, so the same every run
order by c.report_key
