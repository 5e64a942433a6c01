"""dbt models as Dagster assets (dagster-dbt), grouped by layer, with their sources upstream.

dbt's sources keep dagster-dbt's default keys ([source, table]), which are exactly the
extract assets' keys, so each model's lineage reaches the raw Salesforce/HubSpot objects.
"""


import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, Config
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.dbt_cli import DBT_EXECUTABLE, dbt_vars_json
from orchestration.resources import ClosedLoopResource
from orchestration.settings import DBT_PROJECT_DIR

OWNER = "team:data-engineering"
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _project_files_newer_than(path: Path) -> bool:
    if not path.exists():
        return True
    built = path.stat().st_mtime
    for folder in ("models", "seeds", "macros", "tests"):
        for file in (DBT_PROJECT_DIR / folder).rglob("*"):
            if file.is_file() and file.stat().st_mtime > built:
                return True
    return (DBT_PROJECT_DIR / "dbt_project.yml").stat().st_mtime > built


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than the project files."""
    manifest = DBT_PROJECT.manifest_path
    if _project_files_newer_than(manifest):
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        env.pop("DBT_TARGET_PATH", None)
        result = subprocess.run(
            [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(manifest.parent)],
            env=env, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return manifest


class ClosedLoopDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        path = dbt_resource_props.get("original_file_path", "")
        for layer in ("staging", "intermediate", "marts"):
            if f"models/{layer}/" in path:
                return layer
        return "dbt"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return [OWNER]

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = dict(super().get_tags(dbt_resource_props))
        group = self.get_group_name(dbt_resource_props)
        if group:
            tags["layer"] = group
        return tags


TRANSLATOR = ClosedLoopDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtRunConfig(Config):
    full_refresh: bool = False  # rebuild incremental models from all of raw


@dbt_assets(manifest=ensure_manifest(), project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR,
            name="dbt_models")
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, closedloop: ClosedLoopResource,
               config: DbtRunConfig):
    settings = closedloop.settings()
    alignment = closedloop.alignment()
    # dbt's profile and sources read the warehouse folder from the environment.
    os.environ["CLOSEDLOOP_WAREHOUSE_DIR"] = str(settings.warehouse_dir)
    args = ["build", "--vars", dbt_vars_json(alignment)]
    if config.full_refresh:
        args.append("--full-refresh")
    yield from dbt.cli(args, context=context).stream()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=DBT_PROJECT, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
