-- Each linked record's narrative terms, as the linkage model's lexicon parses them, so that a
-- night reads the terms of the records its changes can meet instead of parsing their text again
-- (a daily night at 100x met 250k crimes; parsing their summaries was a fifth of its link).
-- One row per record, terms or none: its narrative's (compared by cosine) and its offender
-- description's, each with its counts. Terms come from the redacted text only.
-- Invariant: a record's row holds the terms of the version link_record_state holds.
create table if not exists link_narrative_terms (
    source varchar not null,      -- cst | police
    record_key varchar not null,
    narrative_terms varchar[] not null,
    narrative_tfs uinteger[] not null,
    offender_terms varchar[] not null,
    offender_tfs uinteger[] not null,
    primary key (source, record_key)
);

-- The model run whose lexicon the stored terms follow (one row; none, or another run: the
-- terms are not trusted and the next link parses every record once to store them).
create table if not exists link_narrative_terms_state (
    model_run_id varchar not null
);
