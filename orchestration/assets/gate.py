"""The quality gate as blocking Dagster asset checks on every table we publish (SPEC 5).

One check step runs the Great Expectations suites derived from alignment.yml over the
built tables; each published table gets a blocking `quality_gate` check listing its
expectations. A failed blocking check stops the run before the publish asset.
"""


import json
from collections.abc import Iterator
from dataclasses import asdict

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Config,
    MetadataValue,
    multi_asset_check,
)

from expectations import run_gate
from orchestration.publish import PUBLISHED_TABLES
from orchestration.resources import ClosedLoopResource


def published_asset_key(table: str) -> AssetKey:
    """The dbt asset key of a published table (dagster-dbt keys models by schema and name)."""
    return AssetKey(["marts", table])


GATED_TABLES = tuple(table for table in PUBLISHED_TABLES if table != "publish_log")


class GateConfig(Config):
    accept_volume_change: bool = False  # mark a run whose row counts change a lot as intended


def gate_result_path(settings, run_id: str):
    return settings.reports_dir / "gate" / f"{run_id}.json"


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            name="quality_gate",
            asset=published_asset_key(table),
            blocking=True,
            description="Great Expectations suite derived from alignment.yml (keys, stage order, MQL rule, "
            "buckets/SLA, attribution weights and reconciliation, rates, funnel monotonicity, volume).",
        )
        for table in GATED_TABLES
    ],
    name="quality_gate",
    compute_kind="great_expectations",
    description="The quality gate (SPEC 5): Great Expectations suites over every published table. Blocking: "
    "a failed check stops the run before published_warehouse, so BI keeps the last good file.",
)
def quality_gate(context: AssetCheckExecutionContext, closedloop: ClosedLoopResource,
                 config: GateConfig) -> Iterator[AssetCheckResult]:
    settings = closedloop.settings()
    alignment = closedloop.alignment()
    gate = run_gate(
        settings.warehouse_path,
        alignment,
        previous_published_path=settings.published_file,
        accept_volume_change=config.accept_volume_change,
        docs_dir=settings.reports_dir / "data_docs",
    )
    path = gate_result_path(settings, context.op_execution_context.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(gate.to_dict(), default=str, indent=2))
    for failed in (check for check in gate.checks if not check.success):
        context.log.error(f"Gate: {failed.table}: {failed.name} failed (observed {failed.observed})")
    for table in GATED_TABLES:
        checks = [check for check in gate.checks if check.table == table]
        failures = [check for check in checks if not check.success and check.blocking]
        yield AssetCheckResult(
            asset_key=published_asset_key(table),
            check_name="quality_gate",
            passed=not failures,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "expectations": len(checks),
                "failed": len(failures),
                "results": MetadataValue.json([asdict(check) for check in checks]),
                "data_docs": MetadataValue.path(str(settings.reports_dir / "data_docs" / "index.html")),
            },
        )
