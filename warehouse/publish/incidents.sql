-- the unified incidents, without any key or reference: incident_id is a
-- neutral counter (see _assign_incident_ids.sql).

with

unified as (
    select * from incidents
),

numbers as (
    select * from incident_numbers
),

final as (
    select
        numbers.incident_id,
        unified.incident_date,
        unified.month,
        unified.half_year,
        unified.police_force,
        unified.category,
        unified.cst_category,
        unified.police_category,
        unified.location_type,
        unified.reporting_route,
        unified.participating,
        unified.cst_reports,
        unified.police_crimes
    from unified
    inner join numbers on unified.incident_key = numbers.incident_key
    order by numbers.incident_id
)

select * from final
