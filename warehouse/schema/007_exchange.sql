-- Exchange packs produced (issue 5): what was shared, with whom, when, how many rows.
-- Counts and file names only, never the content (the packs themselves hold references).

create table if not exists exchange_log (
    pack_id varchar primary key,          -- <partner>/<period label>/<produced_at>
    produced_at timestamp not null,
    partner varchar not null,             -- who receives the pack: cst | <force_id>
    about_sources varchar[] not null,     -- whose records are in it: [cst] | [gmp, mps, ...]
    period_label varchar not null,        -- 2026-H1, 2026-10, 2026-01-01_2026-03-31, ...
    period_start date not null,
    period_end date not null,
    row_count bigint not null,
    files varchar[] not null,             -- file names under $INCIDENTS_HOME/exchange/<partner>/<period>/
    files_sha256 varchar[] not null,      -- checksums of those files, same order (proof of what was sent)
    warehouse_run_id varchar              -- the last successful nightly run the pack was built from
);
