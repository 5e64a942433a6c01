"""Extract assets: one asset per raw object, all landed by one step of the chosen source mode.

Each asset's key equals the key dagster-dbt gives the matching dbt source table
([system, object]), so lineage runs from each Salesforce/HubSpot object to the models.
"""


from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Backoff,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    multi_asset,
)

from orchestration.raw_schema import QUARANTINE, RAW_OBJECTS, RawObject
from orchestration.resources import ClosedLoopResource
from orchestration.sources import extract_source

OWNER = "team:data-engineering"
RAW_ASSET_OBJECTS: tuple[RawObject, ...] = (*RAW_OBJECTS, QUARANTINE)


def raw_asset_key(obj: RawObject) -> AssetKey:
    return AssetKey([obj.system, obj.name.lower()])


def _spec(obj: RawObject) -> AssetSpec:
    return AssetSpec(
        key=raw_asset_key(obj),
        group_name="extract",
        description=f"Raw {obj.system} `{obj.name}` batches (Parquet under raw/{obj.folder}/). {obj.description}",
        owners=[OWNER],
        kinds={obj.system if obj.system in ("salesforce", "hubspot") else "csv", "parquet"},
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
