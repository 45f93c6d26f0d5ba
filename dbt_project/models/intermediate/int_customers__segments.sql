-- One row per customer: its attributes and its one primary segment, the first by priority whose rule
-- holds (segments.yml, passed as var segments and rendered by macro segment_case). The last segment's rule
-- is true, so every customer has one. as_of is the segmentation time of the run.
with

attributes as (

    select * from {{ ref('int_customers__attributes') }}

),

assigned as (

    select
        *,
        {{ segment_case() }} as segment
    from attributes

),

final as (

    select
        *,
        {{ segment_priority('segment') }} as segment_priority,
        {{ segment_as_of() }} as as_of
    from assigned

)

select * from final
