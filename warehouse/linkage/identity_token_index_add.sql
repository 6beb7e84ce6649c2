-- Add the identity tokens to the rebuilt token indexes (a full link, only when an identity
-- blocking rule is on: their tags differ from the crime-number tokens', so one index serves both).
insert into link_crime_tokens
select unnest(identity_tokens) as token, crime_key from stg_police_crimes;
insert into link_cited_tokens
select unnest(identity_tokens) as token, report_key from stg_cst_reports;
