-- one row per incident: a cst report with its matched police crimes, an
-- unmatched cst report, or an unmatched group of police crimes.
--
-- rules (see incidents.yml):
--   * cancelled crimes count nowhere: an incident whose police members are all
--     cancelled has no police side; one with neither side is dropped.
--   * incident_date: cst's date alone, or the police `occurred_from` date alone;
--     when both sides know it, cst's date clamped into the police from-to range
--     (cst sometimes records the date it was told, the police a range).
--   * police_force: the force of the linked police crimes, else cst's force id.
--   * category: the more serious of the cst category and the police offence
--     category (category_severity), 'unknown' when neither side has one.
--   * participating: the force had joined on the incident date
--     (participating_forces, written from the configuration each run).
--   * reporting_route: both / police_only need a participating force on that
--     date; otherwise every cst incident is cst_only, and a police-only group
--     outside the arrangement is not an incident here at all.

with

members as (
    -- an incremental build: the incidents of the members rebuilt (see incidents.yml)
    select * from incident_members
    {% if is_incremental() %}
    where member_key in (select member_key from incremental_members)
    {% endif %}
),

cst_reports as (
    select
        report_key,
        incident_date,
        category,
        location_type,
        force_id
    from stg_cst_reports
    {% if is_incremental() %}
    where report_key in (select report_key from incremental_members)
    {% endif %}
),

confirmed_crimes as (
    select
        crime_key,
        force_id,
        offence_category,
        cast(occurred_from as date) as occurred_from_date,
        cast(coalesce(occurred_to, occurred_from) as date) as occurred_to_date
    from stg_police_crimes
    where
        status <> 'cancelled'
        {% if is_incremental() %}
        and crime_key in (select crime_key from incremental_members)
        {% endif %}
),

forces_taking_part as (
    select * from participating_forces
),

severity as (
    select * from category_severity
),

cst_side as (
    select
        members.incident_key,
        count(*) as cst_reports,
        min(cst_reports.incident_date) as cst_date,
        min(severity.severity_rank) as cst_rank,
        min(cst_reports.location_type) as location_type,
        coalesce(
            min(cst_reports.force_id) filter (where cst_reports.force_id <> 'unknown'),
            'unknown'
        ) as cst_force_id
    from members
    inner join cst_reports on members.report_key = cst_reports.report_key
    left join severity on cst_reports.category = severity.category
    group by members.incident_key
),

police_side as (
    select
        members.incident_key,
        count(*) as police_crimes,
        min(confirmed_crimes.occurred_from_date) as police_from,
        max(confirmed_crimes.occurred_to_date) as police_to,
        min(severity.severity_rank) as police_rank,
        min(confirmed_crimes.force_id) as police_force_id
    from members
    inner join confirmed_crimes on members.crime_key = confirmed_crimes.crime_key
    left join severity on confirmed_crimes.offence_category = severity.category
    group by members.incident_key
),

both_sides as (
    select
        coalesce(cst_side.incident_key, police_side.incident_key) as incident_key,
        coalesce(cst_side.cst_reports, 0) as cst_reports,
        coalesce(police_side.police_crimes, 0) as police_crimes,
        cst_side.cst_date,
        police_side.police_from,
        police_side.police_to,
        cst_side.cst_rank,
        police_side.police_rank,
        cst_side.location_type,
        cst_side.cst_force_id,
        police_side.police_force_id
    from cst_side
    full outer join police_side on cst_side.incident_key = police_side.incident_key
),

dated as (
    select
        *,
        case
            when police_from is null then cst_date
            when cst_date is null then police_from
            else greatest(police_from, least(cst_date, police_to))
        end as incident_date,
        coalesce(police_force_id, cst_force_id, 'unknown') as police_force,
        least(cst_rank, police_rank) as incident_rank
    from both_sides
),

with_participation as (
    select
        dated.*,
        coalesce(
            forces_taking_part.force_id is not null
            and (
                forces_taking_part.participating_from is null
                or forces_taking_part.participating_from <= dated.incident_date
            ),
            false
        ) as participating
    from dated
    left join forces_taking_part on dated.police_force = forces_taking_part.force_id
),

routed as (
    select
        *,
        case
            when cst_reports > 0 and police_crimes > 0 and participating then 'both'
            when cst_reports > 0 then 'cst_only'
            when participating then 'police_only'
        end as reporting_route
    from with_participation
),

final as (
    select
        routed.incident_key,
        routed.incident_date,
        cast(date_trunc('month', routed.incident_date) as date) as month,
        cast(year(routed.incident_date) as varchar)
        || '-H'
        || case when month(routed.incident_date) <= 6 then '1' else '2' end as half_year,
        routed.police_force,
        coalesce(incident_category.category, 'unknown') as category,
        cst_category.category as cst_category,
        police_category.category as police_category,
        coalesce(routed.location_type, 'unknown') as location_type,
        routed.reporting_route,
        routed.participating,
        routed.cst_reports,
        routed.police_crimes
    from routed
    left join severity as incident_category on routed.incident_rank = incident_category.severity_rank
    left join severity as cst_category on routed.cst_rank = cst_category.severity_rank
    left join severity as police_category on routed.police_rank = police_category.severity_rank
    where routed.reporting_route is not null
)

select * from final
