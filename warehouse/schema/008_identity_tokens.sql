-- Keyed identity tokens (names, phones, emails, handles, plates as HMACs; transforms/identity_tokens.py).
-- Rows staged before this migration have none: their pairs take the comparison's null level.
-- The latest-version views (`select *`) pick the column up when next queried.

alter table stg_cst_report_versions add column if not exists identity_tokens varchar[];
alter table stg_police_crime_versions add column if not exists identity_tokens varchar[];
