with

severity as (
    select * from category_severity
),

final as (
    select
        category,
        severity_rank
    from severity
    order by severity_rank
)

select * from final
