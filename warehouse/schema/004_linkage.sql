-- Record linkage (issue 6): candidate pairs and their decisions, review decisions,
-- police incident groups, fitted models, and what each record looked like when last linked.

create table if not exists link_pairs (
    report_key varchar not null,
    crime_key varchar not null,
    force_id varchar,
    police_incident_id varchar,
    match_probability double,             -- the pair's, or its incident group's when matched through the group
    match_weight double,                  -- bits (log2 odds) of the pair's own evidence
    pair_probability double,              -- the model's probability for this pair alone
    status varchar not null,              -- matched | review | rejected
    decided_by varchar not null,          -- model | review
    reason varchar,                       -- cancelled (assigned, crime cancelled) | cardinality | group | review | null
    model_run_id varchar,
    rule varchar,                         -- the blocking rule that found the pair
    levels tinyint[],                     -- comparison levels, in the order of the model's settings
    date_gap_days integer,
    time_gap_minutes integer,
    narrative_cosine double,
    offender_jaccard double,
    updated_at timestamp not null,
    primary key (report_key, crime_key)
);

create table if not exists review_decisions (
    report_key varchar not null,
    crime_key varchar not null,
    decision varchar not null,            -- accept | reject
    decided_at timestamp not null,
    reviewer varchar,
    note varchar,
    primary key (report_key, crime_key, decided_at)
);

create table if not exists police_incident_groups (
    crime_key varchar primary key,
    police_incident_id varchar not null,
    updated_at timestamp not null
);

create table if not exists link_model_runs (
    run_id varchar primary key,
    settings_json varchar not null,       -- the declarative model used (transforms/linkage_settings.json)
    settings_digest varchar not null,
    parameters_json varchar not null,     -- fitted weights (m/u per level, or logistic coefficients)
    trained_on varchar,                   -- JSON: pairs, EM pairs, reviewed pairs, expected matches
    method varchar not null,              -- ecm | logistic_regression
    reviewed_pairs integer not null,
    created_at timestamp not null
);

create table if not exists link_model_idf (
    model_run_id varchar not null,
    term varchar not null,
    idf double not null,
    primary key (model_run_id, term)
);

-- The version (file, row) of every record as it was when last linked:
-- a record whose latest version differs is new or changed and is re-linked.
create table if not exists link_record_state (
    source varchar not null,              -- cst | police
    record_key varchar not null,
    file_hash varchar not null,
    source_row bigint not null,
    linked_run_id varchar not null,
    primary key (source, record_key)
);

create table if not exists link_runs (
    run_id varchar primary key,
    mode varchar not null,                -- full | incremental | unchanged
    model_run_id varchar,
    changed_reports integer not null,
    changed_crimes integer not null,
    new_decisions integer not null,
    pairs_scored bigint not null,
    pairs_written bigint not null,
    matched bigint,
    review bigint,
    seconds double,
    finished_at timestamp not null
);

-- Keyed crime-number tokens, and identity tokens while an identity blocking rule
-- is on (tags differ), indexed once instead of unnested from the staging views
-- every night: crimes' own tokens, and the tokens CST reports cite or name.
create table if not exists link_crime_tokens (
    token varchar not null,
    crime_key varchar not null
);

create table if not exists link_cited_tokens (
    token varchar not null,
    report_key varchar not null
);
