-- what each side knew of the other's incidents, per participating force and
-- half-year, counting only incidents in the force's area on or after the date
-- it joined: the share of police crimes (and police incidents) that cst also
-- knew, and the share of cst reports (and cst incidents) that the police also
-- knew.

with

unified as (
    select * from incidents
),

in_arrangement as (
    select * from unified
    where participating
),

per_force_period as (
    select
        police_force,
        half_year,
        count(*) as incidents,
        count(*) filter (where reporting_route = 'both') as incidents_both,
        count(*) filter (where police_crimes > 0) as police_incidents,
        count(*) filter (where cst_reports > 0) as cst_incidents,
        sum(police_crimes) as police_crimes,
        sum(police_crimes) filter (where reporting_route = 'both') as police_crimes_known_to_cst,
        sum(cst_reports) as cst_reports,
        sum(cst_reports) filter (where reporting_route = 'both') as cst_reports_known_to_police
    from in_arrangement
    group by police_force, half_year
),

final as (
    select
        police_force,
        half_year,
        cast(incidents as bigint) as incidents,
        cast(incidents_both as bigint) as incidents_both,
        cast(police_incidents as bigint) as police_incidents,
        cast(cst_incidents as bigint) as cst_incidents,
        cast(police_crimes as bigint) as police_crimes,
        cast(coalesce(police_crimes_known_to_cst, 0) as bigint) as police_crimes_known_to_cst,
        cast(cst_reports as bigint) as cst_reports,
        cast(coalesce(cst_reports_known_to_police, 0) as bigint) as cst_reports_known_to_police,
        coalesce(police_crimes_known_to_cst, 0) / nullif(police_crimes, 0)
            as share_police_crimes_known_to_cst,
        incidents_both / nullif(police_incidents, 0) as share_police_incidents_known_to_cst,
        coalesce(cst_reports_known_to_police, 0) / nullif(cst_reports, 0)
            as share_cst_reports_known_to_police,
        incidents_both / nullif(cst_incidents, 0) as share_cst_incidents_known_to_police
    from per_force_period
)

select * from final
