"""Publish: build `published.duckdb` aside, verify it, swap it in with one atomic rename (SPEC 4).

Write-audit-publish: the quality gate has validated the working file's marts; this copies only
the published tables (never a PII column) into a new file beside the target, carries over the
publish_log and appends this run, verifies the copy, and `os.replace()`s it onto the published
path. BI readers holding the old file open keep reading it (its inode lives on while open);
their next connection sees the new file. A failed gate or any error leaves the published file
byte for byte as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
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
    gate_result varchar not null         -- JSON: {"success", "checks", "failed", "warnings"}
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateVerdict:
        checks = data.get("checks", [])
        if isinstance(checks, int):  # already a summary
            return cls(bool(data["success"]), checks, list(data.get("failed", [])), list(data.get("warnings", [])))

        def names(blocking: bool) -> list[str]:
            return [f"{c['table']}.{c['name']}" for c in checks if not c["success"] and bool(c["blocking"]) == blocking]

        return cls(bool(data["success"]), len(checks), names(True), names(False))

    @classmethod
    def of(cls, gate: GateVerdict | _GateLike) -> GateVerdict:
        return gate if isinstance(gate, GateVerdict) else cls.from_dict(gate.to_dict())

    def summary(self) -> dict[str, Any]:
        return {"success": self.success, "checks": self.checks, "failed": self.failed, "warnings": self.warnings}


@dataclass(frozen=True)
class PublishResult:
    published_path: Path
    run_id: str
    published_at: dt.datetime
    definitions_version: str
    row_counts: dict[str, int]
    dropped_pii_columns: dict[str, list[str]]


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
    for leftover in (staging, staging.with_name(staging.name + ".wal")):
        leftover.unlink(missing_ok=True)
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        row_counts, dropped = _build(warehouse_path, published_path, staging, run_id=run_id,
                                     published_at=published_at, definitions_version=definitions_version,
                                     verdict=verdict)
        _verify(staging, row_counts, run_id)
        _fsync(staging)
        os.replace(staging, published_path)  # atomic on POSIX: readers see the old or the new file, whole
        _fsync(published_path.parent)
    except BaseException:
        for leftover in (staging, staging.with_name(staging.name + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    return PublishResult(published_path, run_id, published_at, definitions_version, row_counts, dropped)


def _build(warehouse_path: Path, published_path: Path, staging: Path, *, run_id: str, published_at: dt.datetime,
           definitions_version: str, verdict: GateVerdict) -> tuple[dict[str, int], dict[str, list[str]]]:
    if not warehouse_path.exists():
        raise PublishError(f"{warehouse_path}: working DuckDB file not found; nothing to publish")
    con = duckdb.connect(str(staging))
    try:
        con.execute("set timezone = 'UTC'").fetchall()
        con.execute(f"attach {ql(str(warehouse_path))} as working (read_only)").fetchall()
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_catalog = 'working' and table_schema = ? order by table_name, ordinal_position",
            [SOURCE_SCHEMA],
        ).fetchall():
            columns.setdefault(table, []).append(column)
        missing = [table for table in DATA_TABLES if table not in columns]
        if missing:
            raise PublishError(f"{warehouse_path}: {SOURCE_SCHEMA}.{', '.join(missing)} not built; nothing published")
        row_counts: dict[str, int] = {}
        dropped: dict[str, list[str]] = {}
        for table in DATA_TABLES:
            kept = [c for c in columns[table] if not is_pii_column(c)]
            if len(kept) < len(columns[table]):
                dropped[table] = [c for c in columns[table] if is_pii_column(c)]
            con.execute(f"create table main.{qi(table)} as select {', '.join(qi(c) for c in kept)} "
                        f"from working.{SOURCE_SCHEMA}.{qi(table)}").fetchall()
            row_counts[table] = con.execute(f"select count(*) from main.{qi(table)}").fetchall()[0][0]
        con.execute("detach working").fetchall()

        con.execute(PUBLISH_LOG_DDL).fetchall()
        if published_path.exists():
            con.execute(f"attach {ql(str(published_path))} as previous (read_only)").fetchall()
            has_log = con.execute("select count(*) from information_schema.tables where table_catalog = 'previous' "
                                  "and table_name = 'publish_log'").fetchall()[0][0]
            if has_log:
                con.execute("insert into publish_log select run_id, published_at, definitions_version, "
                            "cast(row_counts as varchar), cast(gate_result as varchar) "
                            "from previous.main.publish_log order by published_at").fetchall()
            con.execute("detach previous").fetchall()
        con.execute(
            "insert into publish_log values (?, ?, ?, ?, ?)",
            [run_id, published_at, definitions_version, json.dumps(row_counts, sort_keys=True),
             json.dumps(verdict.summary(), sort_keys=True)],
        ).fetchall()
        con.execute("checkpoint").fetchall()
    finally:
        con.close()
    return row_counts, dropped


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
