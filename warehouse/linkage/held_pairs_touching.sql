-- The held pairs touching the reports ('cst'), crimes ('police') or incident groups ('group')
-- named in link_scope_keys, with each crime's current incident group (`group_id`) beside the
-- one the pair was decided with.
select
    l.report_key, l.crime_key, coalesce(g.police_incident_id, 'pig_' || l.crime_key) as group_id,
    l.police_incident_id, l.pair_probability, l.match_probability as held_probability, l.match_weight,
    l.status, l.decided_by, l.reason, l.rule, l.levels, l.date_gap_days, l.time_gap_minutes,
    l.narrative_cosine, l.offender_jaccard
from link_pairs as l
left join police_incident_groups as g using (crime_key)
where l.report_key in (select record_key from link_scope_keys where source = 'cst')
    or l.crime_key in (select record_key from link_scope_keys where source = 'police')
    or g.police_incident_id in (select record_key from link_scope_keys where source = 'group')
    or l.police_incident_id in (select record_key from link_scope_keys where source = 'group')
