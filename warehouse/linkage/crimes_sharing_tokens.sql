-- Live crimes holding a token of link_scope_tokens (crime-number blocking for a night's reports).
select distinct crime_key from link_crime_tokens where token in (select token from link_scope_tokens)
