-- The date each landed extract stands for, one row per file (by hash). It is
-- the last full date in the file's name (YYYYMMDD, YYYY-MM-DD, YYYY_MM_DD)
-- when that is not after the day the file was first seen; else the date of the
-- latest record it holds (CST: reported or last updated; police: reported),
-- capped at that day; else the day it was first seen. The name comes first
-- because a small extract may hold only re-sent old records.

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

candidates as (
    select
        named.file_hash,
        named.received_date,
        case when named.name_date <= named.received_date then named.name_date end as name_date,
        -- least() skips nulls in DuckDB: an extract without records has no record date
        case when record_dates.latest_record_date is not null
            then least(record_dates.latest_record_date, named.received_date)
        end as record_date
    from named
    left join record_dates using (file_hash)
),

final as (
    select
        file_hash,
        coalesce(name_date, record_date, received_date) as extract_date,
        case
            when name_date is not null then 'file name'
            when record_date is not null then 'records'
            else 'received'
        end as extract_date_basis,
        received_date
    from candidates
)

select * from final
