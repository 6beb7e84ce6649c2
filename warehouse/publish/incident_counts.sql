-- exactly as shared/spec/interface.md: month, police_force, category,
-- reporting_route, incidents.

with

counts as (
    select * from incident_counts
),

final as (
    select
        month,
        police_force,
        category,
        reporting_route,
        incidents
    from counts
    order by month, police_force, category, reporting_route
)

select * from final
