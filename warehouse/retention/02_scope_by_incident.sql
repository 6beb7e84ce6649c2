-- records to purge, a whole incident at a time: every member of an incident
-- that happened before the cutoff (the incident's published date; for a
-- component that is not an incident - all crimes cancelled, force not taking
-- part - its latest member date). Purging whole incidents keeps every count
-- from the cutoff on exactly as it was, and never leaves half an incident.

create or replace temp table purge_records as
with

members as (
    select
        incident_members.incident_key,
        incident_members.member_source as source,
        coalesce(incident_members.report_key, incident_members.crime_key) as record_key
    from incident_members
),

member_dates as (
    select
        members.incident_key,
        members.source,
        members.record_key,
        retention_record_dates.record_date
    from members
    inner join retention_record_dates
        on members.source = retention_record_dates.source
        and members.record_key = retention_record_dates.record_key
),

component_dates as (
    select
        member_dates.incident_key,
        coalesce(any_value(incidents.incident_date), max(member_dates.record_date)) as judged_date
    from member_dates
    left join incidents on member_dates.incident_key = incidents.incident_key
    group by member_dates.incident_key
),

in_components as (
    select member_dates.source, member_dates.record_key
    from member_dates
    inner join component_dates on member_dates.incident_key = component_dates.incident_key
    where component_dates.judged_date < cast($cutoff as date)
),

-- records the marts do not know yet (loaded after they were built): their own date
outside as (
    select retention_record_dates.source, retention_record_dates.record_key
    from retention_record_dates
    anti join members
        on retention_record_dates.source = members.source
        and retention_record_dates.record_key = members.record_key
    where retention_record_dates.record_date < cast($cutoff as date)
)

select * from in_components
union
select * from outside;
