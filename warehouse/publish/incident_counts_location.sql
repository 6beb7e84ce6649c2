with

counts as (
    select * from incident_counts_location
),

final as (
    select
        half_year,
        police_force,
        location_type,
        reporting_route,
        incidents
    from counts
    order by half_year, police_force, location_type, reporting_route
)

select * from final
