-- cst's six categories, most serious first. when the cst report and the police
-- crimes of one incident disagree, the incident takes the more serious category.

with

severity_order as (
    select * from (
        values
            ('Extreme Violence', 1),
            ('Assault', 2),
            ('Damage & Desecration', 3),
            ('Threats', 4),
            ('Abusive Behaviour', 5),
            ('Literature', 6)
    ) as severity_values (category, severity_rank)
),

final as (
    select
        category,
        cast(severity_rank as integer) as severity_rank
    from severity_order
)

select * from final
