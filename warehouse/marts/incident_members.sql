-- which incident each cst report and police crime belongs to.
--
-- an incident is a connected component of the graph whose nodes are cst
-- reports and police crimes and whose edges are
--   * a cst report and a police crime the linkage holds as `matched`, and
--   * police crimes of one force grouped as one police incident
--     (one crime per victim or offence).
-- cancelled crimes stay in the graph so that a report matched to a cancelled
-- crime still joins the other crimes of the same police group; they are
-- ignored when the incident is counted.
-- incident_key is the smallest member key of the component: warehouse-internal,
-- never published.

with recursive

cst_reports as (
    select report_key from stg_cst_reports
),

police_crimes as (
    select
        crime_key,
        force_id
    from stg_police_crimes
),

matched_pairs as (
    select distinct
        link_pairs.report_key,
        link_pairs.crime_key
    from link_pairs
    inner join cst_reports on link_pairs.report_key = cst_reports.report_key
    inner join police_crimes on link_pairs.crime_key = police_crimes.crime_key
    where link_pairs.status = 'matched'
),

police_groups as (
    select distinct
        police_incident_groups.crime_key,
        police_crimes.force_id,
        police_incident_groups.police_incident_id
    from police_incident_groups
    inner join police_crimes on police_incident_groups.crime_key = police_crimes.crime_key
),

member_nodes as (
    select
        'r:' || report_key as member_key,
        'cst' as member_source,
        report_key,
        cast(null as varchar) as crime_key
    from cst_reports
    union all
    select
        'c:' || crime_key as member_key,
        'police' as member_source,
        cast(null as varchar) as report_key,
        crime_key
    from police_crimes
),

one_way_edges as (
    select
        'r:' || report_key as from_node,
        'c:' || crime_key as to_node
    from matched_pairs
    union all
    select
        'c:' || crime_key as from_node,
        'g:' || force_id || ':' || police_incident_id as to_node
    from police_groups
),

edges as (
    select from_node, to_node from one_way_edges
    union all
    select to_node as from_node, from_node as to_node from one_way_edges
),

reachable (node, start_node) as (
    select
        member_key as node,
        member_key as start_node
    from member_nodes
    union
    select
        edges.to_node as node,
        reachable.start_node
    from reachable
    inner join edges on reachable.node = edges.from_node
),

components as (
    select
        node as member_key,
        min(start_node) as incident_key
    from reachable
    group by node
),

final as (
    select
        components.incident_key,
        member_nodes.member_key,
        member_nodes.member_source,
        member_nodes.report_key,
        member_nodes.crime_key
    from member_nodes
    inner join components on member_nodes.member_key = components.member_key
)

select * from final
