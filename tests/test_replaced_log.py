"""The identity map's replaced-partitions log, and the models downstream that follow it.

int_person_keys logs, build by build, the people it replaced (before and after a merge or a split);
int_touchpoints and fct_attribution recompute the people logged since the build they last read
(tests/test_incremental.py proves the results equal a full refresh). Here: what the log holds, that
a full build logs "every person", and that a model which last read the log before the builds it
still keeps rebuilds every person instead of trusting a partial history.
"""

from __future__ import annotations

from pathlib import Path

from test_incremental import STEPS, _land

from orchestration.alignment import Alignment
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows
from orchestration.landing import ensure_every_object_has_a_schema
from orchestration.settings import Settings

TOUCHPOINTS_SQL = Path("closedloop", "models", "intermediate", "touchpoints", "int_touchpoints.sql")


def _log(settings: Settings) -> list[tuple]:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        return rows(con, "select partition_key, build from intermediate.int_person_keys__state_replaced "
                         "order by build, partition_key")
    finally:
        con.close()


def _people(settings: Settings) -> dict[str, str]:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        return dict(rows(con, "select record_type || ':' || record_id, person_id from intermediate.int_person_keys"))
    finally:
        con.close()


def _touchpoints_followed_the_log(settings: Settings) -> bool:
    """Whether the last int_touchpoints build took the log's people (else it rebuilt every person)."""
    compiled = (settings.warehouse_dir / "dbt_target" / "compiled" / TOUCHPOINTS_SQL).read_text()
    return "changes_identity_people" in compiled


def test_the_identity_log_lists_replaced_people_and_keeps_only_recent_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOSEDLOOP_REPLACED_LOG_BUILDS", "2")
    settings, alignment = Settings(warehouse_dir=tmp_path / "warehouse"), Alignment()
    con = connect()
    ensure_every_object_has_a_schema(con, settings.raw_dir, "test")
    con.close()
    models_only = ("--exclude-resource-type", "test", "unit_test", "--threads", "4")
    to_touchpoints = ("build", "-s", "+int_touchpoints", *models_only)
    identity_only = ("build", "-s", "+int_person_keys", *models_only)

    # a first build is a full build: one row, every person
    _land(settings, STEPS[0])
    run_dbt(settings, alignment, *to_touchpoints)
    ((everyone, first_build),) = _log(settings)
    assert everyone is None
    before = _people(settings)

    # step 2 merges lead 00Q_MERGE with HubSpot contact 504: both people before, the merged one after
    _land(settings, STEPS[1])
    run_dbt(settings, alignment, *to_touchpoints)
    after = _people(settings)
    merged = after["lead:00Q_MERGE"]
    assert before["lead:00Q_MERGE"] != before["hubspot_contact:504"] and after["hubspot_contact:504"] == merged
    second = {key: build for key, build in _log(settings) if build > first_build}
    assert {before["lead:00Q_MERGE"], before["hubspot_contact:504"], merged} <= set(second)
    assert len(set(second.values())) == 1 and len(second) < len(set(before.values()) | set(after.values()))
    assert _touchpoints_followed_the_log(settings)

    # two more identity builds, int_touchpoints not built: the log keeps the last two builds and a
    # null row at the oldest of them, which stands for the builds it forgot
    _land(settings, STEPS[2])
    run_dbt(settings, alignment, *identity_only)
    _land(settings, STEPS[3])
    run_dbt(settings, alignment, *identity_only)
    log = _log(settings)
    builds = sorted({build for _, build in log})
    assert len(builds) == 2 and builds[0] > second[merged]
    assert (None, builds[0]) in log

    # int_touchpoints last read the log at step 2's build, which the log no longer holds: every person
    run_dbt(settings, alignment, *to_touchpoints)
    assert not _touchpoints_followed_the_log(settings)

    # and from there on it follows the log again
    run_dbt(settings, alignment, *to_touchpoints)
    assert _touchpoints_followed_the_log(settings)
