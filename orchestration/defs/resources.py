"""Resources shared by the assets."""

import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.lib.dbt_project import dbt_project


@dg.definitions
def resources() -> dg.Definitions:
    # dagster-dbt runs the `dbt` on PATH; without an activated virtualenv, use the one beside this Python.
    dbt_executable = shutil.which("dbt") or str(Path(sys.executable).with_name("dbt"))
    return dg.Definitions(
        resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable)}
    )
