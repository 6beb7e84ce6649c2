-- the date each current record is judged by for retention: when the incident
-- happened (cst incident date; police occurred-to, else occurred-from), else
-- when it was reported, else when its file first arrived.

create or replace temp table retention_record_dates as
with

cst as (
    select
        'cst' as source,
        reports.report_key as record_key,
        coalesce(reports.incident_date, reports.reported_date, cast(manifest.first_seen as date)) as record_date
    from stg_cst_reports as reports
    left join manifest on reports.file_hash = manifest.file_hash
),

police as (
    select
        'police' as source,
        crimes.crime_key as record_key,
        coalesce(
            cast(coalesce(crimes.occurred_to, crimes.occurred_from) as date),
            crimes.reported_date,
            cast(manifest.first_seen as date)
        ) as record_date
    from stg_police_crimes as crimes
    left join manifest on crimes.file_hash = manifest.file_hash
)

select * from cst
union all
select * from police;
