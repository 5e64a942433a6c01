"""Run the gate: compute every check frame in DuckDB, validate the frames with Great Expectations.

GX route: an ephemeral context with a pandas datasource, one dataframe asset, suite and
validation definition per check frame. (GX's SQL datasource over duckdb_engine returns empty results,
and the frames are small by design, so pandas is both the working and the scalable route.)
Validation results feed GX's own Data Docs site builder under `docs_dir`, next to a
self-contained summary page with the failing examples.
"""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import json
import logging
import os
import sys
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestration.alignment import Alignment
from orchestration.duck import connect, rows
from orchestration.publish import replaced_since

from .checks import DEFAULT_VOLUME_RATIO, GATED_TABLES, MQL_LOGS, Check, Plan, build_plan, mql_rule_version
from .docs import write_summary_page
from .result import MAX_EXAMPLES, CheckResult, GateResult, json_value

log = logging.getLogger(__name__)
SCHEMAS = ("marts", "intermediate")
DOCS_SITE = "gate"


def run_gate(
    warehouse_path: str | Path,
    alignment: Alignment,
    *,
    previous_published_path: str | Path | None = None,
    volume_ratio: tuple[float, float] = DEFAULT_VOLUME_RATIO,
    accept_volume_change: bool = False,
    docs_dir: str | Path | None = None,
    run_name: str | None = None,
) -> GateResult:
    """Validate the built tables of `warehouse_path` (read-only) against the agreed definitions.

    `previous_published_path`: the current published file; its latest publish_log row gives the
    row counts the volume checks compare against (skipped when it does not exist yet).
    Never raises for bad data: missing tables, missing columns and SQL errors are failed checks.
    """
    run_name = run_name or dt.datetime.now(dt.UTC).strftime("gate-%Y%m%dT%H%M%S%fZ")
    previous = previous_publish(previous_published_path)
    con = connect(warehouse_path, read_only=True)
    try:
        columns = table_columns(con)
        current = {
            table: rows(con, f"select count(*) from marts.{table}")[0][0]
            for table in GATED_TABLES if f"marts.{table}" in columns
        }
        checked_through, mql_people = mql_scope(con, alignment, columns, previous.checked_through if previous else {})
        plan = build_plan(alignment, columns=columns, previous_counts=previous.row_counts if previous else None,
                          current_counts=current, volume_ratio=volume_ratio, accept_volume_change=accept_volume_change,
                          mql_people=mql_people)
        results = evaluate(con, plan, columns, docs_dir=docs_dir, run_name=run_name)
    finally:
        con.close()
    gate = GateResult(success=all(r.success for r in results if r.blocking), checks=results,
                      checked_through=checked_through)
    if docs_dir is not None:
        docs_dir = Path(docs_dir)
        docs_dir.mkdir(parents=True, exist_ok=True)
        gate.docs_path = str(docs_dir / "index.html")
        write_summary_page(gate, docs_dir / "gate_summary.html", run_name=run_name)
        (docs_dir / "gate_result.json").write_text(json.dumps(gate.to_dict(), indent=2))
    return gate


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    schemas = ", ".join(f"'{schema}'" for schema in SCHEMAS)
    for schema, table, column in rows(
        con,
        f"select table_schema, table_name, column_name from information_schema.columns "
        f"where table_catalog = current_database() and table_schema in ({schemas}) "
        f"order by table_schema, table_name, ordinal_position",
    ):
        found[f"{schema}.{table}"].append(column)
    return dict(found)


@dataclass(frozen=True)
class PreviousPublish:
    """The last publish (latest publish_log row): its row counts and what its gate's checks of
    changed rows covered (GateResult.checked_through)."""

    row_counts: dict[str, int]
    checked_through: dict[str, Any]


def previous_publish(published_path: str | Path | None) -> PreviousPublish | None:
    """The published file's last publish, or None when there is none."""
    if published_path is None or not Path(published_path).exists():
        return None
    con = connect(published_path, read_only=True)
    try:
        has_log = rows(con, "select count(*) from information_schema.tables where table_name = 'publish_log'")[0][0]
        if not has_log:
            return None
        latest = rows(con, "select row_counts, gate_result from publish_log order by published_at desc limit 1")
    finally:
        con.close()
    if not latest:
        return None
    counts, gate = (json.loads(value) if isinstance(value, str) else value for value in latest[0])
    return PreviousPublish(row_counts={str(k): int(v) for k, v in counts.items()},
                           checked_through=dict((gate or {}).get("checked_through") or {}))


def mql_scope(con: duckdb.DuckDBPyConnection, alignment: Alignment, columns: dict[str, list[str]],
              previous: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Whom the MQL rule is checked for: (the marks this gate covers, to record; a query of the
    person_ids to check, or None for everyone).

    The marks are the last build of each of MQL_LOGS now and the rule's version. The people are those
    either log lists after the last publish's marks (`previous`); everyone when there are none, when
    the rule changed since, or when a log says "every person" (a null row: a full build, or builds it
    no longer holds) after its mark.
    """
    if any(log not in columns for log in MQL_LOGS.values()):
        return {}, None
    recorded = {name: previous.get(name) for name in MQL_LOGS}
    marks = {name: mark if isinstance(mark, int) else None for name, mark in recorded.items()}
    read = {name: replaced_since(con, log, marks[name]) for name, log in MQL_LOGS.items()}
    through: dict[str, Any] = {name: last for name, (last, _) in read.items()}
    if any(build is None for build in through.values()):
        return {}, None
    through["mql_rule"] = mql_rule_version(alignment)
    if previous.get("mql_rule") != through["mql_rule"] or not all(listed for _, listed in read.values()):
        return through, None
    return through, " union all ".join(f"select partition_key from {log} where build > {marks[name]}"
                                       for name, log in MQL_LOGS.items())


# ---------------------------------------------------------------------------------------------


def evaluate(con: duckdb.DuckDBPyConnection, plan: Plan, columns: dict[str, list[str]], *,
             docs_dir: str | Path | None, run_name: str) -> list[CheckResult]:
    results: dict[int, CheckResult] = {}
    by_frame: dict[str, list[int]] = defaultdict(list)

    def result(index: int, success: bool, observed: Any, examples: list[dict] | None = None) -> CheckResult:
        check = plan.checks[index]
        return CheckResult(name=check.name, table=check.table, blocking=check.blocking, success=success,
                           observed=observed, examples=examples or [], description=check.description,
                           expectations=[e.kind for e in check.expectations])

    for index, check in enumerate(plan.checks):
        missing = [table for table in check.requires if table not in columns]
        if missing:
            results[index] = result(index, False, f"missing table {', '.join(missing)}")
        elif check.skipped:
            results[index] = result(index, True, f"skipped: {check.skipped}")
        elif check.frame is None:
            results[index] = result(index, True, "present")
        else:
            by_frame[check.frame].append(index)

    if by_frame:
        frames: dict[str, pd.DataFrame] = {}
        frame_errors: dict[str, str] = {}
        # DuckDB computes the next frames (on every core, without the GIL) while GX validates the
        # ones computed (Python, one core): a night at 1M people spends about as long in each
        cursor = con.cursor()
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate-frames") as pool:
                pending = [(name, pool.submit(fetch_frame, cursor, plan.frames[name].sql)) for name in by_frame]

                def computed() -> Iterator[tuple[str, pd.DataFrame]]:
                    for name, future in pending:
                        try:
                            frames[name] = future.result()
                        except duckdb.Error as error:
                            frame_errors[name] = str(error).splitlines()[0]
                            continue
                        yield name, frames[name]

                validated = validate_frames(plan, computed(), by_frame, docs_dir=docs_dir, run_name=run_name)
        finally:
            cursor.close()
        for name, indexes in by_frame.items():
            for index in indexes:
                if name in frame_errors:
                    results[index] = result(index, False, f"error: {frame_errors[name]}")
                    continue
                check, frame = plan.checks[index], frames[name]
                outcomes = validated[index]
                success = all(outcome["success"] for outcome in outcomes)
                observed = observed_value(check, frame, outcomes)
                examples = [] if success else failing_examples(con, check, frame, outcomes)
                results[index] = result(index, success, observed, examples)
    return [results[index] for index in range(len(plan.checks))]


def fetch_frame(cursor: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return cursor.execute(sql).df()


def _import_great_expectations() -> None:
    if "great_expectations.expectations" in sys.modules:
        return
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations  # noqa: F401
    import great_expectations.expectations  # noqa: F401

    # The import leaves objects that live as long as the process (modules, classes, pydantic
    # models, scipy, altair): frozen, Python's full garbage collections stop walking them again (a
    # night at 1M people had one in the gate: 0.29 s with every thread stopped). Unfrozen at exit,
    # so the interpreter's last collection frees them as before.
    gc.freeze()
    atexit.register(gc.unfreeze)


def preload_great_expectations() -> threading.Thread:
    """Import Great Expectations in a background thread (about 5 s of one core, every run).

    For a caller about to wait on something else in the process that will then run the gate: the
    dbt step waits on the dbt subprocess, and in an in-process run the gate step follows in the
    same interpreter, so the import is off the nightly run's critical path. An import error is
    left for the gate's own import to raise.
    """
    def load() -> None:
        try:
            _import_great_expectations()
        except Exception as error:  # noqa: BLE001 - the gate's import reports it
            log.debug("preloading Great Expectations failed: %s", error)

    thread = threading.Thread(target=load, name="preload-great-expectations", daemon=True)
    thread.start()
    return thread


def validate_frames(plan: Plan, frames: Iterable[tuple[str, pd.DataFrame]], by_frame: dict[str, list[int]], *,
                    docs_dir: str | Path | None, run_name: str) -> dict[int, list[dict[str, Any]]]:
    """One GX suite and validation definition per (name, frame), validated as `frames` yields them;
    returns, per check index, its expectations' outcomes."""
    _import_great_expectations()
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(site_name=DOCS_SITE, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    # one dataframe asset for every check frame: each frame is its own batch of it
    batch_definition = (context.data_sources.add_pandas("closedloop_gate")
                        .add_dataframe_asset("check_frames").add_batch_definition_whole_dataframe("frame"))
    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
    outcomes: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for name, frame in frames:
        suite = gx.ExpectationSuite(name=name)
        for index in by_frame[name]:
            check = plan.checks[index]
            for position, expect in enumerate(check.expectations):
                suite.add_expectation(getattr(gxe, expect.kind)(
                    **expect.kwargs,
                    meta={"check": index, "position": position, "table": check.table, "name": check.name},
                    description=f"{check.table}: {check.name}: {check.description}",
                ))
        parameters = {"dataframe": frame}
        if docs_dir is None:
            # no report wanted: validate the batch directly (no stores, about a third faster)
            validation = batch_definition.get_batch(batch_parameters=parameters).validate(
                suite, result_format={"result_format": "SUMMARY"})
        else:
            # through a stored validation definition, so the results land in the store the Data Docs
            # site is built from (a checkpoint around it adds only bookkeeping: 0.1-0.15 s a night at
            # 1M people)
            suite = context.suites.add(suite)
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch_definition, suite=suite))
            validation = definition.run(batch_parameters=parameters, run_id=run_id,
                                        result_format={"result_format": "SUMMARY"})
        for expectation in validation.results:
            meta = expectation.expectation_config.meta
            outcomes[int(meta["check"])].append({
                "position": int(meta["position"]),
                "success": bool(expectation.success),
                "kwargs": plan.checks[int(meta["check"])].expectations[int(meta["position"])].kwargs,
                "result": dict(expectation.result or {}),
                "exception": (expectation.exception_info or {}).get("exception_message")
                if not expectation.success else None,
            })
    if docs_dir is not None:
        try:
            context.build_data_docs(site_names=[DOCS_SITE])
        except Exception as error:  # noqa: BLE001 - the report must not decide the gate
            log.warning("GX Data Docs could not be built: %s", error)
    for index in outcomes:
        outcomes[index].sort(key=lambda outcome: outcome["position"])
    return outcomes


def observed_value(check: Check, frame: pd.DataFrame, outcomes: list[dict[str, Any]]) -> Any:
    values: dict[str, Any] = {}
    for outcome in outcomes:
        kwargs = outcome["kwargs"]
        label = kwargs.get("column") or f"{kwargs.get('column_A')} >= {kwargs.get('column_B')}"
        res = outcome["result"]
        if "observed_value" in res:
            value = json_value(res["observed_value"])
        elif len(frame) == 1 and kwargs.get("column") in frame.columns:
            value = json_value(frame.iloc[0][kwargs["column"]])
        elif len(frame) > 1 and kwargs.get("column") in frame.columns and kwargs.get("max_value") is not None \
                and kwargs.get("min_value") is None:
            value = json_value(frame[kwargs["column"]].max())
        elif outcome["exception"]:
            value = f"error: {outcome['exception']}"
        else:
            value = {"unexpected_rows": json_value(res.get("unexpected_count")), "rows": len(frame)}
        values[label] = value
    return next(iter(values.values())) if len(values) == 1 else values


def failing_examples(con: duckdb.DuckDBPyConnection, check: Check, frame: pd.DataFrame,
                     outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Up to 20 failing rows: from the check's own SQL, else the frame rows GX flagged."""
    if check.examples_sql:
        try:
            cursor = con.execute(check.examples_sql)
            names = [d[0] for d in cursor.description]
            return [{n: json_value(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
        except duckdb.Error as error:
            return [{"error": str(error).splitlines()[0]}]
    flagged: list[int] = []
    for outcome in outcomes:
        if not outcome["success"]:
            positions = outcome["result"].get("partial_unexpected_index_list")
            if positions is None:  # an aggregate expectation (a column's largest value): its rows out of bounds
                positions = out_of_bounds(frame, outcome["kwargs"])
            for position in positions:
                if isinstance(position, int) and position not in flagged:
                    flagged.append(position)
    if not flagged and len(frame) <= MAX_EXAMPLES:
        flagged = list(range(len(frame)))
    return [{str(k): json_value(v) for k, v in frame.iloc[position].items()} for position in flagged[:MAX_EXAMPLES]]


def out_of_bounds(frame: pd.DataFrame, kwargs: dict[str, Any]) -> list[int]:
    """Positions of the frame's rows whose `column` lies outside [min_value, max_value]."""
    column = kwargs.get("column")
    if column not in frame.columns:
        return []
    values = pd.to_numeric(frame[column], errors="coerce")
    outside = pd.Series(False, index=frame.index)
    if kwargs.get("min_value") is not None:
        outside |= values < kwargs["min_value"]
    if kwargs.get("max_value") is not None:
        outside |= values > kwargs["max_value"]
    return [position for position, is_outside in enumerate(outside.tolist()) if is_outside]
