-- The run ledger, completed (issue 9): what each run took, failed, linked and published,
-- by which code and configuration; and what retention purged (counts, never content).
--
-- Files each run took, by hash: `manifest.run_id` (new files) and `run_files` below
-- (every file a run saw, new or already held).

alter table runs add column if not exists files_seen integer;
alter table runs add column if not exists files_resent integer;
alter table runs add column if not exists files_quarantined integer;
alter table runs add column if not exists validations_failed integer;   -- rows in run_validations
alter table runs add column if not exists link_mode varchar;            -- full | incremental | unchanged
alter table runs add column if not exists pairs_matched bigint;         -- held after the run
alter table runs add column if not exists pairs_review bigint;
alter table runs add column if not exists records_purged bigint;        -- by the configured retention
alter table runs add column if not exists incidents_published bigint;
alter table runs add column if not exists published_at timestamp;
alter table runs add column if not exists error varchar;                -- stage and exception class only

-- One row per (run, file, rule, scope) that failed: scope 'file' (whole file) or 'row'.
create table if not exists run_validations (
    run_id varchar not null,
    source_id varchar not null,
    file_hash varchar not null,
    rule varchar not null,
    scope varchar not null,
    failures bigint not null,
    primary key (run_id, file_hash, rule, scope)
);

create or replace view run_files as
select
    s.run_id,
    s.file_hash,
    s.file_key,
    m.source_id,
    case when m.run_id = s.run_id then 'new' else 'already held' end as taken_as,
    m.status
from manifest_sightings s
left join manifest m on m.file_hash = s.file_hash;

-- Retention: one row per purge, with rows removed per table in purge_counts.
create table if not exists purges (
    purge_id varchar primary key,
    requested_by varchar not null,        -- cli | nightly
    run_id varchar,                       -- the nightly run that applied the retention period
    cutoff date not null,                 -- incidents that happened before this date were purged
    started_at timestamp not null,
    finished_at timestamp,
    records_purged bigint not null,       -- cst reports + police crimes
    published_checksum varchar            -- the release published after the purge
);

create table if not exists purge_counts (
    purge_id varchar not null,
    table_name varchar not null,
    rows_removed bigint not null,
    primary key (purge_id, table_name)
);
