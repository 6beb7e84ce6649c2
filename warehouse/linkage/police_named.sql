-- The police crimes named in link_scope_keys ('police'), latest versions (an incremental
-- night's records: a plain key filter, which DuckDB pushes below the staging view's window).
select p.*
from stg_police_crimes as p
where p.crime_key in (select record_key from link_scope_keys where source = 'police')
