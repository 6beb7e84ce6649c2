-- Live crimes holding a token of link_scope_tokens (crime-number blocking for a night's reports).
with held as (
    select crime_key, unnest(crime_ref_tokens) as token
    from stg_police_crimes
    where status <> 'cancelled'
)
select distinct crime_key from held where token in (select token from link_scope_tokens)
