-- records to purge when there are no marts (no linkage yet): each record by its own date.

create or replace temp table purge_records as
select source, record_key
from retention_record_dates
where record_date < cast($cutoff as date);
