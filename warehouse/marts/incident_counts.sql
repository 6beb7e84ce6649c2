-- incidents by first-of-month x force x cst category x reporting route: the
-- table the partners' analysts rely on (shared/spec/interface.md). exact
-- counts; disclosure control applies to open data, not here.

with

unified as (
    select * from incidents
),

counted as (
    select
        month,
        police_force,
        category,
        reporting_route,
        count(*) as incidents
    from unified
    group by month, police_force, category, reporting_route
),

final as (
    select
        cast(month as date) as month,
        cast(police_force as varchar) as police_force,
        cast(category as varchar) as category,
        cast(reporting_route as varchar) as reporting_route,
        cast(incidents as bigint) as incidents
    from counted
)

select * from final
