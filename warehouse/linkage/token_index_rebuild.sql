-- Rebuild the token indexes from the staging views (a full link).
delete from link_crime_tokens;
insert into link_crime_tokens
select unnest(crime_ref_tokens) as token, crime_key from stg_police_crimes;
delete from link_cited_tokens;
insert into link_cited_tokens
select unnest(cited_crime_ref_tokens) as token, report_key from stg_cst_reports;
