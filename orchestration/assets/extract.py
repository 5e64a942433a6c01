"""Extract assets: one asset per raw object, all landed by one step of the chosen source mode.

Each asset's key equals the key dagster-dbt gives the matching dbt source table
([system, object]), so lineage runs from each Salesforce/HubSpot object to the models.
"""


import os
import warnings
from collections.abc import Iterator, Mapping
from datetime import timedelta

from dagster import (
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Backoff,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    SupersessionWarning,
    build_last_update_freshness_checks,
    multi_asset,
)

from orchestration.raw_schema import QUARANTINE, RAW_OBJECTS, RawObject
from orchestration.resources import ClosedLoopResource
from orchestration.sources import extract_source

OWNER = "team:data-engineering"
RAW_ASSET_OBJECTS: tuple[RawObject, ...] = (*RAW_OBJECTS, QUARANTINE)


def raw_asset_key(obj: RawObject) -> AssetKey:
    return AssetKey([obj.system, obj.name.lower()])


def _kinds(obj: RawObject) -> set[str]:
    if obj.system in ("salesforce", "hubspot"):
        return {obj.system, "parquet"}
    if obj.system == "spend":
        return {"csv", "parquet"}  # ad spend arrives as drop-folder files
    return {"parquet"}


def _spec(obj: RawObject) -> AssetSpec:
    return AssetSpec(
        key=raw_asset_key(obj),
        group_name="extract",
        description=f"Raw {obj.system} `{obj.name}` batches (Parquet under raw/{obj.folder}/). {obj.description}",
        owners=[OWNER],
        kinds=_kinds(obj),
        tags={"layer": "raw"},
    )


@multi_asset(
    specs=[_spec(obj) for obj in RAW_ASSET_OBJECTS],
    name="extract_sources",
    can_subset=False,
    retry_policy=RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL),
    description="Extracts every Salesforce and HubSpot object (and ad spend) from the configured source mode "
    "(CLOSEDLOOP_SOURCE: demo, files, api) and lands them as append-only raw Parquet batches.",
)
def extract_sources(context: AssetExecutionContext, closedloop: ClosedLoopResource) -> Iterator[MaterializeResult]:
    settings = closedloop.settings()
    alignment = closedloop.alignment()  # a malformed alignment.yml fails here, before any data moves
    context.log.info(f"Extracting from source mode {settings.source!r} into {settings.raw_dir}")
    report = extract_source(settings, alignment)
    rows = report.rows_by_object()
    for note in report.notes:
        context.log.warning(note)
    for obj in RAW_ASSET_OBJECTS:
        landed = rows.get(obj.folder, 0)
        quarantined = report.quarantined.get(obj.folder, 0)
        context.log.info(f"{obj.folder}: {landed} rows landed, {quarantined} quarantined")
        yield MaterializeResult(
            asset_key=raw_asset_key(obj),
            metadata={
                "rows_landed": landed,
                "quarantined_records": quarantined,
                "source_mode": settings.source,
                "raw_path": MetadataValue.path(str(settings.raw_dir / obj.folder)),
            },
        )


FRESHNESS_HOURS_DEFAULT = 26.0


def freshness_hours(env: Mapping[str, str] | None = None) -> float:
    """CLOSEDLOOP_FRESHNESS_HOURS: how long a raw source may go without a landing (default 26)."""
    value = (os.environ if env is None else env).get("CLOSEDLOOP_FRESHNESS_HOURS", "").strip()
    if not value:
        return FRESHNESS_HOURS_DEFAULT
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if hours <= 0:
        raise ValueError(f"CLOSEDLOOP_FRESHNESS_HOURS must be a positive number of hours, got {value!r}")
    return hours


def build_extract_freshness_checks(hours: float) -> list[AssetChecksDefinition]:
    """Warn-level checks flagging each raw Salesforce/HubSpot/spend object not landed within `hours`.

    Dagster 1.13 marks these check builders as superseded by FreshnessPolicy; we keep them because
    they are asset checks with recorded results (visible per asset, testable without the daemon).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SupersessionWarning)
        return list(build_last_update_freshness_checks(
            assets=[raw_asset_key(obj) for obj in RAW_OBJECTS],
            lower_bound_delta=timedelta(hours=hours),
        ))


extract_freshness_checks = build_extract_freshness_checks(freshness_hours())
