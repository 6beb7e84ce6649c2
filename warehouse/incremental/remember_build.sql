-- What this build saw, for the next night's scope (night_scope.sql): the matched pairs and
-- the last record version loaded (the members' graph nodes are in incident_members).

-- (only the pairs that went and came: the table is as large as the matched pairs)
create or replace temp table matched_now as
select distinct report_key, crime_key
from link_pairs
where status = 'matched';

delete from incident_graph_edges
where not exists (
    select 1 from matched_now
    where matched_now.report_key = incident_graph_edges.report_key
        and matched_now.crime_key = incident_graph_edges.crime_key
);

insert into incident_graph_edges
select report_key, crime_key from matched_now
except
select report_key, crime_key from incident_graph_edges;

drop table matched_now;

delete from incident_graph_builds;

insert into incident_graph_builds
select
    greatest(
        (select coalesce(max(ingest_seq), 0) from stg_cst_report_versions),
        (select coalesce(max(ingest_seq), 0) from stg_police_crime_versions)
    ) as built_seq;
