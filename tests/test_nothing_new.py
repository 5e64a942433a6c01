"""A nightly run with nothing new skips the dbt build, the quality gate and the publish.

The real nightly job on one small demo warehouse, run after run: the second run finds nothing
new and leaves the published file byte for byte (publish_log included); a new raw batch or a
changed alignment.yml builds and publishes again; a run that failed is never skipped after.
A new batch of one raw object rebuilds only the dbt nodes reading it (and the published tables),
and the warehouse then equals a full refresh of the same raw files.
The decision itself (orchestration.build_state.decide) is also checked case by case.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from raw_fixtures import land_records
from warehouse_rows import table_rows

import orchestration.assets.gate as gate_asset
from orchestration import build_state
from orchestration.dbt_cli import run_target_files
from orchestration.duck import connect, rows
from orchestration.pipeline import NightlyResult, run_nightly, summarize
from orchestration.publish import LOGGED_TABLES, PUBLISHED_TABLES, is_pii_column
from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.vacuum import builds_without_vacuum

# the staging models' key tests, by dbt's generated names
LEADS_KEY_TEST = "key_and_not_null_stg_salesforce__leads_batches__lead_id__lead_id__is_deleted"
TASKS_KEY_TEST = "key_and_not_null_stg_salesforce__tasks_task_id__task_id__is_deleted"

pytestmark = pytest.mark.slow

GATE_AND_PUBLISH = {"quality_gate", "published_warehouse"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish_log(settings: Settings) -> list[tuple]:
    con = connect(settings.published_file, read_only=True)
    try:
        return rows(con, "select run_id, published_at, definitions_version, row_counts from publish_log order by 2")
    finally:
        con.close()


def dbt_run_file(run_id: str, name: str) -> Path:
    """A file of the run's dbt target folder."""
    paths = run_target_files(run_id, name)
    assert paths, f"no {name} for run {run_id}"
    return paths[-1]


def dbt_nodes_run(run_id: str) -> set[str]:
    """Names of the dbt nodes the run's build ran (its run_results.json)."""
    results = json.loads(dbt_run_file(run_id, "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[2] for result in results}


def dbt_log_levels(run_id: str) -> set[str]:
    """The levels of the events in the run's dbt.log (JSON lines: dagster-dbt sets DBT_LOG_FORMAT=json)."""
    lines = dbt_run_file(run_id, "dbt.log").read_text().splitlines()
    return {json.loads(line)["info"]["level"] for line in lines if line.strip()}


def warehouse_tables(settings: Settings) -> dict[str, list[tuple]]:
    """Every table dbt builds, less the incremental models' build history (state tables)."""
    return {name: table for name, table in table_rows(settings.warehouse_path).items() if "__state_" not in name}


def last_gate_result(settings: Settings) -> dict:
    con = connect(settings.published_file, read_only=True)
    try:
        return json.loads(rows(con, "select gate_result from publish_log order by published_at desc limit 1")[0][0])
    finally:
        con.close()


def published_logged_tables(settings: Settings) -> dict[str, list[tuple]]:
    con = connect(settings.published_file, read_only=True)
    try:
        [builds] = rows(con, "select source_builds from publish_log order by published_at desc limit 1")[0]
        assert set(json.loads(builds)) == set(LOGGED_TABLES)  # what the next publish copies from
        return {table: sorted(rows(con, f"select * from {table}"), key=repr) for table in LOGGED_TABLES}
    finally:
        con.close()


def working_logged_tables(settings: Settings) -> dict[str, list[tuple]]:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        published = {}
        for table in LOGGED_TABLES:
            columns = [name for (name,) in rows(con, "select column_name from information_schema.columns where "
                                                     f"table_schema = 'marts' and table_name = '{table}' "
                                                     "order by ordinal_position") if not is_pii_column(name)]
            published[table] = sorted(rows(con, f"select {', '.join(columns)} from marts.{table}"), key=repr)
        return published
    finally:
        con.close()


def assert_built_and_published(settings: Settings, result: NightlyResult, log_before: list[tuple]) -> None:
    assert result.success, result.failures
    assert result.nothing_new_since is None
    assert not GATE_AND_PUBLISH & set(result.skipped_steps), result.skipped_steps
    log = publish_log(settings)
    assert log[:-1] == log_before and log[-1][0] == result.run_id
    assert (settings.reports_dir / "gate" / f"{result.run_id}.json").exists()
    assert build_state.read_state(settings)["run_id"] == result.run_id


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("nothing_new")
    settings = Settings(source="demo", warehouse_dir=root / "warehouse", demo_people=300, demo_seed=11)
    first = run_nightly(settings)
    assert first.success, first.failures
    assert first.nothing_new_since is None
    state = build_state.read_state(settings)
    assert state["status"] == "published" and state["run_id"] == first.run_id
    return settings


def test_nothing_new_skips_dbt_gate_and_publish(warehouse):
    settings = warehouse
    published, log = sha256(settings.published_file), publish_log(settings)
    working = settings.warehouse_path.stat().st_mtime_ns
    last_run = build_state.read_state(settings)["run_id"]

    result = run_nightly(settings)

    assert result.success, result.failures
    assert result.nothing_new_since == last_run
    assert set(result.skipped_steps) >= GATE_AND_PUBLISH, result.skipped_steps
    assert not result.failures  # a skipped gate is not a failed gate
    assert sha256(settings.published_file) == published
    assert publish_log(settings) == log
    assert settings.warehouse_path.stat().st_mtime_ns == working  # dbt did not touch the warehouse
    assert not (settings.reports_dir / "gate" / f"{result.run_id}.json").exists()
    assert build_state.read_state(settings)["run_id"] == last_run
    assert f"Nothing new since run {last_run}" in summarize(settings, result)


def test_a_new_raw_batch_builds_and_publishes_again(warehouse, tmp_path):
    settings = warehouse
    log, before = publish_log(settings), last_gate_result(settings)
    land_records(
        settings.raw_dir,
        {
            ("salesforce", "task"): [
                [
                    {
                        "Id": "00T_new_night",
                        "WhoId": "00Q000000000000001",  # a demo lead: its person gains an activity
                        "Subject": "Call",
                        "Type": "Call",
                        "Status": "Completed",
                        "CreatedDate": "2024-06-01T10:00:00Z",
                    }
                ]
            ],
            ("salesforce", "campaignmember"): [
                [
                    {
                        "Id": "00v_new_night",
                        "CampaignId": "701000000000000001",  # a demo campaign: the lead responded to it
                        "LeadId": "00Q000000000000001",
                        "Status": "Responded",
                        "HasResponded": "true",
                        "FirstRespondedDate": "2024-06-01",
                        "CreatedDate": "2024-06-01T09:00:00Z",
                    }
                ]
            ],
        },
    )

    result = run_nightly(settings)

    assert_built_and_published(settings, result, log)
    # only what reads Tasks or CampaignMember was rebuilt and tested, and every published table; not
    # the view of campaign touches (its definition stands), though int_touchpoints reads it
    ran = dbt_nodes_run(result.run_id)
    # the night's dbt.log keeps dbt's info events, not one debug event per SQL statement
    assert dbt_log_levels(result.run_id) == {"info"}
    assert {"stg_salesforce__tasks", TASKS_KEY_TEST, "int_funnel__sales_activities",
            "stg_salesforce__campaign_members", "int_touchpoints"} <= ran
    assert "int_touchpoints__campaign_members" not in ran
    assert set(PUBLISHED_TABLES) - {"publish_log"} <= ran
    assert not {"stg_salesforce__leads", LEADS_KEY_TEST, "stg_salesforce__lead_history",
                "utm_medium_channels"} & ran, ran
    # the published file took the night's partitions of the logged tables and equals the working tables
    assert published_logged_tables(settings) == working_logged_tables(settings)
    # the night's gate checked the MQL rule for the people rebuilt since the last publish (its gate
    # checked everyone), and the publish stamped how far it checked, for the next night's gate
    gate = json.loads((settings.reports_dir / "gate" / f"{result.run_id}.json").read_text())
    mql = next(check for check in gate["checks"] if check["name"] == "mql_below_threshold")
    assert "rebuilt since the last publish" in mql["description"]
    assert last_gate_result(settings)["checked_through"] == gate["checked_through"]
    assert gate["checked_through"]["fct_lead_funnel"] > before["checked_through"]["fct_lead_funnel"]
    # and the warehouse is what a full refresh of the same raw files builds
    rebuilt = dataclasses.replace(settings, warehouse_dir=tmp_path / "full_refresh")
    shutil.copytree(settings.warehouse_dir, rebuilt.warehouse_dir)
    full = run_nightly(rebuilt, full_refresh=True)
    assert full.success, full.failures
    assert len(dbt_nodes_run(full.run_id)) > len(ran)
    assert warehouse_tables(rebuilt) == warehouse_tables(settings)
    # a full refresh writes every table anew: the count towards the next vacuuming build restarts
    assert builds_without_vacuum(settings) >= 1 and builds_without_vacuum(rebuilt) == 0
    # and the night after, with nothing landed, skips again
    assert run_nightly(settings).nothing_new_since == result.run_id


def test_a_changed_alignment_builds_and_publishes_again(warehouse, tmp_path):
    document = yaml.safe_load((PROJECT_ROOT / "alignment.yml").read_text())
    document["sla"]["response_minutes"] = document["sla"]["response_minutes"] + 1
    changed = tmp_path / "alignment.yml"
    changed.write_text(yaml.safe_dump(document))
    settings = dataclasses.replace(warehouse, alignment_path=changed)
    log = publish_log(settings)

    result = run_nightly(settings)

    assert_built_and_published(settings, result, log)


def test_after_a_failed_gate_the_next_run_builds(warehouse, monkeypatch):
    """Same inputs throughout: only the failure of the run in between makes the last run build."""
    settings = dataclasses.replace(warehouse, alignment_path=PROJECT_ROOT / "alignment.yml")
    run_nightly(settings)  # back to the shipped alignment.yml: built and published
    assert run_nightly(settings).nothing_new_since  # steady state: nothing new
    published, log = sha256(settings.published_file), publish_log(settings)

    real_gate = gate_asset.run_gate

    def failing_gate(*args, **kwargs):
        result = real_gate(*args, **kwargs)
        result.checks[0].success = False
        result.checks[0].blocking = True
        result.success = False
        return result

    monkeypatch.setattr(gate_asset, "run_gate", failing_gate)
    failed = run_nightly(settings, full_refresh=True)  # a full refresh always builds
    assert not failed.success
    assert any("quality_gate" in failure for failure in failed.failures), failed.failures
    assert sha256(settings.published_file) == published
    assert build_state.read_state(settings)["status"] == "building"
    monkeypatch.setattr(gate_asset, "run_gate", real_gate)

    result = run_nightly(settings)

    assert_built_and_published(settings, result, log)


# --- the decision, case by case (no dbt) ---


@pytest.fixture
def published_state(tmp_path) -> tuple[Settings, dict[str, str]]:
    settings = Settings(source="demo", warehouse_dir=tmp_path / "warehouse")
    settings.warehouse_dir.mkdir()
    settings.warehouse_path.write_bytes(b"working")
    settings.published_file.write_bytes(b"published")
    inputs = build_state.build_inputs(settings)
    build_state.mark_building(settings, "run-1", inputs)
    assert build_state.mark_published(settings, "run-1")
    return settings, inputs


def test_decide_skips_only_when_every_input_and_file_is_unchanged(published_state):
    settings, inputs = published_state
    decision = build_state.decide(settings, inputs)
    assert not decision.build and decision.since_run == "run-1"
    assert "nothing new since run run-1" in decision.reason
    assert build_state.decide(settings, inputs, full_refresh=True).build
    for name in inputs:
        assert build_state.decide(settings, {**inputs, name: "other"}).build, name


def test_decide_builds_when_the_published_file_is_missing_or_replaced(published_state):
    settings, inputs = published_state
    settings.published_file.write_bytes(b"another file")
    assert "changed" in build_state.decide(settings, inputs).reason
    settings.published_file.unlink()
    assert "missing" in build_state.decide(settings, inputs).reason


def test_decide_builds_when_the_working_warehouse_changed(published_state):
    settings, inputs = published_state
    settings.warehouse_path.write_bytes(b"edited by hand")
    assert build_state.decide(settings, inputs).build


def test_decide_builds_after_a_build_that_did_not_publish(published_state):
    settings, inputs = published_state
    build_state.mark_building(settings, "run-2", inputs)
    decision = build_state.decide(settings, inputs)
    assert decision.build and "(run run-2) did not publish" in decision.reason
    assert not build_state.mark_published(settings, "run-3")  # a publish of another run records nothing
    assert build_state.decide(settings, inputs).build


def test_raw_fingerprint_sees_a_new_batch_and_ignores_partial_files(tmp_path):
    raw = tmp_path / "raw" / "salesforce" / "Task"
    raw.mkdir(parents=True)
    (raw / "b1.parquet").write_bytes(b"1")
    before = build_state.raw_fingerprint(tmp_path / "raw")
    (raw / ".b2.parquet.partial").write_bytes(b"2")
    assert build_state.raw_fingerprint(tmp_path / "raw") == before
    (raw / "b2.parquet").write_bytes(b"2")
    assert build_state.raw_fingerprint(tmp_path / "raw") != before


def test_dbt_project_fingerprint_follows_sql_not_dbt_output(tmp_path):
    project = tmp_path / "dbt_project"
    (project / "models").mkdir(parents=True)
    (project / "target").mkdir()
    (project / "models" / "m.sql").write_text("select 1")
    before = build_state.dbt_project_fingerprint(project)
    (project / "target" / "manifest.json").write_text(json.dumps({}))
    assert build_state.dbt_project_fingerprint(project) == before
    (project / "models" / "m.sql").write_text("select 2")
    assert build_state.dbt_project_fingerprint(project) != before
    # only the top-level output folders are left out: a models folder of that name still counts
    edited = build_state.dbt_project_fingerprint(project)
    (project / "models" / "target").mkdir()
    (project / "models" / "target" / "deep.sql").write_text("select 3")
    assert build_state.dbt_project_fingerprint(project) != edited
    # a link to nothing (an editor's lock file, say) is not a file to hash
    deep = build_state.dbt_project_fingerprint(project)
    (project / "models" / "lock.sql").symlink_to(project / "missing.sql")
    assert build_state.dbt_project_fingerprint(project) == deep


def test_decide_names_the_unchanged_raw_objects_only_when_raw_alone_changed(tmp_path):
    settings = Settings(source="demo", warehouse_dir=tmp_path / "warehouse")
    for raw_object in ("salesforce/Task", "salesforce/Lead"):
        (settings.raw_dir / raw_object).mkdir(parents=True)
        (settings.raw_dir / raw_object / "b1.parquet").write_bytes(b"1")
    settings.warehouse_path.write_bytes(b"working")
    settings.published_file.write_bytes(b"published")
    before = build_state.raw_object_fingerprints(settings.raw_dir)
    build_state.mark_building(settings, "run-1", build_state.build_inputs(settings, before), before)
    assert build_state.mark_published(settings, "run-1")

    (settings.raw_dir / "salesforce" / "Task" / "b2.parquet").write_bytes(b"2")  # a new batch
    (settings.raw_dir / "hubspot" / "contacts").mkdir(parents=True)  # an object seen for the first time
    (settings.raw_dir / "hubspot" / "contacts" / "b1.parquet").write_bytes(b"3")
    now = build_state.raw_object_fingerprints(settings.raw_dir)
    inputs = build_state.build_inputs(settings, now)

    decision = build_state.decide(settings, inputs, raw_objects=now)
    assert decision.build and decision.unchanged_raw == {"salesforce/Lead"}
    # anything besides raw batches may have changed: every node rebuilds
    assert not build_state.decide(settings, {**inputs, "code": "other"}, raw_objects=now).unchanged_raw
    assert not build_state.decide(settings, inputs, full_refresh=True, raw_objects=now).unchanged_raw
    assert not build_state.decide(settings, inputs).unchanged_raw  # the caller gave no fingerprints
    settings.warehouse_path.write_bytes(b"edited by hand")
    assert not build_state.decide(settings, inputs, raw_objects=now).unchanged_raw
    settings.warehouse_path.write_bytes(b"working")
    build_state.mark_building(settings, "run-2", inputs, now)  # a build that did not publish
    assert not build_state.decide(settings, inputs, raw_objects=now).unchanged_raw
