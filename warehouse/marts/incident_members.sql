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
-- how: a police group is one node (labelled with its smallest crime key), so
-- only reports and groups joined by a matched pair are left to label: the
-- smallest label spreads along the matched pairs until nothing changes
-- (`using key`: each node keeps one label, the recursion only carries the
-- nodes whose label fell). everything else is its own incident.
-- incremental (see incident_members.yml): a night builds only the members of
-- incremental_members, a set no matched pair and no police group leaves
-- (warehouse/incremental/night_scope.sql), so its components are whole.

with recursive

cst_reports as (
    select report_key from stg_cst_reports
    {% if is_incremental() %}
    where report_key in (select report_key from incremental_members)
    {% endif %}
),

crime_groups as (
    select
        crime_key,
        graph_node as group_node
    from police_graph_nodes
    {% if is_incremental() %}
    where crime_key in (select crime_key from incremental_members)
    {% endif %}
),

matched_pairs as (
    select distinct
        link_pairs.report_key,
        link_pairs.crime_key
    from link_pairs
    inner join cst_reports on link_pairs.report_key = cst_reports.report_key
    inner join crime_groups on link_pairs.crime_key = crime_groups.crime_key
    where link_pairs.status = 'matched'
),

group_labels as (
    select
        group_node as node,
        min('c:' || crime_key) as label
    from crime_groups
    group by group_node
),

one_way_edges as (
    select
        'r:' || matched_pairs.report_key as from_node,
        crime_groups.group_node as to_node
    from matched_pairs
    inner join crime_groups on matched_pairs.crime_key = crime_groups.crime_key
),

edges as (
    select from_node, to_node from one_way_edges
    union all
    select to_node as from_node, from_node as to_node from one_way_edges
),

linked_nodes as (
    select distinct from_node as node from one_way_edges
    union all
    select distinct to_node as node from one_way_edges
),

linked_labels (node, label) using key (node) as (
    select
        linked_nodes.node,
        coalesce(group_labels.label, linked_nodes.node) as label
    from linked_nodes
    left join group_labels on linked_nodes.node = group_labels.node
    union
    select
        edges.to_node as node,
        min(linked_labels.label) as label
    from linked_labels
    inner join edges on linked_labels.node = edges.from_node
    inner join recurring.linked_labels as known on edges.to_node = known.node
    group by edges.to_node, known.label
    having min(linked_labels.label) < known.label
),

node_labels as (
    select node, label from group_labels
    anti join linked_labels on group_labels.node = linked_labels.node
    union all
    select node, label from linked_labels
),

final as (
    select
        coalesce(node_labels.label, 'r:' || cst_reports.report_key) as incident_key,
        'r:' || cst_reports.report_key as member_key,
        'cst' as member_source,
        cst_reports.report_key,
        cast(null as varchar) as crime_key,
        'r:' || cst_reports.report_key as graph_node
    from cst_reports
    left join node_labels on 'r:' || cst_reports.report_key = node_labels.node
    union all
    select
        node_labels.label as incident_key,
        'c:' || crime_groups.crime_key as member_key,
        'police' as member_source,
        cast(null as varchar) as report_key,
        crime_groups.crime_key,
        crime_groups.group_node as graph_node
    from crime_groups
    inner join node_labels on crime_groups.group_node = node_labels.node
)

select * from final
