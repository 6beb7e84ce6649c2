-- The stored narrative terms of the records named in link_scope_keys ('cst', 'police') that
-- are not changed tonight ('cst_changed', 'police_changed'): their linked version is their latest.
with wanted as (
    select source, record_key from link_scope_keys where source in ('cst', 'police')
    except
    select replace(source, '_changed', ''), record_key from link_scope_keys
    where source in ('cst_changed', 'police_changed')
)
select t.source, t.record_key, t.narrative_terms, t.narrative_tfs, t.offender_terms, t.offender_tfs
from link_narrative_terms as t
join wanted as w on w.source = t.source and w.record_key = t.record_key
