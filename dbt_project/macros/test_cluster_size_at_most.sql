{#- Clusters with more records than max_size: one row per such cluster, with its size. -#}
{% test cluster_size_at_most(model, max_size) %}

    select
        cluster_id,
        count(*) as record_count
    from {{ model }}
    group by cluster_id
    having count(*) > {{ max_size }}

{% endtest %}
