-- Quarantine by source, extract date and rule: counts only (no file names,
-- rows, keys or reasons). Extract dates come from the extract_dates mart, as
-- in data_quality_extracts. A row counts once per rule it broke; a whole
-- quarantined file counts under files.

with

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
