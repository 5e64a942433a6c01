"""Running the nightly job in process (CLI and tests) and summarising what it built."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dagster import DagsterInstance, ExecuteInProcessResult

from orchestration.duck import connect, rows
from orchestration.run_tags import NOTHING_NEW_TAG
from orchestration.settings import Settings


@dataclass
class NightlyResult:
    success: bool
    run_id: str
    extract_metadata: dict[str, dict] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # Set when nothing was new since that run's publish: dbt build, gate and publish were skipped.
    nothing_new_since: str | None = None
    skipped_steps: list[str] = field(default_factory=list)


def run_nightly(settings: Settings, *, full_refresh: bool = False, accept_volume_change: bool = False,
                instance: DagsterInstance | None = None, log_level: str = "INFO") -> NightlyResult:
    """Execute the `nightly` job of the real Definitions with the given settings."""
    os.environ.update(_settings_env(settings))
    from orchestration.definitions import defs

    job = defs.resolve_job_def("nightly")
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}, "ops": {
        # steps run one after another in this process: the dbt step can import the gate's library
        "dbt_models": {"config": {"full_refresh": full_refresh, "preload_gate": True}},
        "quality_gate": {"config": {"accept_volume_change": accept_volume_change}},
    }}
    instance = instance or DagsterInstance.ephemeral()
    outcome: ExecuteInProcessResult = job.execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False,
    )
    extract = {
        "/".join(materialization.asset_key.path): {key: value.value for key, value in materialization.metadata.items()}
        for materialization in outcome.asset_materializations_for_node("extract_sources")
    }
    failures = [event.message or "" for event in outcome.all_events if event.is_failure]
    failures += [
        f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}: failed"
        for evaluation in (event.asset_check_evaluation_data for event in outcome.all_events
                           if event.event_type_value == "ASSET_CHECK_EVALUATION")
        if not evaluation.passed
    ]
    run = instance.get_run_by_id(outcome.run_id)
    skipped = sorted({event.step_key for event in outcome.all_events
                      if event.event_type_value == "STEP_SKIPPED" and event.step_key})
    return NightlyResult(outcome.success, outcome.run_id, extract, failures,
                         nothing_new_since=(run.tags.get(NOTHING_NEW_TAG) or None) if run else None,
                         skipped_steps=skipped)


def _settings_env(settings: Settings) -> dict[str, str]:
    env = {
        "CLOSEDLOOP_SOURCE": settings.source,
        "CLOSEDLOOP_ALIGNMENT": str(settings.alignment_path),
        "CLOSEDLOOP_WAREHOUSE_DIR": str(settings.warehouse_dir),
        "CLOSEDLOOP_PUBLISHED_PATH": str(settings.published_file),
        "CLOSEDLOOP_DEMO_PEOPLE": str(settings.demo_people),
        "CLOSEDLOOP_DEMO_SEED": str(settings.demo_seed),
    }
    if settings.drop_dir:
        env["CLOSEDLOOP_DROP_DIR"] = str(settings.drop_dir)
    return env


def staging_row_counts(settings: Settings) -> dict[str, int]:
    if not settings.warehouse_path.exists():
        return {}
    con = connect(settings.warehouse_path, read_only=True)
    try:
        tables = rows(con, "select table_schema, table_name from information_schema.tables "
                           "where table_schema in ('staging', 'marts') order by 1, 2")
        return {f"{schema}.{name}": rows(con, f'select count(*) from "{schema}"."{name}"')[0][0]
                for schema, name in tables}
    finally:
        con.close()


def summarize(settings: Settings, result: NightlyResult) -> str:
    lines = [f"Run {result.run_id}: {'succeeded' if result.success else 'FAILED'}"]
    if result.nothing_new_since:
        lines.append(f"Nothing new since run {result.nothing_new_since}: dbt build, quality gate and publish "
                     "skipped; the published file is that run's.")
    lines += ["", "Rows landed per object:"]
    for key, metadata in sorted(result.extract_metadata.items()):
        quarantined = metadata.get("quarantined_records", 0)
        note = f" ({quarantined} quarantined)" if quarantined else ""
        lines.append(f"  {key:<45} {metadata.get('rows_landed', 0):>10}{note}")
    counts = staging_row_counts(settings)
    if counts:
        lines += ["", "Rows per model:"] + [f"  {name:<45} {count:>10}" for name, count in counts.items()]
    if result.failures:
        lines += ["", "Failures:"] + [f"  - {failure}" for failure in result.failures]
    lines += [
        "",
        f"Warehouse:       {settings.warehouse_path}",
        f"Published file:  {settings.published_file}",
        f"Reports:         {settings.reports_dir}",
    ]
    return "\n".join(lines)
