-- stable, neutral incident numbers for the published database (run inside the
-- nightly transaction, after the marts are built).
--
-- an incident_id is a plain counter, allocated once, the first time an incident
-- is seen: it is not computed from any reference or key (no hash of a
-- pseudonym, keyed or not), so it cannot be turned back into one, and the map
-- from members to numbers stays here in the warehouse.
-- stability: each cst report and police crime remembers its number
-- (incident_ids). tonight's incident keeps the oldest number its members
-- already carry; when an incident splits, the part holding most of the
-- number's members keeps it and the others get new ones; a number is never
-- reused (incident_id_counter). new incidents are numbered in order of
-- incident date, then incident key.
-- an incremental build numbers the incidents of the members it rebuilt
-- (incremental_members) alone: every other incident kept its members, and
-- they all hold its number, which no rebuilt member holds, so no claim of
-- theirs can compete.

-- no primary key (warehouse/schema/012): one row per member, as incident_members has
create table if not exists incident_ids (
    member_key varchar not null,
    incident_id bigint not null
);

create table if not exists incident_id_counter (
    last_id bigint not null
);

insert into incident_id_counter
select 0 as last_id
where not exists (select 1 from incident_id_counter);

create or replace temp table incident_id_assignment as
with

current_members as (
    select
        incident_members.member_key,
        incidents.incident_key,
        incidents.incident_date
    from incident_members
    inner join incidents on incident_members.incident_key = incidents.incident_key
    {% if is_incremental() %}
    where incident_members.member_key in (select member_key from incremental_members)
    {% endif %}
),

numbers_held as (
    select
        current_members.incident_key,
        incident_ids.incident_id,
        count(*) as members_holding
    from current_members
    inner join incident_ids on current_members.member_key = incident_ids.member_key
    group by current_members.incident_key, incident_ids.incident_id
),

claims as (
    select
        incident_key,
        incident_id,
        row_number() over (
            partition by incident_id order by members_holding desc, incident_key
        ) as claim_rank
    from numbers_held
),

kept as (
    select
        incident_key,
        min(incident_id) as incident_id
    from claims
    where claim_rank = 1
    group by incident_key
),

unnumbered as (
    select distinct
        current_members.incident_key,
        current_members.incident_date
    from current_members
    anti join kept on current_members.incident_key = kept.incident_key
),

numbered as (
    select
        unnumbered.incident_key,
        incident_id_counter.last_id + row_number() over (
            order by unnumbered.incident_date nulls last, unnumbered.incident_key
        ) as incident_id
    from unnumbered
    cross join incident_id_counter
),

assigned as (
    select incident_key, incident_id from kept
    union all
    select incident_key, incident_id from numbered
),

final as (
    select
        current_members.member_key,
        assigned.incident_key,
        assigned.incident_id
    from current_members
    inner join assigned on current_members.incident_key = assigned.incident_key
)

select * from final;

create or replace temp table incident_id_changes as
select
    incident_id_assignment.member_key,
    incident_id_assignment.incident_id
from incident_id_assignment
left join incident_ids on incident_id_assignment.member_key = incident_ids.member_key
where incident_ids.incident_id is distinct from incident_id_assignment.incident_id;

delete from incident_ids
using incident_id_changes
where incident_ids.member_key = incident_id_changes.member_key;

insert into incident_ids (member_key, incident_id)
select member_key, incident_id from incident_id_changes;

update incident_id_counter
set last_id = greatest(
    last_id,
    (select coalesce(max(incident_id), 0) from incident_id_assignment)
);

create table if not exists incident_numbers (
    incident_key varchar,
    incident_id bigint
);

delete from incident_numbers
{% if is_incremental() %}
where
    incident_key in (select incident_key from incremental_incidents)
    or incident_key in (select incident_key from incident_id_assignment)
{% endif %}
;

insert into incident_numbers
select distinct
    incident_key,
    incident_id
from incident_id_assignment;
