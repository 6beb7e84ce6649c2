-- Extracts received per source and extract date: counts only (no file names,
-- hashes, references or values). Extract dates come from the extract_dates
-- mart; gaps in a sender's cadence are the days between its consecutive
-- extract dates.

with

files as (
    select * from manifest
),

quarantined_rows as (
    select
        file_hash,
        count(distinct source_row) as rows_quarantined
    from quarantine
    where source_row is not null
    group by file_hash
),

final as (
    select
        files.source_id,
        extract_dates.extract_date,
        extract_dates.extract_date_basis,
        extract_dates.received_date,
        count(*) as extracts,
        count(*) filter (where files.status = 'quarantined') as extracts_quarantined,
        cast(sum(files.rows_read) as bigint) as rows_read,
        cast(sum(files.rows_loaded) as bigint) as rows_loaded,
        cast(sum(coalesce(quarantined_rows.rows_quarantined, 0)) as bigint) as rows_quarantined
    from files
    inner join extract_dates using (file_hash)
    left join quarantined_rows using (file_hash)
    group by all
    order by source_id, extract_date, extract_date_basis, received_date
)

select * from final
