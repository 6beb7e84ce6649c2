-- Every CST report's date (to find the reports a night's crimes can pair with).
select report_key, incident_date from stg_cst_reports
