-- Temporary tables naming the records and tokens a linkage run works on.
create temp table if not exists link_scope_keys (source varchar, record_key varchar);
create temp table if not exists link_scope_tokens (token varchar);
delete from link_scope_keys;
delete from link_scope_tokens;
