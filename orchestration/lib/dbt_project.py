"""The one dbt project of the code location."""

from dagster_dbt import DbtProject

from orchestration.lib.paths import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
