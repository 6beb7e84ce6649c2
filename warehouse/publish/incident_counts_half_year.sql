with

counts as (
    select * from incident_counts_half_year
),

final as (
    select
        half_year,
        police_force,
        category,
        reporting_route,
        incidents
    from counts
    order by half_year, police_force, category, reporting_route
)

select * from final
