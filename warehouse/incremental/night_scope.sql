-- The part of the incident graph a night's build of the marts redoes, from what the last
-- build saw (incident_graph_builds, incident_graph_edges, incident_members.graph_node).
--
-- nodes are cst reports (`r:` + report_key) and police groups (police_graph_nodes). a node
-- is touched when one of its records has a version loaded since the last build, when a
-- crime's node is not the one the last build gave it (regrouped, new), or when a matched
-- pair of one of its records appeared or went.
-- rebuilt: every member of an old incident holding a touched node, and every member now
-- in a touched node. no matched pair and no police group leaves that set (an edge or a
-- group that did not change joined the same old incident), so its components are whole
-- and equal to a full build's. everything else keeps its rows.

create or replace temp table incremental_touched_nodes as
with

last_build as (
    select max(built_seq) as built_seq from incident_graph_builds
),

new_report_versions as (
    select distinct report_key
    from stg_cst_report_versions
    where ingest_seq > (select built_seq from last_build)
),

new_crime_versions as (
    select distinct crime_key
    from stg_police_crime_versions
    where ingest_seq > (select built_seq from last_build)
),

matched_now as (
    select distinct report_key, crime_key
    from link_pairs
    where status = 'matched'
),

changed_edges as (
    (select report_key, crime_key from matched_now except select report_key, crime_key from incident_graph_edges)
    union
    (select report_key, crime_key from incident_graph_edges except select report_key, crime_key from matched_now)
),

old_crime_nodes as (
    select crime_key, graph_node
    from incident_members
    where member_source = 'police'
),

moved_crimes as (
    select coalesce(police_graph_nodes.crime_key, old_crime_nodes.crime_key) as crime_key
    from police_graph_nodes
    full outer join old_crime_nodes on police_graph_nodes.crime_key = old_crime_nodes.crime_key
    where police_graph_nodes.graph_node is distinct from old_crime_nodes.graph_node
),

touched_reports as (
    select report_key from new_report_versions
    union
    select report_key from changed_edges
),

touched_crimes as (
    select crime_key from new_crime_versions
    union
    select crime_key from changed_edges
    union
    select crime_key from moved_crimes
),

final as (
    select 'r:' || report_key as graph_node from touched_reports
    union
    -- a key filter, which DuckDB pushes below the staging view's window (a join is not)
    select police_graph_nodes.graph_node
    from police_graph_nodes
    where police_graph_nodes.crime_key in (select crime_key from touched_crimes)
    union
    select old_crime_nodes.graph_node
    from old_crime_nodes
    inner join touched_crimes on old_crime_nodes.crime_key = touched_crimes.crime_key
)

select graph_node from final;

create or replace temp table incremental_incidents as
select distinct incident_members.incident_key
from incident_members
inner join incremental_touched_nodes on incident_members.graph_node = incremental_touched_nodes.graph_node;

create or replace temp table incremental_members as
with

old_members as (
    select incident_members.member_key, incident_members.report_key, incident_members.crime_key
    from incident_members
    inner join incremental_incidents on incident_members.incident_key = incremental_incidents.incident_key
),

-- the members now in a touched node, found by key filters that DuckDB pushes below the
-- staging views' windows: a report node names its report, a crime node its crime, a group
-- node its group (group ids are per force: a superset, narrowed by the node itself)
reports_now as (
    select 'r:' || stg_cst_reports.report_key as member_key, stg_cst_reports.report_key, cast(null as varchar) as crime_key
    from stg_cst_reports
    where stg_cst_reports.report_key in (
        select substr(graph_node, 3) from incremental_touched_nodes where starts_with(graph_node, 'r:')
    )
),

crimes_in_touched_nodes as (
    select substr(graph_node, 3) as crime_key
    from incremental_touched_nodes
    where starts_with(graph_node, 'c:')
    union
    select police_incident_groups.crime_key
    from police_incident_groups
    where police_incident_groups.police_incident_id in (
        select split_part(graph_node, ':', 3) from incremental_touched_nodes where starts_with(graph_node, 'g:')
    )
),

crimes_now as (
    select 'c:' || police_graph_nodes.crime_key as member_key, cast(null as varchar) as report_key, police_graph_nodes.crime_key
    from police_graph_nodes
    where police_graph_nodes.crime_key in (select crime_key from crimes_in_touched_nodes)
        and police_graph_nodes.graph_node in (select graph_node from incremental_touched_nodes)
)

select * from old_members
union
select * from reports_now
union
select * from crimes_now;
