-- The tables that grow with the data and change every night, without primary keys.
--
-- A primary key is an ART index, and DuckDB rewrites a changed ART index whole at every
-- checkpoint: on a 100x warehouse, 21k rows replaced in each of these seven tables took
-- 2.8 s to write, 1.5 s to commit and 4.5 s to checkpoint with their keys, and 1.5, 0.3 and
-- 1.2 s without. Their keys stay unique all the same: every write goes through
-- `Warehouse.insert` or `Warehouse.upsert`, which refuse a second row for a key
-- (warehouse/run.py, `UNCONSTRAINED_KEYS`), and `incident_ids` is written by delete-then-insert of unique members.
-- DuckDB cannot drop a constraint, so each table is copied into one declared without it
-- (same columns, key columns still not null). Views select from them by name: unaffected.

create table stg_cst_report_versions__unindexed (
    report_key varchar not null,
    file_hash varchar not null,
    source_row bigint not null,
    ingest_seq bigint not null,
    last_updated timestamp,
    incident_date date,
    incident_time time,
    reported_date date,
    category varchar,
    method varchar,
    location_type varchar,
    victim_type varchar,
    street varchar,
    town varchar,
    postcode_unit_key varchar,
    postcode_sector varchar,
    postcode_district varchar,
    postcode_area varchar,
    postcode_quality varchar,
    force_id varchar not null,
    force_id_basis varchar not null,
    reported_to_police varchar,
    cited_crime_ref_tokens varchar[],
    description_redacted varchar,
    offender_description_redacted varchar,
    identity_tokens varchar[]
);
insert into stg_cst_report_versions__unindexed by name select * from stg_cst_report_versions;
drop table stg_cst_report_versions;
alter table stg_cst_report_versions__unindexed rename to stg_cst_report_versions;

create table stg_police_crime_versions__unindexed (
    crime_key varchar not null,
    force_id varchar not null,
    file_hash varchar not null,
    source_row bigint not null,
    ingest_seq bigint not null,
    crime_ref_tokens varchar[],
    offence_code varchar,
    offence_desc varchar,
    offence_category varchar,
    occurred_from timestamp,
    occurred_to timestamp,
    reported_date date,
    street varchar,
    town varchar,
    postcode_unit_key varchar,
    postcode_sector varchar,
    postcode_district varchar,
    postcode_area varchar,
    postcode_quality varchar,
    hate_flags varchar[],
    victim_count integer,
    status varchar not null,
    summary_redacted varchar,
    identity_tokens varchar[]
);
insert into stg_police_crime_versions__unindexed by name select * from stg_police_crime_versions;
drop table stg_police_crime_versions;
alter table stg_police_crime_versions__unindexed rename to stg_police_crime_versions;

create table link_pairs__unindexed (
    report_key varchar not null,
    crime_key varchar not null,
    force_id varchar,
    police_incident_id varchar,
    match_probability double,
    match_weight double,
    pair_probability double,
    status varchar not null,
    decided_by varchar not null,
    reason varchar,
    model_run_id varchar,
    rule varchar,
    levels tinyint[],
    date_gap_days integer,
    time_gap_minutes integer,
    narrative_cosine double,
    offender_jaccard double,
    updated_at timestamp not null
);
insert into link_pairs__unindexed by name select * from link_pairs;
drop table link_pairs;
alter table link_pairs__unindexed rename to link_pairs;

create table police_incident_groups__unindexed (
    crime_key varchar not null,
    police_incident_id varchar not null,
    updated_at timestamp not null
);
insert into police_incident_groups__unindexed by name select * from police_incident_groups;
drop table police_incident_groups;
alter table police_incident_groups__unindexed rename to police_incident_groups;

create table link_record_state__unindexed (
    source varchar not null,
    record_key varchar not null,
    file_hash varchar not null,
    source_row bigint not null,
    linked_run_id varchar not null,
    no_place_floor double
);
insert into link_record_state__unindexed by name select * from link_record_state;
drop table link_record_state;
alter table link_record_state__unindexed rename to link_record_state;

create table link_narrative_terms__unindexed (
    source varchar not null,
    record_key varchar not null,
    narrative_terms varchar[] not null,
    narrative_tfs uinteger[] not null,
    offender_terms varchar[] not null,
    offender_tfs uinteger[] not null
);
insert into link_narrative_terms__unindexed by name select * from link_narrative_terms;
drop table link_narrative_terms;
alter table link_narrative_terms__unindexed rename to link_narrative_terms;

-- created by the first publication (warehouse/publish/_assign_incident_ids.sql) until now
create table if not exists incident_ids (
    member_key varchar not null,
    incident_id bigint not null
);
create table incident_ids__unindexed (
    member_key varchar not null,
    incident_id bigint not null
);
insert into incident_ids__unindexed by name select * from incident_ids;
drop table incident_ids;
alter table incident_ids__unindexed rename to incident_ids;
