-- incidents by half-year x force x cst category x reporting route.

with

unified as (
    select * from incidents
),

counted as (
    select
        half_year,
        police_force,
        category,
        reporting_route,
        count(*) as incidents
    from unified
    group by half_year, police_force, category, reporting_route
),

final as (
    select
        half_year,
        police_force,
        category,
        reporting_route,
        cast(incidents as bigint) as incidents
    from counted
)

select * from final
