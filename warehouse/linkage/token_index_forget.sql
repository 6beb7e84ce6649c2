-- Drop the indexed tokens of the records in link_scope_keys ('cst_changed' / 'police_changed').
delete from link_crime_tokens
where crime_key in (select record_key from link_scope_keys where source = 'police_changed');
delete from link_cited_tokens
where report_key in (select record_key from link_scope_keys where source = 'cst_changed');
