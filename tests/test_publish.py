"""Publishing published.duckdb: only the published tables, atomic swap, refusal on a failed gate."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

import orchestration.publish as publish_module
from expectations import CheckResult, GateResult
from orchestration.publish import PUBLISHED_TABLES, GateVerdict, PublishError, is_pii_column, publish

PASSED = GateResult(success=True, checks=[
    CheckResult(name="key_unique", table="fct_lead_funnel", blocking=True, success=True, observed=0),
], checked_through={"fct_lead_funnel": 7, "int_touchpoints": 5, "mql_rule": "rule"})
FAILED = GateResult(success=False, checks=[
    CheckResult(name="weights_sum_to_1", table="fct_attribution", blocking=True, success=False, observed=0.1,
                examples=[{"opportunity_id": "o1"}]),
])


def build_warehouse(path: Path, people: int) -> Path:
    """A working file with every published table in `marts`, PII columns and non-published tables too."""
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts; create schema if not exists intermediate").fetchall()
    con.execute(f"""
        create or replace table marts.fct_lead_funnel as
        select 'p' || i as person_id, 'p' || i || '@example.com' as email, 'Ann' as first_name,
               'Lee' as last_name, '+1 555 0100' as phone, timestamp '2024-01-01' as lead_at, 'email' as first_channel
        from range({people}) t(i)
    """).fetchall()
    for table in PUBLISHED_TABLES:
        if table not in ("fct_lead_funnel", "publish_log"):
            con.execute(f"create or replace table marts.{table} as "
                        f"select 'c1' as campaign_id, 'Spring webinar' as campaign_name, 0.5 as win_rate").fetchall()
    con.execute("create or replace table marts.stg_leftover as select 1 as x").fetchall()
    con.execute("create or replace table intermediate.int_persons as select 'a@b.c' as email").fetchall()
    con.close()
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(path: Path) -> dict[str, list[str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        found: dict[str, list[str]] = {}
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall():
            found.setdefault(f"{schema}.{table}", []).append(column)
        return found
    finally:
        con.close()


def log_rows(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select run_id, definitions_version, row_counts, gate_result from publish_log "
                           "order by published_at").fetchall()
    finally:
        con.close()


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return build_warehouse(tmp_path / "closedloop.duckdb", 3), tmp_path / "published" / "published.duckdb"


def test_publish_holds_only_published_tables_without_pii(paths):
    warehouse, published = paths
    result = publish(warehouse, published, run_id="run-1", definitions_version="abc123", gate=PASSED)
    found = tables(published)
    assert set(found) == {f"main.{t}" for t in PUBLISHED_TABLES}
    assert found["main.fct_lead_funnel"] == ["person_id", "lead_at", "first_channel"]
    assert "campaign_name" in found["main.mart_campaign_roi"]  # business names stay
    assert result.dropped_pii_columns == {"fct_lead_funnel": ["email", "first_name", "last_name", "phone"]}
    assert not [f"{t}.{c}" for t, columns in found.items() for c in columns if is_pii_column(c)]
    assert result.row_counts["fct_lead_funnel"] == 3 and set(result.row_counts) == set(PUBLISHED_TABLES[:-1])
    [(run_id, version, counts, gate)] = log_rows(published)
    assert (run_id, version) == ("run-1", "abc123")
    assert json.loads(counts) == result.row_counts
    # the gate's summary, with how far its checks of changed rows went (for the next night's gate)
    assert json.loads(gate) == {"success": True, "checks": 1, "failed": [], "warnings": [],
                                "checked_through": {"fct_lead_funnel": 7, "int_touchpoints": 5, "mql_rule": "rule"}}
    assert sorted(p.name for p in published.parent.iterdir()) == ["published.duckdb"]  # no temp file left


def test_publish_log_is_carried_over(paths):
    warehouse, published = paths
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    build_warehouse(warehouse, 5)
    verdict = GateVerdict.from_dict(json.loads(json.dumps(PASSED.to_dict())))  # as the Dagster asset reads it
    publish(warehouse, published, run_id="run-2", definitions_version="v2", gate=verdict)
    logged = log_rows(published)
    assert [(r[0], r[1]) for r in logged] == [("run-1", "v1"), ("run-2", "v2")]
    assert json.loads(logged[-1][2])["fct_lead_funnel"] == 5


def test_failed_gate_leaves_published_file_byte_for_byte(paths):
    warehouse, published = paths
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    before = sha256(published)
    build_warehouse(warehouse, 7)
    with pytest.raises(PublishError, match="fct_attribution.weights_sum_to_1"):
        publish(warehouse, published, run_id="run-2", definitions_version="v1", gate=FAILED)
    with pytest.raises(PublishError):
        publish(warehouse, published, run_id="run-3", definitions_version="v1",
                gate=GateVerdict.from_dict(FAILED.to_dict()))
    assert sha256(published) == before
    assert sorted(p.name for p in published.parent.iterdir()) == ["published.duckdb"]


def test_missing_table_fails_without_touching_published_file(paths):
    warehouse, published = paths
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    before = sha256(published)
    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.mart_lead_quality").fetchall()
    con.close()
    with pytest.raises(PublishError, match="mart_lead_quality"):
        publish(warehouse, published, run_id="run-2", definitions_version="v1", gate=PASSED)
    assert sha256(published) == before
    assert sorted(p.name for p in published.parent.iterdir()) == ["published.duckdb"]


READER = textwrap.dedent("""
    import json, sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    def read():
        people = con.execute("select count(*) from fct_lead_funnel").fetchall()[0][0]
        runs = [r[0] for r in con.execute("select run_id from publish_log order by published_at").fetchall()]
        return {"people": people, "runs": runs}
    print(json.dumps(read()), flush=True)
    for line in sys.stdin:
        print(json.dumps(read()), flush=True)
""")


def test_open_reader_keeps_old_data_and_new_connection_sees_new(paths, monkeypatch):
    warehouse, published = paths
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    # a BI client in its own process, holding a read-only connection across the nightly run
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def ask() -> dict:
        reader.stdin.write("read\n")
        reader.stdin.flush()
        return json.loads(reader.stdout.readline())

    try:
        old = {"people": 3, "runs": ["run-1"]}
        assert json.loads(reader.stdout.readline()) == old
        build_warehouse(warehouse, 4)
        during: list[dict] = []
        real_replace = os.replace

        def replace_while_reading(source, target):
            during.append(ask())  # new file built and verified aside, not yet swapped in
            real_replace(source, target)
            during.append(ask())  # swapped: the open connection still reads its own (old) file

        monkeypatch.setattr(publish_module.os, "replace", replace_while_reading)
        publish(warehouse, published, run_id="run-2", definitions_version="v1", gate=PASSED)
        monkeypatch.undo()
        assert during == [old, old]
        assert ask() == old
        con = duckdb.connect(str(published), read_only=True)  # the next connection sees the new data
        try:
            assert con.execute("select count(*) from fct_lead_funnel").fetchall() == [(4,)]
            assert con.execute("select run_id from publish_log order by published_at").fetchall() == [
                ("run-1",), ("run-2",)]
        finally:
            con.close()
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert reader.returncode == 0


@pytest.mark.parametrize("column", ["email", "Email", "contact_email", "first_name", "firstname", "lastname",
                                    "last_name", "full_name", "name", "phone", "mobile_phone", "owner_name",
                                    "street_address", "recipient"])
def test_pii_columns_are_recognised(column):
    assert is_pii_column(column)


@pytest.mark.parametrize("column", ["campaign_name", "person_id", "owner_id", "lead_source", "first_channel",
                                    "model", "touch_type", "disqualification_reason", "won_amount"])
def test_business_columns_are_not_pii(column):
    assert not is_pii_column(column)


# --- the logged tables: only the partitions replaced since the last publish ---


def log_replaced(warehouse: Path, table: str, partitions: list[str | None]) -> None:
    """What dbt's replace_partitions strategy logs for a build of `table` (None: every partition)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"create table if not exists marts.{table}__state_replaced (partition_key varchar, build bigint)")
        build = con.execute(f"select coalesce(max(build) + 1, 1) from marts.{table}__state_replaced").fetchall()[0][0]
        con.executemany(f"insert into marts.{table}__state_replaced values (?, ?)", [[p, build] for p in partitions])
    finally:
        con.close()


def edit_funnel(warehouse: Path, sql: str) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(sql).fetchall()
    finally:
        con.close()


def funnel_rows(path: Path, relation: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(con.execute(f"select person_id, lead_at, first_channel from {relation}").fetchall())
    finally:
        con.close()


def test_a_logged_table_takes_only_the_partitions_replaced_since_the_last_publish(paths):
    warehouse, published = paths
    log_replaced(warehouse, "fct_lead_funnel", [None])  # its full build
    first = publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    assert first.copied["fct_lead_funnel"] == "whole"
    # a night: p1 edited, p2 deleted (its tombstone logged), p3 new; p0 untouched
    edit_funnel(warehouse, "update marts.fct_lead_funnel set first_channel = 'paid_search' where person_id = 'p1';"
                           "delete from marts.fct_lead_funnel where person_id = 'p2';"
                           "insert into marts.fct_lead_funnel select 'p3', 'x@y.z', 'Bo', 'Ng', null, "
                           "timestamp '2024-02-01', 'organic_search'")
    log_replaced(warehouse, "fct_lead_funnel", ["p1", "p2", "p3"])

    second = publish(warehouse, published, run_id="run-2", definitions_version="v1", gate=PASSED)

    assert second.copied["fct_lead_funnel"] == "3 partitions"
    assert second.copied["mart_campaign_roi"] == "whole"  # the small marts are copied whole
    assert funnel_rows(published, "fct_lead_funnel") == funnel_rows(warehouse, "marts.fct_lead_funnel")
    assert funnel_rows(published, "fct_lead_funnel")[1] == ("p1", dt.datetime(2024, 1, 1), "paid_search")
    assert set(tables(published)) == {f"main.{t}" for t in PUBLISHED_TABLES}
    assert "main.fct_lead_funnel" in tables(published) and "email" not in tables(published)["main.fct_lead_funnel"]
    assert [row[0] for row in log_rows(published)] == ["run-1", "run-2"]
    # a night that replaced nothing copies nothing, and the next one only its own partitions
    assert publish(warehouse, published, run_id="run-3", definitions_version="v1",
                   gate=PASSED).copied["fct_lead_funnel"] == "0 partitions"
    edit_funnel(warehouse, "update marts.fct_lead_funnel set first_channel = 'events' where person_id = 'p0'")
    log_replaced(warehouse, "fct_lead_funnel", ["p0"])
    assert publish(warehouse, published, run_id="run-4", definitions_version="v1",
                   gate=PASSED).copied["fct_lead_funnel"] == "1 partitions"
    assert funnel_rows(published, "fct_lead_funnel") == funnel_rows(warehouse, "marts.fct_lead_funnel")


def row_groups(path: Path, table: str) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"select count(distinct row_group_id) from pragma_storage_info('{table}')").fetchall()[0][0]
    finally:
        con.close()


def test_a_table_copied_by_partitions_is_compacted_once_its_small_row_groups_pile_up(paths, monkeypatch):
    monkeypatch.setattr(publish_module, "COMPACT_EXTRA_ROW_GROUPS", 2)
    warehouse, published = build_warehouse(paths[0], 10), paths[1]
    log_replaced(warehouse, "fct_lead_funnel", [None])
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    nights = []
    for night in range(2, 7):
        # another person each night (a row group whose rows are all deleted is dropped even without vacuum)
        edit_funnel(warehouse, f"update marts.fct_lead_funnel set first_channel = 'night' where person_id = 'p{night}'")
        log_replaced(warehouse, "fct_lead_funnel", [f"p{night}"])
        result = publish(warehouse, published, run_id=f"run-{night}", definitions_version="v1", gate=PASSED)
        nights.append((result.copied["fct_lead_funnel"], row_groups(published, "fct_lead_funnel")))
        assert funnel_rows(published, "fct_lead_funnel") == funnel_rows(warehouse, "marts.fct_lead_funnel")

    # no vacuum at the partition copies' checkpoints: each night's rows land in a row group of their
    # own, until the table holds more than the one row group it needs + 2 and is copied whole
    assert nights == [("1 partitions", 2), ("1 partitions", 3), ("1 partitions", 4), ("whole (compacted)", 1),
                      ("1 partitions", 2)]


def test_a_full_build_since_the_last_publish_copies_the_table_whole(paths):
    warehouse, published = paths
    log_replaced(warehouse, "fct_lead_funnel", [None])
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    # rebuilt from scratch, as many rows but one value changed: its log says "every partition"
    build_warehouse(warehouse, 3)
    edit_funnel(warehouse, "update marts.fct_lead_funnel set first_channel = 'events' where person_id = 'p0'")
    log_replaced(warehouse, "fct_lead_funnel", [None])

    result = publish(warehouse, published, run_id="run-2", definitions_version="v1", gate=PASSED)

    assert result.copied["fct_lead_funnel"] == "whole"
    assert funnel_rows(published, "fct_lead_funnel") == funnel_rows(warehouse, "marts.fct_lead_funnel")


def test_partitions_that_do_not_match_the_working_table_fall_back_to_a_whole_copy(paths):
    warehouse, published = paths
    log_replaced(warehouse, "fct_lead_funnel", [None])
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    # a change the log does not name: copying only p1 would leave the published table one row long
    edit_funnel(warehouse, "delete from marts.fct_lead_funnel where person_id = 'p2'")
    log_replaced(warehouse, "fct_lead_funnel", ["p1"])

    result = publish(warehouse, published, run_id="run-2", definitions_version="v1", gate=PASSED)

    assert result.copied["fct_lead_funnel"] == "whole"
    assert funnel_rows(published, "fct_lead_funnel") == funnel_rows(warehouse, "marts.fct_lead_funnel")
    assert [row[0] for row in log_rows(published)] == ["run-1", "run-2"]


def test_a_published_file_from_before_source_builds_is_copied_whole_and_keeps_its_log(paths):
    warehouse, published = paths
    log_replaced(warehouse, "fct_lead_funnel", [None])
    publish(warehouse, published, run_id="run-1", definitions_version="v1", gate=PASSED)
    con = duckdb.connect(str(published))
    con.execute("alter table publish_log drop column source_builds").fetchall()  # as published before it
    con.close()
    log_replaced(warehouse, "fct_lead_funnel", ["p1"])

    result = publish(warehouse, published, run_id="run-2", definitions_version="v1", gate=PASSED)

    assert result.copied["fct_lead_funnel"] == "whole"
    con = duckdb.connect(str(published), read_only=True)
    try:
        logged = con.execute("select run_id, source_builds from publish_log order by published_at").fetchall()
    finally:
        con.close()
    assert logged[0] == ("run-1", None)
    assert logged[1][0] == "run-2" and json.loads(logged[1][1]) == {"fct_lead_funnel": 2}
