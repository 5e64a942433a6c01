"""Salesforce REST: SOQL through `queryAll`, incremental on SystemModstamp (CreatedDate for LeadHistory).

Per object: describe it (objects the org lacks, e.g. DatedConversionRate without advanced
currency management, are skipped with a note; registered fields the org lacks, e.g.
CurrencyIsoCode in a single-currency org, are left out of the SOQL and land as null), then

    SELECT <registry fields> FROM <Object> [WHERE <wm field> >= <watermark - overlap>] ORDER BY <wm field>

through `queryAll` (so deleted records arrive with IsDeleted = true), following
`nextRecordsUrl`. Because the rows come in watermark order, the watermark can advance after
every landed batch: whatever was not landed yet is at or after it. It never passes the time
the query started, so a record changed while the run pages through is read again next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import requests

from orchestration.alignment import Alignment
from orchestration.raw_schema import SALESFORCE_OBJECTS, RawObject, with_custom_fields
from orchestration.sources.api.batches import BatchWriter
from orchestration.sources.api.http import ApiError, ApiSettings, JsonClient, Masker, load_json
from orchestration.sources.api.state import WatermarkStore, format_time, parse_time, since

log = logging.getLogger("orchestration.sources.api")
SYSTEM = "salesforce"


def salesforce_client(settings: ApiSettings, masker: Masker) -> JsonClient:
    settings.check_salesforce()
    token_box: dict[str, str] = {}
    if settings.salesforce_access_token:
        token_box["token"] = settings.salesforce_access_token

    def fetch_token() -> str:
        token_box["token"] = _client_credentials_token(settings, masker)
        masker.add(token_box["token"])
        return token_box["token"]

    def token() -> str:
        return token_box.get("token") or fetch_token()

    can_refresh = bool(settings.salesforce_client_id and settings.salesforce_client_secret)
    return JsonClient(SYSTEM, settings.salesforce_instance_url or "", settings, masker, token=token,
                      refresh_token=fetch_token if can_refresh else None)


def _client_credentials_token(settings: ApiSettings, masker: Masker) -> str:
    """OAuth 2.0 client-credentials flow against the instance's token endpoint."""
    url = f"{settings.salesforce_instance_url}/services/oauth2/token"
    try:
        answer = requests.post(url, data={"grant_type": "client_credentials",
                                          "client_id": settings.salesforce_client_id,
                                          "client_secret": settings.salesforce_client_secret},
                               timeout=settings.timeout_seconds)
    except (requests.ConnectionError, requests.Timeout) as error:
        raise ApiError(f"salesforce OAuth: POST /services/oauth2/token failed ({type(error).__name__})") from None
    if answer.status_code != 200:
        raise ApiError(masker(f"salesforce OAuth: POST /services/oauth2/token answered HTTP {answer.status_code}; "
                              "check CLOSEDLOOP_SALESFORCE_CLIENT_ID/SECRET and that the connected app enables "
                              "the client credentials flow with a run-as user"))
    try:
        token = load_json(answer.text)["access_token"]
    except (ValueError, KeyError, TypeError):
        raise ApiError("salesforce OAuth: the token endpoint's answer holds no access_token") from None
    return str(token)


def soql_fields(obj: RawObject, alignment: Alignment) -> RawObject:
    """The registry object plus the org's custom disqualification-reason field on Lead."""
    custom = alignment.crm.disqualification_reason_field
    return with_custom_fields(obj, [custom]) if obj.name == "Lead" and custom else obj


def watermark_field(obj: RawObject, available: set[str]) -> str:
    """SystemModstamp where the object has it; CreatedDate for history objects without it (LeadHistory)."""
    if "SystemModstamp" in obj.fields and "SystemModstamp" in available:
        return "SystemModstamp"
    return "CreatedDate"


def build_soql(obj: str, fields: list[str], wm_field: str, start: datetime | None) -> str:
    where = f" WHERE {wm_field} >= {start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if start else ""
    return f"SELECT {', '.join(fields)} FROM {obj}{where} ORDER BY {wm_field} ASC"


class SalesforceExtractor:
    def __init__(self, client: JsonClient, settings: ApiSettings, alignment: Alignment, store: WatermarkStore,
                 con: duckdb.DuckDBPyConnection, raw_dir: Path):
        self.client = client
        self.settings = settings
        self.alignment = alignment
        self.store = store
        self.con = con
        self.raw_dir = raw_dir
        self.notes: list[str] = []
        self.base = f"/services/data/{settings.salesforce_api_version}"

    def run(self) -> list:
        landed = []
        for registered in SALESFORCE_OBJECTS:
            landed += self.extract_object(soql_fields(registered, self.alignment))
        return landed

    def describe(self, obj: RawObject) -> set[str] | None:
        """Field names the org has on the object; None when the org lacks the object."""
        try:
            answer = self.client.get(f"{self.base}/sobjects/{obj.name}/describe", what=obj.name)
        except ApiError as error:
            if "HTTP 404" in str(error):
                return None
            raise
        if not isinstance(answer, dict) or not isinstance(answer.get("fields"), list):
            raise ApiError(f"salesforce {obj.name}: describe answered without a fields list")
        return {f["name"] for f in answer["fields"] if isinstance(f, dict) and "name" in f}

    def extract_object(self, obj: RawObject) -> list:
        available = self.describe(obj)
        if available is None:
            self.notes.append(f"salesforce/{obj.name}: not available in this org (describe 404); nothing extracted")
            return []
        fields = [name for name in obj.fields if name in available]
        missing = [name for name in obj.fields if name not in available]
        if missing:
            self.notes.append(f"salesforce/{obj.name}: org lacks {', '.join(missing)}; landed as null")
        if "Id" not in fields:
            raise ApiError(f"salesforce {obj.name}: describe lists no Id field")
        wm_field = watermark_field(obj, available)
        if wm_field not in available:
            raise ApiError(f"salesforce {obj.name}: describe lists neither SystemModstamp nor CreatedDate")
        stream = f"{SYSTEM}/{obj.name}"
        watermark = None if self.settings.full_refresh else self.store.get(stream)
        start = since(watermark, self.settings.overlap_minutes)
        query_started = datetime.now(UTC)
        newest: list[datetime] = []

        def advance() -> None:
            if newest:
                self.store.set(stream, min(newest[0], query_started))

        writer = BatchWriter(self.con, self.raw_dir, obj, self.settings.pages_per_batch, on_landed=advance)
        soql = build_soql(obj.name, fields, wm_field, start)
        log.info("salesforce/%s: %s", obj.name, "full extract" if start is None else f"changed since {start:%c}")
        path: str | None = f"{self.base}/queryAll"
        params: dict[str, Any] | None = {"q": soql}
        while path:
            source = urlsplit(path).path
            page = self.client.get(path, what=obj.name, params=params)
            records, path = _check_page(page, obj.name, source)
            params = None
            rows = []
            for record in records:
                row = {key: value for key, value in record.items() if key != "attributes"}
                if stamp := row.get(wm_field):
                    seen = parse_time(stamp)
                    newest[:] = [max(newest[0], seen)] if newest else [seen]
                rows.append(row)
            writer.add_page(rows, source)
        writer.flush()
        log.info("salesforce/%s: %s records landed; watermark %s", obj.name, writer.rows,
                 format_time(w) if (w := self.store.get(stream)) else "unset")
        return writer.landed


def _check_page(page: Any, obj: str, path: str) -> tuple[list[dict], str | None]:
    """The page's records and the next page's path; a page of another shape fails the extract."""
    where = f"salesforce {obj}: GET {urlsplit(path).path}"
    if not isinstance(page, dict) or not isinstance(page.get("records"), list) or "done" not in page:
        raise ApiError(f"{where} answered a page without records/done; nothing of it was landed")
    if not all(isinstance(record, dict) for record in page["records"]):
        raise ApiError(f"{where} answered records that are not objects; nothing of the page was landed")
    done = page["done"] is True or str(page["done"]).lower() == "true"
    next_url = page.get("nextRecordsUrl")
    if not done and not next_url:
        raise ApiError(f"{where} answered done=false without nextRecordsUrl; the extract cannot continue")
    return page["records"], None if done else str(next_url)
