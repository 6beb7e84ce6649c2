-- Run ledger, file manifest and quarantine: what came in, when, and what was done with it.

create table if not exists runs (
    run_id varchar primary key,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,              -- running | succeeded | failed
    code_version varchar,
    config_hash varchar,
    files_ingested integer,
    rows_loaded bigint,
    rows_quarantined bigint,
    published_checksum varchar
);

create table if not exists manifest (
    file_hash varchar primary key,        -- sha256 of the file's bytes: a resend has the same hash
    source_id varchar not null,
    file_key varchar not null,            -- path in the landing area when first seen
    size_bytes bigint not null,
    ingest_seq bigint not null,           -- order of ingestion: later versions win
    run_id varchar not null,
    first_seen timestamp not null,
    status varchar not null,              -- loaded | quarantined
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null
);

create table if not exists manifest_sightings (
    file_hash varchar not null,
    file_key varchar not null,            -- every name the same bytes arrived under
    run_id varchar not null,
    seen_at timestamp not null,
    primary key (file_hash, file_key)
);

create table if not exists quarantine (
    quarantine_id varchar primary key,
    run_id varchar not null,
    source_id varchar not null,
    file_key varchar not null,
    file_hash varchar not null,
    source_row bigint,                    -- null: the whole file
    record_key varchar,                   -- keyed pseudonym of the row's reference, when it has one
    rule varchar not null,
    reason varchar not null,              -- never quotes the offending value
    first_seen timestamp not null,
    resolved_at timestamp,
    resolved_by_run varchar
);

create table if not exists landing_issues (
    file_key varchar primary key,
    folder varchar not null,
    issue varchar not null,               -- e.g. no source configured for this folder
    first_seen timestamp not null,
    last_seen timestamp not null
);
