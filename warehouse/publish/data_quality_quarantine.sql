-- Quarantine by source, extract date and rule: counts only (no file names,
-- rows, keys or reasons). The extract date follows data_quality_extracts.sql
-- (keep the two rules equal). A row counts once per rule it broke; a whole
-- quarantined file counts under files.

with

files as (
    select * from manifest
),

cst_record_dates as (
    select
        file_hash,
        max(greatest(reported_date, cast(last_updated as date))) as latest_record_date
    from stg_cst_report_versions
    group by file_hash
),

police_record_dates as (
    select
        file_hash,
        max(reported_date) as latest_record_date
    from stg_police_crime_versions
    group by file_hash
),

record_dates as (
    select * from cst_record_dates
    union all
    select * from police_record_dates
),

named as (
    select
        files.file_hash,
        cast(files.first_seen as date) as received_date,
        cast(try_strptime(
            regexp_replace(
                regexp_extract_all(
                    regexp_extract(files.file_key, '[^/]+$'),
                    '(20[0-9]{2}[-_]?[01][0-9][-_]?[0-3][0-9])', 1
                )[-1],
                '[-_]', '', 'g'
            ),
            '%Y%m%d'
        ) as date) as name_date
    from files
),

extract_dates as (
    select
        named.file_hash,
        coalesce(
            case when named.name_date <= named.received_date then named.name_date end,
            case when record_dates.latest_record_date is not null
                then least(record_dates.latest_record_date, named.received_date)
            end,
            named.received_date
        ) as extract_date
    from named
    left join record_dates using (file_hash)
),

entries as (
    select * from quarantine
),

final as (
    select
        entries.source_id,
        coalesce(extract_dates.extract_date, cast(entries.first_seen as date)) as extract_date,
        entries.rule,
        count(distinct entries.source_row) as rows_quarantined,
        count(distinct entries.source_row) filter (where entries.resolved_at is null) as rows_open,
        count(*) filter (where entries.source_row is null) as files_quarantined,
        count(*) filter (where entries.source_row is null and entries.resolved_at is null) as files_open
    from entries
    left join extract_dates using (file_hash)
    group by all
    order by all
)

select * from final
