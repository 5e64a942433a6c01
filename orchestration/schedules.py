"""The nightly job, its schedule, the run-failure alert and the raw-source freshness sensor."""

from __future__ import annotations

import json
import os
import urllib.request
import warnings
from collections.abc import Mapping

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    ScheduleDefinition,
    SupersessionWarning,
    build_sensor_for_freshness_checks,
    define_asset_job,
    run_failure_sensor,
)

from orchestration.alignment import load_alignment
from orchestration.assets.extract import extract_freshness_checks
from orchestration.settings import Settings

NIGHTLY_CRON_DEFAULT = "0 2 * * *"

# Freshness checks run from their own sensor, not inside the nightly run (before the extract
# they would only report on the previous night).
nightly_job = define_asset_job(
    name="nightly",
    selection=(AssetSelection.all() | AssetSelection.all_asset_checks())
    - AssetSelection.checks(*extract_freshness_checks),
    description="Extract -> dbt build (staging, intermediate, marts, dbt tests) -> quality gate -> publish.",
)


def schedule_timezone(env: Mapping[str, str] | None = None) -> str:
    """The timezone alignment.yml reports in; UTC while alignment.yml is unreadable."""
    try:
        return load_alignment(Settings.from_env(None if env is None else dict(env)).alignment_path).timezone
    except (ValueError, OSError):
        return "UTC"  # a broken alignment.yml fails the run itself, loudly; the schedule still loads


def build_nightly_schedule(env: Mapping[str, str] | None = None) -> ScheduleDefinition:
    """The nightly schedule: cron CLOSEDLOOP_SCHEDULE_CRON (default 02:00), timezone from alignment.yml."""
    env = os.environ if env is None else env
    cron = env.get("CLOSEDLOOP_SCHEDULE_CRON", "").strip() or NIGHTLY_CRON_DEFAULT
    return ScheduleDefinition(
        name="nightly_schedule",
        job=nightly_job,
        cron_schedule=cron,
        execution_timezone=schedule_timezone(env),
        default_status=DefaultScheduleStatus.STOPPED,
        description=f"Runs the nightly job at cron {cron!r} (CLOSEDLOOP_SCHEDULE_CRON) in alignment.yml's "
        "timezone. Turn it on in Automation.",
    )


nightly_schedule = build_nightly_schedule()

with warnings.catch_warnings():  # superseded by FreshnessPolicy in 1.13; see build_extract_freshness_checks
    warnings.simplefilter("ignore", SupersessionWarning)
    freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=extract_freshness_checks,
        name="raw_freshness_sensor",
        minimum_interval_seconds=600,
    )


def failure_message(context: RunFailureSensorContext) -> dict:
    run = context.dagster_run
    failed_steps = sorted({event.step_key for event in context.get_step_failure_events() if event.step_key})
    return {
        "text": f"Closed Loop run {run.run_id} of job {run.job_name} failed"
        + (f" in {', '.join(failed_steps)}" if failed_steps else ""),
        "run_id": run.run_id,
        "job": run.job_name,
        "failed_steps": failed_steps,
        "error": context.failure_event.message if context.failure_event else None,
    }


@run_failure_sensor(
    name="notify_on_run_failure",
    default_status=DefaultSensorStatus.RUNNING,  # alerts need no switching on; without a webhook they only log
    description="Posts failed runs to CLOSEDLOOP_ALERT_WEBHOOK_URL (JSON with text, run_id, job, failed_steps, "
    "error), or logs them when no webhook is set.",
)
def notify_on_run_failure(context: RunFailureSensorContext) -> None:
    message = failure_message(context)
    webhook = os.environ.get("CLOSEDLOOP_ALERT_WEBHOOK_URL", "").strip()
    if not webhook:
        context.log.warning(message["text"])
        return
    request = urllib.request.Request(webhook, data=json.dumps(message).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (operator-configured URL)
        context.log.info(f"Alert posted ({response.status})")
