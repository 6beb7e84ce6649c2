-- Extracts received per source and extract date: counts only (no file names,
-- hashes, references or values). The extract date is the date of the latest
-- record the extract holds (CST: reported or last updated; police: reported),
-- never after the day it was first seen; else a date in its file name
-- (YYYYMMDD, YYYY-MM-DD, YYYY_MM_DD); else the day it was first seen. Gaps in a
-- sender's cadence are the days between its consecutive extract dates.
-- The extract-date rule is repeated in data_quality_quarantine.sql: keep them equal.

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

quarantined_rows as (
    select
        file_hash,
        count(distinct source_row) as rows_quarantined
    from quarantine
    where source_row is not null
    group by file_hash
),

dated as (
    select
        files.source_id,
        files.status,
        files.rows_read,
        files.rows_loaded,
        coalesce(quarantined_rows.rows_quarantined, 0) as rows_quarantined,
        cast(files.first_seen as date) as received_date,
        least(record_dates.latest_record_date, cast(files.first_seen as date)) as record_date,
        cast(try_strptime(
            regexp_replace(
                regexp_extract(
                    regexp_extract(files.file_key, '[^/]+$'),
                    '(20[0-9]{2}[-_]?[01][0-9][-_]?[0-3][0-9])', 1
                ),
                '[-_]', '', 'g'
            ),
            '%Y%m%d'
        ) as date) as name_date
    from files
    left join record_dates using (file_hash)
    left join quarantined_rows using (file_hash)
),

final as (
    select
        source_id,
        coalesce(record_date, name_date, received_date) as extract_date,
        case
            when record_date is not null then 'records'
            when name_date is not null then 'file name'
            else 'received'
        end as extract_date_basis,
        received_date,
        count(*) as extracts,
        count(*) filter (where status = 'quarantined') as extracts_quarantined,
        cast(sum(rows_read) as bigint) as rows_read,
        cast(sum(rows_loaded) as bigint) as rows_loaded,
        cast(sum(rows_quarantined) as bigint) as rows_quarantined
    from dated
    group by all
    order by source_id, extract_date, extract_date_basis, received_date
)

select * from final
