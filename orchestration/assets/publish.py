"""The publish asset: swaps a validated `published.duckdb` in for BI tools (SPEC 4).

It runs only after the blocking quality gate passed in the same run; it re-reads the
gate's verdict for this run and refuses to publish without a passing one. Once published, it
records what the file was built from (orchestration.build_state), so a later nightly run with
nothing new skips the build, the gate and this step.
"""


import json

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from orchestration import build_state
from orchestration.alignment import definitions_version
from orchestration.assets.gate import GATED_TABLES, gate_result_path, published_asset_key
from orchestration.definitions_page import write_definitions_page
from orchestration.publish import GateVerdict, publish
from orchestration.resources import ClosedLoopResource


@asset(
    name="published_warehouse",
    group_name="publish",
    deps=[published_asset_key(table) for table in GATED_TABLES],
    owners=["team:data-engineering"],
    kinds={"duckdb"},
    description="published.duckdb: only the published tables plus publish_log, built aside and swapped in with "
    "one atomic rename, so BI readers never see a half-published state.",
)
def published_warehouse(context: AssetExecutionContext, closedloop: ClosedLoopResource) -> MaterializeResult:
    settings = closedloop.settings()
    alignment = closedloop.alignment()
    run_id = context.run.run_id
    verdict_path = gate_result_path(settings, run_id)
    if not verdict_path.exists():
        raise RuntimeError(f"No quality-gate result for run {run_id} at {verdict_path}: refusing to publish")
    verdict = GateVerdict.from_dict(json.loads(verdict_path.read_text()))
    version = definitions_version(settings.alignment_path)
    result = publish(settings.warehouse_path, settings.published_file, run_id=run_id,
                     definitions_version=version, gate=verdict)
    definitions_path = settings.published_file.with_name("definitions.md")
    write_definitions_page(alignment, definitions_path, version)
    # What this file was built from: a later run with nothing new skips dbt, the gate and publish.
    recorded = build_state.mark_published(settings, run_id)
    return MaterializeResult(
        metadata={
            "published_path": MetadataValue.path(str(settings.published_file)),
            "definitions_version": version,
            "row_counts": MetadataValue.json(result.row_counts),
            # per table: "whole", or the partitions replaced since the last publish that were copied
            "copied": MetadataValue.json(result.copied),
            "definitions_page": MetadataValue.md(definitions_path.read_text()),
            "data_docs": MetadataValue.path(str(settings.reports_dir / "data_docs" / "index.html")),
            "build_inputs_recorded": recorded,
        }
    )
