-- CST reports citing a token of link_scope_tokens (crime-number blocking for a night's crimes).
with cited as (
    select report_key, unnest(cited_crime_ref_tokens) as token
    from stg_cst_reports
)
select distinct report_key from cited where token in (select token from link_scope_tokens)
