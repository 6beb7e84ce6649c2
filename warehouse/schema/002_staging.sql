-- Canonical, anonymised versions of every row ever loaded; views keep the latest.

create table if not exists stg_cst_report_versions (
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
    primary key (file_hash, source_row)
);

create table if not exists stg_police_crime_versions (
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
    primary key (file_hash, source_row)
);

create or replace view stg_cst_reports as
with ranked as (
    select
        *,
        row_number() over (
            partition by report_key
            order by last_updated desc nulls last, ingest_seq desc, source_row desc
        ) as version_rank
    from stg_cst_report_versions
)
select * exclude (version_rank) from ranked where version_rank = 1;

create or replace view stg_police_crimes as
with ranked as (
    select
        *,
        row_number() over (
            partition by crime_key
            order by ingest_seq desc, source_row desc
        ) as version_rank
    from stg_police_crime_versions
)
select * exclude (version_rank) from ranked where version_rank = 1;
