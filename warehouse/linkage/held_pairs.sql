-- The pairs the linkage holds, with what re-resolving them needs.
select report_key, crime_key, pair_probability, match_weight, rule, levels,
       date_gap_days, time_gap_minutes, narrative_cosine, offender_jaccard, model_run_id
from link_pairs
