-- The held pairs within two hops of the records in link_scope_keys ('cst' / 'police'):
-- their own pairs, then every pair of the reports and incident groups those reach.
with first_hop as (
    select l.report_key, l.crime_key
    from link_pairs as l
    where l.report_key in (select record_key from link_scope_keys where source = 'cst')
        or l.crime_key in (select record_key from link_scope_keys where source = 'police')
),
reports as (select distinct report_key from first_hop),
groups as (
    select distinct g.police_incident_id
    from first_hop as f
    join police_incident_groups as g using (crime_key)
)
select l.report_key, l.crime_key, l.pair_probability, l.match_weight, l.rule, l.levels,
       l.date_gap_days, l.time_gap_minutes, l.narrative_cosine, l.offender_jaccard, l.model_run_id
from link_pairs as l
left join police_incident_groups as g using (crime_key)
where l.report_key in (select report_key from reports)
    or g.police_incident_id in (select police_incident_id from groups)
