-- How many live crimes hold each token of link_scope_tokens.
with held as (
    select crime_key, unnest(crime_ref_tokens) as token
    from stg_police_crimes
    where status <> 'cancelled'
)
select token, count(distinct crime_key) as frequency
from held
where token in (select token from link_scope_tokens)
group by token
