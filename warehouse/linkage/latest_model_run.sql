-- The most recent fitted model.
select run_id, settings_json, settings_digest, parameters_json, method, reviewed_pairs, created_at
from link_model_runs
order by created_at desc
limit 1
