"""dbt models as Dagster assets (dagster-dbt), grouped by layer, with their sources upstream.

dbt's sources keep dagster-dbt's default keys ([source, table]), which are exactly the
extract assets' keys, so each model's lineage reaches the raw Salesforce/HubSpot objects.
dbt tests become asset checks. After the build, each built table's materialization gets its
row count and column schema from the warehouse, and each mart a five-row preview.
"""


import importlib.metadata
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, AssetObservation, Config, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from expectations import preload_great_expectations
from orchestration import build_state
from orchestration.assets.metadata import Relation, table_metadata
from orchestration.dbt_cli import DBT_EXECUTABLE, RUN_TARGET_PREFIX, dbt_vars_json, run_targets_root
from orchestration.dbt_selection import gate_repeated_tests, unchanged_nodes
from orchestration.publish import DATA_TABLES, PUBLISHED_TABLES
from orchestration.resources import ClosedLoopResource
from orchestration.run_tags import NOTHING_NEW_TAG
from orchestration.settings import DBT_PROJECT_DIR, Settings
from orchestration.vacuum import VACUUM_ENV, builds_without_vacuum, record_build, vacuum_due

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
    # Only where the gate step runs in this same process (run_nightly's in-process execution):
    # import Great Expectations while dbt builds instead of after it.
    preload_gate: bool = False


MANIFEST_PATH = ensure_manifest()
PREVIEW_GROUPS = ("marts",)


def _relations(manifest: Mapping[str, Any]
               ) -> tuple[dict[str, tuple[Relation, str | None]], dict[Relation, dict[str, str]]]:
    """dbt unique_id -> (the table it builds, its Dagster group) for models, seeds and snapshots,
    and each table's documented column descriptions."""
    nodes = {unique_id: node for unique_id, node in manifest["nodes"].items()
             if node["resource_type"] in ("model", "seed", "snapshot")}
    relations = {unique_id: (Relation(node["schema"], node.get("alias") or node["name"]),
                             TRANSLATOR.get_group_name(node)) for unique_id, node in nodes.items()}
    docs = {relations[unique_id][0]: {name: column.get("description", "") for name, column
                                      in node.get("columns", {}).items()} for unique_id, node in nodes.items()}
    return relations, docs


MANIFEST = json.loads(MANIFEST_PATH.read_text())
RELATIONS, COLUMN_DOCS = _relations(MANIFEST)


def with_warehouse_metadata(context: AssetExecutionContext, events: Iterable[Any], warehouse_path: Path) -> Iterator:
    """The dbt events with row count, column schema (and for marts a preview) added to each materialization."""
    events = list(events)
    built = {
        RELATIONS[event.metadata["unique_id"].value][0]: RELATIONS[event.metadata["unique_id"].value][1]
        for event in events
        if isinstance(event, Output | AssetMaterialization) and "unique_id" in event.metadata
        and event.metadata["unique_id"].value in RELATIONS
    }
    try:
        extra = table_metadata(warehouse_path, built, column_docs=COLUMN_DOCS,
                               preview=[relation for relation, group in built.items() if group in PREVIEW_GROUPS])
    except duckdb.Error as error:  # metadata is for people; never fail a built run for it
        context.log.warning(f"Could not read row counts and schemas from {warehouse_path}: {error}")
        extra = {}
    for event in events:
        unique_id = event.metadata["unique_id"].value if isinstance(event, Output | AssetMaterialization) \
            and "unique_id" in event.metadata else None
        added = extra.get(RELATIONS[unique_id][0], {}) if unique_id in RELATIONS else {}
        if not added:
            yield event
        elif isinstance(event, Output):
            yield event.with_metadata({**event.metadata, **added})
        else:
            yield AssetMaterialization(asset_key=event.asset_key, description=event.description,
                                       metadata={**event.metadata, **added}, tags=event.tags)


@dbt_assets(manifest=MANIFEST_PATH, project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR,
            name="dbt_models")
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, closedloop: ClosedLoopResource,
               config: DbtRunConfig):
    settings = closedloop.settings()
    alignment = closedloop.alignment()
    raw_objects = build_state.raw_object_fingerprints(settings.raw_dir)
    inputs = build_state.build_inputs(settings, raw_objects)
    # dbt unit tests check the SQL, not the night's data: they run in `make test`, not every night.
    args = ["build", "--vars", dbt_vars_json(alignment), "--exclude-resource-type", "unit_test"]
    if "DBT_LOG_LEVEL_FILE" not in os.environ:
        # The run's dbt.log at dbt's default debug level holds every SQL statement (3,000 events a
        # night at 1M people, ~0.5 s of dbt's Python); info keeps each node's start and result, and
        # the compiled SQL stays in the run's target folder. DBT_LOG_LEVEL_FILE=debug restores it.
        args += ["--log-level-file", "info"]
    if context.is_subset:  # a hand-picked subset: the record can no longer vouch for the whole warehouse
        build_state.forget(settings)
    else:
        decision = build_state.decide(settings, inputs, full_refresh=config.full_refresh, raw_objects=raw_objects)
        context.log.info(decision.reason)
        if not decision.build:
            yield from _skip(context, decision)
            return
        build_state.mark_building(settings, context.run.run_id, inputs, raw_objects)
        args += _excluded(context, decision)
    # dbt's profile and sources read the warehouse folder from the environment.
    os.environ["CLOSEDLOOP_WAREHOUSE_DIR"] = str(settings.warehouse_dir)
    builds_since_vacuum = builds_without_vacuum(settings)
    vacuum = vacuum_due(builds_since_vacuum)
    os.environ[VACUUM_ENV] = "on" if vacuum else "off"
    context.log.info(f"DuckDB vacuums at this build's checkpoint: {'yes' if vacuum else 'no'} "
                     f"({builds_since_vacuum} builds since it last did)")
    if config.full_refresh:
        args.append("--full-refresh")
    if config.preload_gate:
        preload_great_expectations()
    events: list[Any] = []
    failure: Exception | None = None
    target_path = _run_target_path(context.run.run_id)
    _seed_partial_parse(settings, target_path)
    try:
        for event in dbt.cli(args, context=context, target_path=target_path).stream():
            events.append(event)
    except Exception as error:  # report what was built, with its metadata, then fail the step
        failure = error
    # a full refresh writes every table anew
    record_build(settings, builds_since=builds_since_vacuum, vacuumed=vacuum or config.full_refresh)
    _keep_partial_parse(settings, target_path)
    prune_run_targets(target_path)
    yield from with_warehouse_metadata(context, events, settings.warehouse_path)
    if failure is not None:
        raise failure


# The published tables' generic tests and the singular tests the gate repeats: it checks the same
# rules right after the build.
LEFT_TO_THE_GATE = gate_repeated_tests(MANIFEST, DATA_TABLES)


def _excluded(context: AssetExecutionContext, decision: build_state.Decision) -> list[str]:
    """dbt arguments leaving out the tests the gate repeats, the nodes that read none of the raw
    objects changed since the last published build and the views (none of these two when anything
    but raw batches changed)."""
    unchanged = unchanged_nodes(MANIFEST, decision.unchanged_raw, always_built=PUBLISHED_TABLES) \
        if decision.unchanged_raw else []
    if unchanged:
        context.log.info(f"{len(unchanged)} dbt nodes read only raw objects unchanged since the last published "
                         f"build ({', '.join(sorted(decision.unchanged_raw))}), or are views whose definitions "
                         f"stand: not rebuilt: {', '.join(unchanged)}")
    excluded = sorted(set(unchanged) | set(LEFT_TO_THE_GATE))
    return ["--exclude", " ".join(excluded)] if excluded else []


PUBLISHED_ASSET_KEY = AssetKey("published_warehouse")


def _skip(context: AssetExecutionContext, decision: build_state.Decision) -> Iterator[AssetObservation]:
    """Nothing new: no model is materialized, so Dagster skips the gate and publish steps downstream
    (their inputs were not produced); the published file stays that of run `decision.since_run`."""
    context.instance.add_run_tags(context.run.run_id, {NOTHING_NEW_TAG: decision.since_run or ""})
    yield AssetObservation(asset_key=PUBLISHED_ASSET_KEY, metadata={
        "skipped": True, "nothing_new_since_run": decision.since_run or "", "reason": decision.reason})


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def _run_target_path(run_id: str) -> Path:
    """A target folder of its own for this invocation (dagster-dbt's naming: the run's artifacts stay apart)."""
    return run_targets_root() / f"{RUN_TARGET_PREFIX}{run_id[:7]}-{uuid.uuid4().hex[:7]}"


RUN_TARGETS_KEPT = 30  # about a month of nightly runs' dbt artifacts (10 MB each at 1M people)


def prune_run_targets(current: Path, keep: int = RUN_TARGETS_KEPT) -> None:
    """Remove all but the newest `keep` run target folders beside `current` (always kept): one is
    left per run (dbt.log, run_results.json, compiled SQL), so they would pile up night after night."""
    folders = [path for path in current.parent.glob(f"{RUN_TARGET_PREFIX}*") if path.is_dir() and path != current]
    folders.sort(key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for old in folders[max(keep - 1, 0):]:
        shutil.rmtree(old, ignore_errors=True)


def _partial_parse_state(settings: Settings) -> Path:
    return settings.state_dir / f"dbt_{PARTIAL_PARSE_FILE}"


def _seed_partial_parse(settings: Settings, target_path: Path) -> None:
    """Start dbt from the parse its last nightly run on this warehouse left behind.

    dagster-dbt otherwise copies the project's target/partial_parse.msgpack, written by `dbt parse`
    without this run's --vars and profile, so dbt refused it ("config vars, config profile, or config
    target have changed") and parsed the whole project again every night. dbt itself checks the saved
    parse against the vars, profile, versions and file hashes, and re-parses whatever changed.
    """
    saved = _partial_parse_state(settings)
    if saved.exists():
        target_path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, target_path / PARTIAL_PARSE_FILE)


def _keep_partial_parse(settings: Settings, target_path: Path) -> None:
    produced = target_path / PARTIAL_PARSE_FILE
    if not produced.exists():
        return
    saved = _partial_parse_state(settings)
    saved.parent.mkdir(parents=True, exist_ok=True)
    partial = saved.with_name(f".{saved.name}.partial")
    shutil.copyfile(produced, partial)
    os.replace(partial, saved)


class ClosedLoopDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without the in-process dbt adapter it builds before each invocation.

    That adapter (importing dbt and loading the profile and project inside the Dagster process: 4-12 s
    per nightly run on 2 cores) serves only dagster-dbt's fetch_row_counts / fetch_column_metadata,
    which this project does not use: with_warehouse_metadata reads row counts and schemas itself.
    """

    def _initialize_dbt_core_adapter(self, args):  # dagster-dbt 0.29 private hook
        return None

    @cached_property
    def _cli_version(self) -> version.Version:  # dagster-dbt 0.29 private hook
        # dagster-dbt runs `dbt --version` (3.5 s here) to learn this; DBT_EXECUTABLE is the dbt of
        # this interpreter's environment, so it is the installed dbt-core's version.
        return version.parse(importlib.metadata.version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    return ClosedLoopDbtCliResource(project_dir=DBT_PROJECT, profiles_dir=str(DBT_PROJECT_DIR),
                                    dbt_executable=DBT_EXECUTABLE)
