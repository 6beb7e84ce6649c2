-- How many live crimes hold each token of link_scope_tokens.
select token, count(distinct crime_key) as frequency
from link_crime_tokens
where token in (select token from link_scope_tokens)
group by token
