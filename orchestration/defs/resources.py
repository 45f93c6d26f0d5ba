"""Resources shared by the assets."""

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.lib.dbt_project import dbt_project


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"dbt": DbtCliResource(project_dir=dbt_project)})
