"""The Closed Loop code location: one Definitions object assembled from small modules."""

from __future__ import annotations

from dagster import Definitions

from orchestration.assets.dbt import dbt_models, dbt_resource
from orchestration.assets.extract import extract_freshness_checks, extract_sources
from orchestration.assets.gate import quality_gate
from orchestration.assets.publish import published_warehouse
from orchestration.resources import ClosedLoopResource
from orchestration.schedules import freshness_sensor, nightly_job, nightly_schedule, notify_on_run_failure

defs = Definitions(
    assets=[extract_sources, dbt_models, published_warehouse],
    asset_checks=[quality_gate, *extract_freshness_checks],
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    sensors=[notify_on_run_failure, freshness_sensor],
    resources={"closedloop": ClosedLoopResource(), "dbt": dbt_resource()},
)
