-- The CST reports named in link_scope_keys ('cst'), latest versions, with only the columns
-- blocking reads (transforms.linkage.CST_BLOCKING_COLUMNS): an incremental night reads every
-- report in reach this way and the narratives of its pairs' reports alone (cst_named).
select
    c.report_key, c.incident_date, c.reported_date,
    c.postcode_unit_key, c.postcode_sector, c.postcode_district, c.street, c.force_id,
    c.cited_crime_ref_tokens
from stg_cst_reports as c
where c.report_key in (select record_key from link_scope_keys where source = 'cst')
-- in key order: blocking breaks exact narrative ties by position, so the same every night
order by c.report_key
