-- Every police crime's date range (to find the crimes a night's reports can pair with).
select
    crime_key,
    cast(occurred_from as date) as f,
    cast(coalesce(occurred_to, occurred_from) as date) as t
from stg_police_crimes
