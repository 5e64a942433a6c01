"""The `api` source mode (SPEC 1.3): live, incremental extraction from Salesforce and HubSpot.

`extract(settings, alignment, systems)` lands every requested object as raw batches and
returns an `ExtractReport` whose notes carry the run's API usage (calls per system and
Salesforce's `Sforce-Limit-Info`). Configuration: `ApiSettings.from_env()` and docs/api_sources.md.
Ad spend has no API: it is read from `<drop>/spend/` through the files source when
CLOSEDLOOP_DROP_DIR is set.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace

from orchestration.alignment import Alignment
from orchestration.duck import connect
from orchestration.landing import ensure_every_object_has_a_schema
from orchestration.settings import Settings
from orchestration.sources import ExtractReport
from orchestration.sources.api.batches import BATCH_SOURCE
from orchestration.sources.api.http import ApiConfigError, ApiError, ApiSettings, Masker
from orchestration.sources.api.hubspot import HubSpotExtractor, hubspot_client
from orchestration.sources.api.salesforce import SalesforceExtractor, salesforce_client
from orchestration.sources.api.state import WatermarkStore

__all__ = ["ApiConfigError", "ApiError", "ApiSettings", "WatermarkStore", "extract"]
log = logging.getLogger("orchestration.sources.api")


def extract(settings: Settings, alignment: Alignment, systems: Collection[str],
            api_settings: ApiSettings | None = None, *, full_refresh: bool | None = None) -> ExtractReport:
    """Extract the requested systems; `full_refresh` (or CLOSEDLOOP_API_FULL_REFRESH=1) ignores watermarks."""
    api = api_settings or ApiSettings.from_env()
    if full_refresh is not None and full_refresh != api.full_refresh:
        api = replace(api, full_refresh=full_refresh)
    masker = Masker(api.secrets)
    store = WatermarkStore(settings.warehouse_dir)
    report = ExtractReport()
    con = connect()
    try:
        if "salesforce" in systems:
            client = salesforce_client(api, masker)
            extractor = SalesforceExtractor(client, api, alignment, store, con, settings.raw_dir)
            try:
                report.batches += extractor.run()
            finally:
                report.notes += extractor.notes + [_usage_note(client)]
                log.info("%s", report.notes[-1])
        if "hubspot" in systems:
            client = hubspot_client(api, masker)
            extractor = HubSpotExtractor(client, api, store, con, settings.raw_dir)
            try:
                report.batches += extractor.run()
            finally:
                report.notes += extractor.notes + [_usage_note(client)]
                log.info("%s", report.notes[-1])
        if "spend" in systems:
            report.merge(_spend(settings, alignment))
        ensure_every_object_has_a_schema(con, settings.raw_dir, BATCH_SOURCE)
    finally:
        con.close()
    return report


def _usage_note(client) -> str:
    note = f"{client.system}: {client.calls} API calls this run"
    if client.limit_info:
        note += f"; Sforce-Limit-Info {client.limit_info}"
    return note


def _spend(settings: Settings, alignment: Alignment) -> ExtractReport:
    """Ad spend has no API: read `<drop>/spend/` through the files source when a drop folder is set."""
    if settings.drop_dir is None:
        return ExtractReport(notes=["spend: CLOSEDLOOP_DROP_DIR is not set, so no ad spend was read "
                                    "(campaign costs use Campaign.ActualCost only)"])
    from orchestration.sources import files

    return files.extract(settings, alignment, ["spend"])

