-- Every pair's latest review decision.
select report_key, crime_key, decision, decided_at
from review_decisions
qualify row_number() over (partition by report_key, crime_key order by decided_at desc) = 1
