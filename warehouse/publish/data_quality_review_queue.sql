-- The linkage review queue still open when the database was published: pairs
-- with status 'review', by force and by the date of the incident (the CST
-- report's date, else the police occurred-from date). Counts only.

with

pairs as (
    select * from link_pairs
    where status = 'review'
),

reports as (
    select report_key, incident_date from stg_cst_reports
),

crimes as (
    select crime_key, cast(occurred_from as date) as occurred_date from stg_police_crimes
),

dated as (
    select
        coalesce(pairs.force_id, 'unknown') as police_force,
        coalesce(reports.incident_date, crimes.occurred_date) as incident_date,
        pairs.report_key,
        pairs.crime_key
    from pairs
    left join reports using (report_key)
    left join crimes using (crime_key)
),

final as (
    select
        police_force,
        incident_date,
        count(*) as pairs,
        count(distinct report_key) as cst_reports,
        count(distinct crime_key) as police_crimes
    from dated
    group by all
    order by all
)

select * from final
