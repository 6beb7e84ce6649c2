with

shares as (
    select * from coverage
),

final as (
    select * from shares
    order by police_force, half_year
)

select * from final
