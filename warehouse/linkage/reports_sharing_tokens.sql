-- CST reports citing a token of link_scope_tokens (crime-number blocking for a night's crimes).
select distinct report_key from link_cited_tokens where token in (select token from link_scope_tokens)
