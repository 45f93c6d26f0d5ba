{# The attribution window of each campaign (campaigns/*.yml attribution_days), passed by the pipeline as the
   var campaign_attribution_days ({name: days}): a relation of (campaign, attribution_days). A campaign the
   var does not name gets campaign_default_attribution_days. #}
{% macro attribution_windows() %}
    select
        null::varchar as campaign,
        null::integer as attribution_days
    where false
    {%- set windows = var('campaign_attribution_days', {}) %}
    {%- for name, days in (windows.items() if windows is mapping else []) %}
    union all
    select
        '{{ name }}' as campaign,
        {{ days | int }} as attribution_days
    {%- endfor %}
{% endmacro %}
