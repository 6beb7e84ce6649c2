-- Every police crime, with what incident grouping reads (narratives only where a
-- force recorded several crimes with the same time range and report date).
with keyed as (
    select
        *,
        count(*) over (partition by force_id, occurred_from, occurred_to, reported_date) as block_size
    from stg_police_crimes
)
select
    crime_key, force_id, occurred_from, occurred_to, reported_date,
    postcode_unit_key, street, postcode_district, status,
    case when block_size > 1 then summary_redacted end as summary_redacted
from keyed
