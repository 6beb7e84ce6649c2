-- incidents by half-year x force x location type x reporting route.

with

unified as (
    select * from incidents
),

counted as (
    select
        half_year,
        police_force,
        location_type,
        reporting_route,
        count(*) as incidents
    from unified
    group by half_year, police_force, location_type, reporting_route
),

final as (
    select
        half_year,
        police_force,
        location_type,
        reporting_route,
        cast(incidents as bigint) as incidents
    from counted
)

select * from final
