"""Key tests with `changed_rows` (dbt_project/macros/tests/changed_rows.sql): after a build whose
key test passed, the next one checks only the rows written since, and still fails on a repeated
key or a null among them; a failing test keeps its mark, a full build forgets it.

The real dbt project on a small demo warehouse, built once for the module; each test breaks a copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestration.alignment import Alignment
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows, scalar
from orchestration.landing import ensure_every_object_has_a_schema
from orchestration.settings import Settings
from orchestration.sources import SYSTEMS, extractor_for

EMAIL_EVENTS = "staging.stg_hubspot__email_events"
TOUCHPOINTS = "intermediate.int_touchpoints"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(warehouse_dir=Path(tmp_path_factory.mktemp("changed_rows")) / "warehouse", demo_people=300)
    alignment = Alignment()
    extractor_for("demo")(settings, alignment, SYSTEMS)
    ensure_every_object_has_a_schema(connect(), settings.raw_dir, "demo")
    run_dbt(settings, alignment, "build", "--select", "+int_touchpoints", "--exclude-resource-type", "unit_test")
    return settings


def _copy(built: Settings, tmp_path: Path) -> Settings:
    copy = Settings(warehouse_dir=tmp_path / "warehouse")
    copy.warehouse_dir.mkdir()
    shutil.copy(built.warehouse_path, copy.warehouse_path)
    shutil.copytree(built.raw_dir, copy.raw_dir)
    return copy


def _marks(settings: Settings) -> dict[str, str | None]:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        return dict(rows(con, "select model, mark from main.key_tests_passed"))
    finally:
        con.close()


def _key_test(settings: Settings, model: str) -> tuple[str, str]:
    """Run the model's key test: (its status, its compiled SQL)."""
    run_dbt(settings, Alignment(), "test", "--select", f"test_name:key_and_not_null,{model}", check=False)
    results = json.loads((settings.warehouse_dir / "dbt_target" / "run_results.json").read_text())
    [result] = [result for result in results["results"] if result["unique_id"].startswith("test.")]
    return result["status"], result["compiled_code"]


def test_a_passing_build_marks_the_rows_its_key_tests_passed_through(built: Settings) -> None:
    marks = _marks(built)
    con = connect(built.warehouse_path, read_only=True)
    try:
        assert marks["staging.stg_hubspot__email_events"] == scalar(con, f"select max(_batch_id) from {EMAIL_EVENTS}")
        assert marks["intermediate.int_touchpoints"] == str(
            scalar(con, f"select coalesce(max(build), 0) from {TOUCHPOINTS}__state_replaced"))
    finally:
        con.close()
    # a staging model that re-writes old winners keeps its whole-table test: no mark
    assert "staging.stg_salesforce__tasks" not in marks


def test_a_repeated_key_in_a_later_batch_fails_and_keeps_the_mark(built: Settings, tmp_path: Path) -> None:
    broken = _copy(built, tmp_path)
    mark = _marks(broken)["staging.stg_hubspot__email_events"]
    con = connect(broken.warehouse_path)
    # a later batch's copy of a key already built: the repeated key has a copy among the changed rows
    con.execute(f"insert into {EMAIL_EVENTS} select * replace ('~later' as _batch_id) from {EMAIL_EVENTS} limit 1")
    con.close()
    status, compiled = _key_test(broken, "stg_hubspot__email_events")
    assert f"_batch_id > '{mark}'" in compiled  # only the changed rows were read
    assert status == "fail"
    assert _marks(broken)["staging.stg_hubspot__email_events"] == mark


def test_a_null_in_a_replaced_partition_fails(built: Settings, tmp_path: Path) -> None:
    broken = _copy(built, tmp_path)
    mark = _marks(broken)["intermediate.int_touchpoints"]
    con = connect(broken.warehouse_path)
    person = scalar(con, f"select min(person_id) from {TOUCHPOINTS}")
    # a build replacing one person's touchpoints, one of them without a channel
    build = scalar(con, f"select max(build) + 1 from {TOUCHPOINTS}__state_replaced")
    con.execute(f"update {TOUCHPOINTS} set channel = null where person_id = ?", [person])
    con.execute(f"insert into {TOUCHPOINTS}__state_replaced values (?, ?)", [person, build])
    con.close()
    status, compiled = _key_test(broken, "int_touchpoints")
    assert f'"int_touchpoints__state_replaced" where build > {mark})' in compiled  # only the partitions replaced since
    assert status == "fail"


def test_a_repeated_key_across_partitions_fails(built: Settings, tmp_path: Path) -> None:
    """The changed rows' keys are looked up in the whole table: a copy in an unchanged partition counts."""
    broken = _copy(built, tmp_path)
    con = connect(broken.warehouse_path)
    first, second = [person for (person,) in rows(
        con, f"select distinct person_id from {TOUCHPOINTS} order by person_id limit 2")]
    build = scalar(con, f"select max(build) + 1 from {TOUCHPOINTS}__state_replaced")
    con.execute(f"insert into {TOUCHPOINTS} select * replace (? as person_id) from {TOUCHPOINTS} "
                f"where person_id = ? limit 1", [second, first])
    con.execute(f"insert into {TOUCHPOINTS}__state_replaced values (?, ?)", [second, build])
    con.close()
    status, _ = _key_test(broken, "int_touchpoints")
    assert status == "fail"


def test_a_full_build_forgets_the_mark_and_the_test_reads_every_row(built: Settings, tmp_path: Path) -> None:
    rebuilt = _copy(built, tmp_path)
    run_dbt(rebuilt, Alignment(), "run", "--select", "stg_hubspot__email_events", "--full-refresh")
    assert "staging.stg_hubspot__email_events" not in _marks(rebuilt)
    con = connect(rebuilt.warehouse_path)
    # an old row broken: with no mark the test reads it
    con.execute(f"update {EMAIL_EVENTS} set email_event_id = null where rowid = 0")
    con.close()
    status, compiled = _key_test(rebuilt, "stg_hubspot__email_events")
    assert "_batch_id >" not in compiled
    assert status == "fail"
