-- What the last build of the marts saw, so that a night rebuilds only the incidents its
-- changes touch (warehouse/incremental/, flows/publishing.build_marts_now).

-- Each police crime's node in the incident graph: its police incident group, else the
-- crime alone (read by the incident_members model and by the incremental scope).
create or replace view police_graph_nodes as
select
    stg_police_crimes.crime_key,
    coalesce(
        'g:' || stg_police_crimes.force_id || ':' || police_incident_groups.police_incident_id,
        'c:' || stg_police_crimes.crime_key
    ) as graph_node
from stg_police_crimes
left join police_incident_groups on stg_police_crimes.crime_key = police_incident_groups.crime_key;

-- The matched pairs of the last build (a pair that appeared or went since marks its records).
create table if not exists incident_graph_edges (
    report_key varchar not null,
    crime_key varchar not null
);

-- The last build: every record version with ingest_seq <= built_seq was in it
-- (one row; none before the first build, which is then a full one).
create table if not exists incident_graph_builds (
    built_seq bigint not null
);
