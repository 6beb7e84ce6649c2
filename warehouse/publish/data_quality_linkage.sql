-- Linkage quality measured on reviewed pairs: each pair's latest review
-- decision (accept / reject) against the status the model gives it on its own
-- (its match probability against the thresholds of the model run that scored
-- it: matched, review or rejected; 'unscored' when the pair is no longer
-- held). By force and the date of the incident. Counts only.

with

decisions as (
    select report_key, crime_key, decision
    from review_decisions
    qualify row_number() over (partition by report_key, crime_key order by decided_at desc) = 1
),

pairs as (
    select * from link_pairs
),

model_runs as (
    select
        run_id,
        created_at,
        cast(json_extract_string(settings_json, '$.thresholds.match') as double) as match_threshold,
        cast(json_extract_string(settings_json, '$.thresholds.review') as double) as review_threshold
    from link_model_runs
),

latest_run as (
    select * from model_runs
    order by created_at desc
    limit 1
),

reports as (
    select report_key, incident_date, force_id from stg_cst_reports
),

crimes as (
    select crime_key, force_id, cast(occurred_from as date) as occurred_date from stg_police_crimes
),

scored as (
    select
        coalesce(pairs.force_id, crimes.force_id, reports.force_id, 'unknown') as police_force,
        coalesce(reports.incident_date, crimes.occurred_date) as incident_date,
        case
            when pairs.match_probability is null then 'unscored'
            when pairs.match_probability >= coalesce(model_runs.match_threshold, latest_run.match_threshold) then 'matched'
            when pairs.match_probability >= coalesce(model_runs.review_threshold, latest_run.review_threshold) then 'review'
            else 'rejected'
        end as model_status,
        decisions.decision
    from decisions
    left join pairs using (report_key, crime_key)
    left join model_runs on model_runs.run_id = pairs.model_run_id
    left join latest_run on true
    left join reports on reports.report_key = decisions.report_key
    left join crimes on crimes.crime_key = decisions.crime_key
),

final as (
    select
        police_force,
        incident_date,
        model_status,
        decision,
        count(*) as pairs
    from scored
    group by all
    order by all
)

select * from final
