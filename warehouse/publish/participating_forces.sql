with

forces as (
    select * from participating_forces
),

final as (
    select
        force_id,
        participating_from
    from forces
    order by force_id
)

select * from final
