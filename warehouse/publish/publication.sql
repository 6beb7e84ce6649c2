-- one row: which run this database was published from, and when.

with

runs_held as (
    select * from runs
),

this_run as (
    select
        run_id,
        finished_at,
        code_version
    from runs_held
    where run_id = $run_id
),

final as (
    select
        run_id,
        finished_at as data_as_of,
        code_version,
        cast($published_at as timestamp) as published_at,
        cast($suppression_threshold as integer) as open_data_suppression_threshold
    from this_run
)

select * from final
