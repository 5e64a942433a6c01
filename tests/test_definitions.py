"""The real Definitions: one lineage graph, grouped and owned, with checks, schedule and sensors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    Output,
    build_run_status_sensor_context,
    define_asset_job,
    job,
    op,
)
from dagster._core.definitions.metadata import TableMetadataSet

from orchestration.assets.dbt import RELATIONS, DbtRunConfig, prune_run_targets, with_warehouse_metadata
from orchestration.assets.extract import (
    FRESHNESS_HOURS_DEFAULT,
    build_extract_freshness_checks,
    extract_sources,
    freshness_hours,
    raw_asset_key,
)
from orchestration.assets.gate import GATED_TABLES, published_asset_key
from orchestration.assets.metadata import Relation, markdown_table, table_metadata
from orchestration.definitions import defs
from orchestration.duck import connect
from orchestration.raw_schema import RAW_OBJECTS
from orchestration.schedules import NIGHTLY_CRON_DEFAULT, build_nightly_schedule, notify_on_run_failure

GROUPS = {"extract", "seeds", "staging", "intermediate", "marts", "publish"}
PUBLISHED = AssetKey(["published_warehouse"])
# Marts about deals only: their lineage starts in Salesforce alone (no person, no touchpoint).
DEAL_ONLY_MARTS = {"mart_discount_friction", "mart_pipeline_velocity"}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def ancestors(graph, key: AssetKey) -> set[AssetKey]:
    found: set[AssetKey] = set()
    frontier = [key]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in found:
                found.add(parent)
                frontier.append(parent)
    return found


def keys_in(graph, group: str) -> list[AssetKey]:
    return sorted((key for key in graph.get_all_asset_keys() if graph.get(key).group_name == group),
                  key=lambda key: key.to_user_string())


def test_every_mart_reaches_the_crm_extracts_through_dbt_models(graph):
    marts = keys_in(graph, "marts")
    assert len(marts) >= 10
    for mart in marts:
        upstream = ancestors(graph, mart)
        systems = {key.path[0] for key in upstream if graph.get(key).group_name == "extract"}
        expected = {"salesforce"} if mart.path[-1] in DEAL_ONLY_MARTS else {"salesforce", "hubspot"}
        assert expected <= systems, f"{mart.to_user_string()} reaches only {systems}"
        assert {graph.get(key).group_name for key in upstream} >= {"staging", "extract"}
    # The only way from raw to a model is through staging: extracts feed staging models alone.
    for extract in keys_in(graph, "extract"):
        for child in graph.get(extract).child_keys:
            assert graph.get(child).group_name == "staging", (extract, child)


def test_raw_objects_and_dbt_sources_share_keys(graph):
    for obj in RAW_OBJECTS:
        key = raw_asset_key(obj)
        assert graph.get(key).group_name == "extract"
        assert any(graph.get(child).group_name == "staging" for child in graph.get(key).child_keys), key


def test_publish_is_downstream_of_every_gated_table(graph):
    upstream = ancestors(graph, PUBLISHED)
    for table in GATED_TABLES:
        assert published_asset_key(table) in upstream, table
    assert set(graph.get(PUBLISHED).parent_keys) <= {published_asset_key(table) for table in GATED_TABLES}


def test_groups_owners_kinds_and_descriptions(graph):
    kinds_by_group = {"staging": {"dbt", "duckdb"}, "intermediate": {"dbt", "duckdb"}, "marts": {"dbt", "duckdb"},
                      "seeds": {"dbt", "duckdb"}, "publish": {"duckdb"}}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.group_name in GROUPS, name
        assert node.owners == ["team:data-engineering"], name
        assert (node.description or "").strip(), name
        if node.group_name == "extract":
            assert "parquet" in node.kinds and node.kinds & {"salesforce", "hubspot", "csv"} | {"parquet"}, name
            if key.path[0] in ("salesforce", "hubspot"):
                assert key.path[0] in node.kinds, name
        else:
            assert kinds_by_group[node.group_name] <= node.kinds, name
    assert {graph.get(key).group_name for key in graph.get_all_asset_keys()} == GROUPS


def test_dbt_tests_are_asset_checks_and_the_gate_blocks(graph):
    checks = graph.asset_check_keys
    dbt_checks = [check for check in checks if graph.get(check.asset_key).group_name in ("staging", "marts")
                  and check.name != "quality_gate"]
    assert any(check.name.startswith("key_and_not_null") for check in dbt_checks)
    assert any(check.name.startswith("columns_are_rates") for check in dbt_checks)
    gate = {check.asset_key: graph.get_check_spec(check) for check in checks if check.name == "quality_gate"}
    assert set(gate) == {published_asset_key(table) for table in GATED_TABLES}
    assert all(spec.blocking for spec in gate.values())


def test_nightly_job_runs_dbt_tests_and_gate_but_not_freshness_checks():
    nightly = defs.resolve_job_def("nightly")
    selected = nightly.asset_layer.asset_graph.asset_check_keys
    assert any(check.name == "quality_gate" for check in selected)
    assert any(check.name.startswith("not_null") for check in selected)
    assert not any(check.name == "freshness_check" for check in selected)
    config_fields = nightly.run_config_schema.config_type.fields["ops"].config_type.fields
    assert "full_refresh" in config_fields["dbt_models"].config_type.fields["config"].config_type.fields
    assert DbtRunConfig().full_refresh is False


def test_extract_retries_with_exponential_backoff():
    policy = extract_sources.op.retry_policy
    assert policy.max_retries >= 2 and policy.delay and policy.backoff.value == "EXPONENTIAL"


def test_schedule_cron_from_settings_and_timezone_from_alignment(tmp_path):
    (schedule,) = [schedule for schedule in defs.schedules if schedule.name == "nightly_schedule"]
    assert schedule.job_name == "nightly"
    default = build_nightly_schedule({})
    assert default.cron_schedule == NIGHTLY_CRON_DEFAULT and default.execution_timezone == "UTC"
    alignment = tmp_path / "alignment.yml"
    alignment.write_text((Path(__file__).parent.parent / "alignment.yml").read_text()
                         .replace("timezone: UTC", "timezone: Europe/Berlin"))
    custom = build_nightly_schedule({"CLOSEDLOOP_SCHEDULE_CRON": "30 5 * * 1-5",
                                     "CLOSEDLOOP_ALIGNMENT": str(alignment)})
    assert custom.cron_schedule == "30 5 * * 1-5"
    assert custom.execution_timezone == "Europe/Berlin"
    with pytest.raises(Exception, match="cron"):
        build_nightly_schedule({"CLOSEDLOOP_SCHEDULE_CRON": "every night"})


def test_sensors_exist():
    sensors = {sensor.name: sensor for sensor in defs.sensors}
    assert set(sensors) >= {"notify_on_run_failure", "raw_freshness_sensor"}
    assert sensors["notify_on_run_failure"].default_status == DefaultSensorStatus.RUNNING


def test_freshness_hours_setting():
    assert freshness_hours({}) == FRESHNESS_HOURS_DEFAULT == 26
    assert freshness_hours({"CLOSEDLOOP_FRESHNESS_HOURS": "6"}) == 6
    with pytest.raises(ValueError, match="CLOSEDLOOP_FRESHNESS_HOURS"):
        freshness_hours({"CLOSEDLOOP_FRESHNESS_HOURS": "soon"})
    graph = defs.resolve_asset_graph()
    fresh = {check.asset_key for check in graph.asset_check_keys if check.name == "freshness_check"}
    assert fresh == {raw_asset_key(obj) for obj in RAW_OBJECTS}


def test_freshness_check_flags_a_raw_source_not_landed_in_the_window():
    """Two seconds' window: an object landed just now passes, one landed before the window fails."""
    stale, fresh = raw_asset_key(RAW_OBJECTS[0]), raw_asset_key(RAW_OBJECTS[1])
    checks = build_extract_freshness_checks(hours=2 / 3600)
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(AssetMaterialization(stale))
    time.sleep(2.5)
    instance.report_runless_asset_event(AssetMaterialization(fresh))
    test_defs = Definitions(asset_checks=checks, jobs=[define_asset_job(
        "freshness", selection=AssetSelection.checks_for_assets(stale, fresh))])
    result = test_defs.resolve_job_def("freshness").execute_in_process(instance=instance, raise_on_error=False)
    passed = {evaluation.asset_key: evaluation.passed for evaluation in result.get_asset_check_evaluations()}
    assert passed == {stale: False, fresh: True}


@op
def failing_step():
    raise RuntimeError("boom: source unreachable")


@job
def doomed():
    failing_step()


def test_run_failure_sensor_posts_to_the_webhook(httpserver, monkeypatch):
    instance = DagsterInstance.ephemeral()
    result = doomed.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    monkeypatch.setenv("CLOSEDLOOP_ALERT_WEBHOOK_URL", httpserver.url_for("/hook"))
    context = build_run_status_sensor_context(
        sensor_name="notify_on_run_failure", dagster_event=result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=instance.get_run_by_id(result.run_id),
    ).for_run_failure()
    notify_on_run_failure(context)
    httpserver.check_assertions()
    (request, _), = httpserver.log
    body = json.loads(request.data)
    assert body["run_id"] == result.run_id and body["job"] == "doomed"
    assert body["failed_steps"] == ["failing_step"]
    assert "failing_step" in body["text"]


def test_table_metadata_counts_schema_and_preview(tmp_path):
    path = tmp_path / "wh.duckdb"
    con = connect(path)
    con.execute("create schema marts").fetchall()
    con.execute("create table marts.fct_x as select range as id, 'a|b' as label, 1.5::double as rate "
                "from range(12)").fetchall()
    con.execute("create table marts.empty_y (id integer)").fetchall()
    con.execute("create view marts.v_z as select id from marts.fct_x").fetchall()
    con.close()
    x, y, missing = Relation("marts", "fct_x"), Relation("marts", "empty_y"), Relation("marts", "not_built")
    z = Relation("marts", "v_z")
    found = table_metadata(path, [x, y, z, missing], preview=[x], column_docs={x: {"rate": "Share won."}})
    assert set(found) == {x, y, z}
    # a view gets its schema but no count: counting it would run its whole query
    assert "dagster/row_count" not in found[z]
    assert [column.name for column in TableMetadataSet.extract(found[z]).column_schema.columns] == ["id"]
    table = TableMetadataSet.extract(found[x])
    assert table.row_count == 12
    assert [(column.name, column.type) for column in table.column_schema.columns] == [
        ("id", "bigint"), ("label", "varchar"), ("rate", "double")]
    assert [column.description for column in table.column_schema.columns] == [None, None, "Share won."]
    assert TableMetadataSet.extract(found[y]).row_count == 0 and "preview" not in found[y]
    preview = found[x]["preview"].value
    assert preview.splitlines()[0] == "| id | label | rate |"
    assert len(preview.splitlines()) == 2 + 5 and "a\\|b" in preview


def test_dbt_materializations_get_warehouse_metadata(tmp_path):
    mart_id = next(uid for uid, (relation, group) in RELATIONS.items() if group == "marts")
    staging_id = next(uid for uid, (relation, group) in RELATIONS.items() if group == "staging")
    path = tmp_path / "wh.duckdb"
    con = connect(path)
    for relation in (RELATIONS[mart_id][0], RELATIONS[staging_id][0]):
        con.execute(f"create schema if not exists {relation.schema}").fetchall()
        con.execute(f"create table {relation.sql} as select 1 as one").fetchall()
    con.close()
    events = [Output(None, output_name="mart", metadata={"unique_id": mart_id}),
              AssetMaterialization(AssetKey(["staging", "x"]), metadata={"unique_id": staging_id}), "check-result"]
    out = list(with_warehouse_metadata(None, events, path))
    assert out[2] == "check-result"
    assert out[0].metadata["dagster/row_count"].value == 1 and "preview" in out[0].metadata
    assert out[0].metadata["unique_id"].value == mart_id
    assert out[1].metadata["dagster/row_count"].value == 1 and "preview" not in out[1].metadata
    assert "dagster/column_schema" in out[1].metadata


def test_markdown_table_cuts_long_cells():
    text = markdown_table(["a"], [("x" * 100,), (None,)])
    assert text.splitlines()[2].endswith("… |") and text.splitlines()[3] == "|  |"


def test_only_the_newest_run_target_folders_are_kept(tmp_path):
    target = tmp_path / "target"
    runs = []
    for night in range(6):
        folder = target / f"dbt_models-run{night}-abcdef0"
        folder.mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, ns=(night * 10**9, night * 10**9))
        runs.append(folder)
    (target / "manifest.json").write_text("{}")  # the project's own artifacts stay
    current = runs[0]  # the oldest by time, but this run's: kept
    prune_run_targets(current, keep=3)
    assert sorted(path.name for path in target.iterdir()) == sorted(
        ["manifest.json", current.name, runs[5].name, runs[4].name])
