"""Publish: build `published.duckdb` aside, verify it, swap it in with one atomic rename (SPEC 4).

Write-audit-publish: the quality gate has validated the working file's marts; this copies only
the published tables (never a PII column) into a new file beside the target, carries over the
publish_log and appends this run, verifies the copy, and `os.replace()`s it onto the published
path. The two large tables, which dbt builds incrementally and whose replaced partitions it logs
(fct_lead_funnel by person, fct_attribution by opportunity), are not copied whole every night:
the new file starts as a copy of the published one and takes just the partitions replaced since
the builds the last publish copied (publish_log.source_builds); the small marts are copied whole.
Anything that makes that unsafe (no previous file or marks, a full build in between, builds the
log no longer holds, other columns) copies the table whole, and so does a copy whose partitions
do not check against the working file; a table copied by partitions night after night is copied
whole, compact, once its deleted rows or small row groups pile up (COMPACT_DEAD_SHARE). BI
readers holding the old file open keep reading it (its inode lives on while open); their next
connection sees the new file. A failed gate or any error leaves the published file byte for byte
as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb

from orchestration.duck import quote_identifier as qi
from orchestration.duck import quote_literal as ql

PUBLISHED_TABLES = (
    "fct_lead_funnel",
    "fct_attribution",
    "mart_funnel_conversion",
    "mart_speed_to_lead",
    "mart_pipeline_velocity",
    "mart_attribution_by_channel",
    "mart_campaign_roi",
    "mart_lead_quality",
    "mart_content_by_stage",
    "mart_discount_friction",
    "mart_alignment_scorecard",
    "publish_log",
)
DATA_TABLES = tuple(table for table in PUBLISHED_TABLES if table != "publish_log")
# Published tables dbt builds with replaced_log=true: the partition key of each. Their log in the
# working file is `<table>__state_replaced` (partition_key, build; a null partition_key: every one).
LOGGED_TABLES = {"fct_lead_funnel": "person_id", "fct_attribution": "opportunity_id"}
REPLACED_LOG_SUFFIX = "__state_replaced"
# A logged table copied by partitions keeps its replaced rows as deleted rows and gains a small row
# group each night: DuckDB's checkpoint would vacuum them, rewriting the table's tail row groups
# every night (0.45 s of a 0.6 s partition copy at 1M people), so publish turns that off and instead
# copies the table whole, compact, once the dead rows pass a quarter of the live ones (and a row
# group's worth) or it holds COMPACT_EXTRA_ROW_GROUPS more row groups than its rows need.
ROW_GROUP_SIZE = 122_880  # DuckDB's rows per row group
COMPACT_DEAD_SHARE = 0.25
COMPACT_EXTRA_ROW_GROUPS = 16
SOURCE_SCHEMA = "marts"
# Column names that carry personal data: email addresses, people's names, phone numbers,
# postal addresses. Business names (campaign_name, the model names) are not matched.
PII_COLUMN = re.compile(
    r"(^|_)(e_?mail|email_address|recipient|phone|mobile|fax|street|address)($|_)"
    r"|(^|_)(first|last|full|middle|given|family|sur|contact|person|lead|owner|user)_?name($|_)"
    r"|^(first|last|full)?name$|^(firstname|lastname)$",
    re.IGNORECASE,
)
PUBLISH_LOG_DDL = """
create table publish_log (
    run_id varchar not null,
    published_at timestamp not null,     -- UTC
    definitions_version varchar not null, -- hash of alignment.yml
    row_counts varchar not null,         -- JSON: {"table": rows}
    gate_result varchar not null,        -- JSON: {"success", "checks", "failed", "warnings", "checked_through"}
    source_builds varchar                -- JSON: {"table": the last build of its replaced-partitions log copied}
)
"""


class PublishError(RuntimeError):
    """The publish was refused or failed; the published file was not touched."""


class _GateLike(Protocol):
    success: bool

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class GateVerdict:
    """What publish needs of a gate run: pass/fail and the failing checks (from GateResult.to_dict())."""

    success: bool
    checks: int = 0
    failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked_through: dict[str, Any] = field(default_factory=dict)  # GateResult.checked_through

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateVerdict:
        checks = data.get("checks", [])
        through = dict(data.get("checked_through") or {})
        if isinstance(checks, int):  # already a summary
            return cls(bool(data["success"]), checks, list(data.get("failed", [])), list(data.get("warnings", [])),
                       through)

        def names(blocking: bool) -> list[str]:
            return [f"{c['table']}.{c['name']}" for c in checks if not c["success"] and bool(c["blocking"]) == blocking]

        return cls(bool(data["success"]), len(checks), names(True), names(False), through)

    @classmethod
    def of(cls, gate: GateVerdict | _GateLike) -> GateVerdict:
        return gate if isinstance(gate, GateVerdict) else cls.from_dict(gate.to_dict())

    def summary(self) -> dict[str, Any]:
        return {"success": self.success, "checks": self.checks, "failed": self.failed, "warnings": self.warnings,
                "checked_through": self.checked_through}


@dataclass(frozen=True)
class PublishResult:
    published_path: Path
    run_id: str
    published_at: dt.datetime
    definitions_version: str
    row_counts: dict[str, int]
    dropped_pii_columns: dict[str, list[str]]
    # per table: "whole", or "<n> partitions" when only the partitions replaced since the last publish were copied
    copied: dict[str, str] = field(default_factory=dict)


def is_pii_column(column: str) -> bool:
    return bool(PII_COLUMN.search(column))


def publish(
    warehouse_path: str | Path,
    published_path: str | Path,
    *,
    run_id: str,
    definitions_version: str,
    gate: GateVerdict | _GateLike,
) -> PublishResult:
    """Copy the published tables of `warehouse_path` into a new file and swap it onto `published_path`.

    Raises PublishError (published file unchanged) when the gate failed, a table is missing,
    or the new file does not verify.
    """
    verdict = GateVerdict.of(gate)
    if not verdict.success:
        raise PublishError(
            "Quality gate failed, not publishing (published file unchanged). Failing expectations: "
            + (", ".join(verdict.failed) or "(none listed)")
        )
    warehouse_path, published_path = Path(warehouse_path), Path(published_path)
    published_path.parent.mkdir(parents=True, exist_ok=True)
    safe_run_id = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    staging = published_path.with_name(f"{published_path.name}.{safe_run_id}.tmp")
    _remove_staging(staging)
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if not warehouse_path.exists():
        raise PublishError(f"{warehouse_path}: working DuckDB file not found; nothing to publish")
    try:
        plan = _partition_plan(warehouse_path, published_path)
        try:
            built = _build(warehouse_path, published_path, staging, plan, run_id=run_id, published_at=published_at,
                           definitions_version=definitions_version, verdict=verdict)
        except _CopyDiverged:  # the partitions copied do not match the working file: copy everything whole
            _remove_staging(staging)
            built = _build(warehouse_path, published_path, staging, {}, run_id=run_id, published_at=published_at,
                           definitions_version=definitions_version, verdict=verdict)
        row_counts, dropped, copied = built
        _verify(staging, row_counts, run_id)
        _fsync(staging)
        os.replace(staging, published_path)  # atomic on POSIX: readers see the old or the new file, whole
        _fsync(published_path.parent)
    except BaseException:
        _remove_staging(staging)
        raise
    return PublishResult(published_path, run_id, published_at, definitions_version, row_counts, dropped, copied)


def _remove_staging(staging: Path) -> None:
    """The half-written new file of a publish, and its WAL."""
    for leftover in (staging, staging.with_name(staging.name + ".wal")):
        leftover.unlink(missing_ok=True)


class _CopyDiverged(Exception):
    """Partitions copied into the previous file do not match the working file."""


@dataclass(frozen=True)
class _LoggedCopy:
    """A logged table's copy: the partitions its log lists after `after_build` (None: copy it whole),
    through `through_build` (its log's last build now, recorded in publish_log.source_builds)."""

    after_build: int | None
    through_build: int | None


def _previous_source_builds(published_path: Path) -> dict[str, int]:
    """publish_log.source_builds of the published file's last publish ({} when none is recorded)."""
    if not published_path.exists():
        return {}
    con = duckdb.connect(str(published_path), read_only=True)
    try:
        has_column = con.execute("select count(*) from information_schema.columns where table_name = 'publish_log' "
                                 "and column_name = 'source_builds'").fetchall()[0][0]
        if not has_column:
            return {}
        latest = con.execute("select source_builds from publish_log order by published_at desc limit 1").fetchall()
    finally:
        con.close()
    if not latest or latest[0][0] is None:
        return {}
    return {str(table): int(build) for table, build in json.loads(latest[0][0]).items() if build is not None}


def _partition_plan(warehouse_path: Path, published_path: Path) -> dict[str, _LoggedCopy]:
    """For each logged table: the builds of its log to copy the partitions of, or whole."""
    previous = _previous_source_builds(published_path)
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        plan: dict[str, _LoggedCopy] = {}
        for table in LOGGED_TABLES:
            log = f"{SOURCE_SCHEMA}.{qi(table + REPLACED_LOG_SUFFIX)}"
            exists = con.execute("select count(*) from information_schema.tables where table_schema = ? "
                                 "and table_name = ?", [SOURCE_SCHEMA, table + REPLACED_LOG_SUFFIX]).fetchall()[0][0]
            if not exists:
                continue  # not logged: copied whole, nothing to record
            after = previous.get(table)
            through, listed = replaced_since(con, log, after)
            plan[table] = _LoggedCopy(after if listed else None, through)
        return plan
    finally:
        con.close()


def replaced_since(con: duckdb.DuckDBPyConnection, log: str, mark: int | None) -> tuple[int | None, bool]:
    """A replaced-partitions log (`<table>__state_replaced`, qualified) read by a reader that last read
    it through build `mark`: its last build now (None when empty), and whether the partitions it
    lists after `mark` are every one replaced since. Not without a mark, when the log's builds end
    before it, or when a null partition follows it (every partition: a full build, or builds the
    log no longer holds)."""
    through = con.execute(f"select max(build) from {log}").fetchall()[0][0]
    if mark is None or through is None or through < mark:
        return through, False
    every = con.execute(f"select count(*) from {log} where partition_key is null and build > ?",
                        [mark]).fetchall()[0][0]
    return through, not every


def _build(warehouse_path: Path, published_path: Path, staging: Path, plan: dict[str, _LoggedCopy], *,
           run_id: str, published_at: dt.datetime, definitions_version: str, verdict: GateVerdict
           ) -> tuple[dict[str, int], dict[str, list[str]], dict[str, str]]:
    by_partition = {table: copy for table, copy in plan.items() if copy.after_build is not None}
    if by_partition:
        shutil.copyfile(published_path, staging)  # the unchanged partitions, as published last time
    con = duckdb.connect(str(staging))
    try:
        con.execute("set timezone = 'UTC'").fetchall()
        if by_partition:
            con.execute("set max_vacuum_tasks = 0").fetchall()  # see COMPACT_DEAD_SHARE
        con.execute(f"attach {ql(str(warehouse_path))} as working (read_only)").fetchall()
        columns = _columns(con, "working", SOURCE_SCHEMA)
        missing = [table for table in DATA_TABLES if table not in columns]
        if missing:
            raise PublishError(f"{warehouse_path}: {SOURCE_SCHEMA}.{', '.join(missing)} not built; nothing published")
        published_columns = _columns(con, _current_database(con), "main")
        row_counts: dict[str, int] = {}
        dropped: dict[str, list[str]] = {}
        copied: dict[str, str] = {}
        for table in DATA_TABLES:
            kept = [c for c in columns[table] if not is_pii_column(c)]
            if len(kept) < len(columns[table]):
                dropped[table] = [c for c in columns[table] if is_pii_column(c)]
            source = f"working.{SOURCE_SCHEMA}.{qi(table)}"
            partition_copy = table in by_partition and published_columns.get(table) == kept
            compact = partition_copy and _needs_compaction(con, table)
            if partition_copy and not compact:
                copied[table] = _copy_partitions(con, table, kept, by_partition[table].after_build)
            else:
                con.execute(f"drop table if exists main.{qi(table)}").fetchall()
                con.execute(f"create table main.{qi(table)} as select {', '.join(qi(c) for c in kept)} "
                            f"from {source}").fetchall()
                copied[table] = "whole (compacted)" if compact else "whole"
            row_counts[table] = con.execute(f"select count(*) from main.{qi(table)}").fetchall()[0][0]
        source_builds = {table: copy.through_build for table, copy in plan.items()}
        _append_publish_log(con, published_path, fresh=not by_partition, row=[
            run_id, published_at, definitions_version, json.dumps(row_counts, sort_keys=True),
            json.dumps(verdict.summary(), sort_keys=True), json.dumps(source_builds, sort_keys=True)])
        con.execute("detach working").fetchall()
        con.execute("checkpoint").fetchall()
    finally:
        con.close()
    return row_counts, dropped, copied


def _current_database(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_database()").fetchall()[0][0]


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = ? and table_schema = ? order by table_name, ordinal_position",
        [catalog, schema],
    ).fetchall():
        columns.setdefault(table, []).append(column)
    return columns


def _needs_compaction(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the previous publish's `table` (in the copy) holds too many deleted rows or small row groups."""
    live, stored, row_groups = con.execute(
        f"select (select count(*) from main.{qi(table)}), coalesce(sum(count), 0), count(distinct row_group_id) "
        f"from pragma_storage_info({ql('main.' + table)}) where column_path = '[0]'").fetchall()[0]
    needed = -(-live // ROW_GROUP_SIZE)
    dead = stored - live
    return dead > max(live * COMPACT_DEAD_SHARE, ROW_GROUP_SIZE) or row_groups > needed + COMPACT_EXTRA_ROW_GROUPS


def _copy_partitions(con: duckdb.DuckDBPyConnection, table: str, kept: list[str], after_build: int) -> str:
    """Replace, in the copy of the last published file, the partitions the working table's log lists
    after `after_build` (emptied partitions included); checks the copied partitions (count and hash)
    and the table's row count against the working table."""
    key = qi(LOGGED_TABLES[table])
    names = ", ".join(qi(c) for c in kept)
    source = f"working.{SOURCE_SCHEMA}.{qi(table)}"
    replaced = (f"select partition_key from working.{SOURCE_SCHEMA}.{qi(table + REPLACED_LOG_SUFFIX)} "
                f"where build > {int(after_build)}")
    con.execute(f"create temp table replaced_partitions as select distinct partition_key from ({replaced})").fetchall()
    try:
        partitions = con.execute("select count(*) from replaced_partitions").fetchall()[0][0]
        in_replaced = f"{key} in (select partition_key from replaced_partitions)"
        con.execute(f"delete from main.{qi(table)} where {in_replaced}").fetchall()
        con.execute(f"insert into main.{qi(table)} ({names}) "
                    f"select {names} from {source} where {in_replaced}").fetchall()

        def checksum(relation: str) -> tuple:
            return tuple(con.execute(f"select count(*), sum(hash({names})) from {relation} "
                                     f"where {in_replaced}").fetchall()[0])

        if checksum(f"main.{qi(table)}") != checksum(source) or (
                con.execute(f"select count(*) from main.{qi(table)}").fetchall()
                != con.execute(f"select count(*) from {source}").fetchall()):
            raise _CopyDiverged(table)
    finally:
        con.execute("drop table replaced_partitions").fetchall()
    return f"{partitions} partitions"


def _append_publish_log(con: duckdb.DuckDBPyConnection, published_path: Path, *, fresh: bool, row: list) -> None:
    """This publish's publish_log row after the earlier ones: in a new file they are carried over from
    the published one; a copy of the published file holds them already."""
    if fresh:
        con.execute(PUBLISH_LOG_DDL).fetchall()
        if published_path.exists():
            con.execute(f"attach {ql(str(published_path))} as previous (read_only)").fetchall()
            has_log = con.execute("select count(*) from information_schema.tables where table_catalog = 'previous' "
                                  "and table_name = 'publish_log'").fetchall()[0][0]
            if has_log:  # by name: a log from before source_builds gets nulls there
                con.execute("insert into publish_log by name select * replace (cast(row_counts as varchar) as "
                            "row_counts, cast(gate_result as varchar) as gate_result) "
                            "from previous.main.publish_log order by published_at").fetchall()
            con.execute("detach previous").fetchall()
    con.execute("insert into publish_log values (?, ?, ?, ?, ?, ?)", row).fetchall()


def _verify(staging: Path, row_counts: dict[str, int], run_id: str) -> None:
    """Re-open the new file read-only: exactly the published tables, the counts copied, no PII, this run logged."""
    con = duckdb.connect(str(staging), read_only=True)
    try:
        tables = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        if tables != set(PUBLISHED_TABLES):
            raise PublishError(f"{staging}: holds {sorted(tables)}, expected exactly {sorted(PUBLISHED_TABLES)}")
        for table, expected in row_counts.items():
            actual = con.execute(f"select count(*) from {qi(table)}").fetchall()[0][0]
            if actual != expected:
                raise PublishError(f"{staging}: {table} has {actual} rows after copy, expected {expected}")
        pii = [f"{t}.{c}" for t, c in con.execute(
            "select table_name, column_name from information_schema.columns").fetchall() if is_pii_column(c)]
        if pii:
            raise PublishError(f"{staging}: PII columns would be published: {', '.join(pii)}")
        logged = con.execute("select count(*) from publish_log where run_id = ?", [run_id]).fetchall()[0][0]
        if logged != 1:
            raise PublishError(f"{staging}: publish_log has {logged} rows for run {run_id}, expected 1")
    finally:
        con.close()


def _fsync(path: Path) -> None:
    """Flush a file (or a directory entry) to disk so the rename cannot outlive its data."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
