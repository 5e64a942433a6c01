"""HubSpot: CRM v3 contacts, email events, forms, form submissions and marketing emails.

- contacts: the first (or a full) run pages `GET /crm/v3/objects/contacts` by its `after`
  cursor; later runs search `POST /crm/v3/objects/contacts/search` for lastmodifieddate >=
  watermark - overlap, sorted ascending. The search API returns at most 10,000 results per
  query, so a query that reaches the cap is restarted from the last lastmodifieddate seen;
  when 10,000 contacts share one millisecond, that instant is walked by hs_object_id. Archived
  contacts (which search never returns) are listed with `archived=true` on every run.
- email_events: `GET /email/public/v1/events` by `offset` while `hasMore`, between
  startTimestamp (watermark - overlap) and endTimestamp (the run's start).
- forms: `GET /marketing/v3/forms` (v3 ids are the v2 guids), all of them each run.
- form_submissions: per form, `GET /form-integrations/v1/submissions/forms/<guid>` by `after`,
  newest first; an incremental run stops after a page wholly older than its cutoff. Each
  record gets the `formGuid` of the request.
- marketing_emails: `GET /marketing/v3/emails` by `after`, all of them each run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.landing import LandedBatch
from orchestration.raw_schema import HUBSPOT_CONTACT_PROPERTIES, raw_object
from orchestration.sources.api.batches import BatchWriter, as_text
from orchestration.sources.api.http import ApiError, ApiSettings, JsonClient, Masker
from orchestration.sources.api.state import WatermarkStore, epoch_ms, parse_time, since

log = logging.getLogger("orchestration.sources.api")
SYSTEM = "hubspot"
CONTACTS_PATH = "/crm/v3/objects/contacts"
SEARCH_PATH = "/crm/v3/objects/contacts/search"
EVENTS_PATH = "/email/public/v1/events"
FORMS_PATH = "/marketing/v3/forms"
SUBMISSIONS_PATH = "/form-integrations/v1/submissions/forms/{guid}"
EMAILS_PATH = "/marketing/v3/emails"
LIST_LIMIT = 100
SEARCH_LIMIT = 100
EVENTS_LIMIT = 1000
SUBMISSIONS_LIMIT = 50
PROPERTIES_PARAM = ",".join(HUBSPOT_CONTACT_PROPERTIES)


def hubspot_client(settings: ApiSettings, masker: Masker) -> JsonClient:
    settings.check_hubspot()
    token = settings.hubspot_access_token or ""
    return JsonClient(SYSTEM, settings.hubspot_base_url, settings, masker, token=lambda: token)


def contact_row(record: dict[str, Any]) -> dict[str, Any]:
    """A CRM v3 contact as raw: id, properties as JSON text, createdAt, updatedAt, archived (+ extras)."""
    row = dict(record)
    row["properties"] = as_text(record.get("properties") or {})
    return row


def contact_modified(record: dict[str, Any]) -> datetime | None:
    properties = record.get("properties") or {}
    value = properties.get("lastmodifieddate") or record.get("updatedAt")
    return parse_time(value) if value else None


class SearchCapReached(Exception):
    """A search query reached HubSpot's result cap; restart it from a later position."""


class HubSpotExtractor:
    def __init__(self, client: JsonClient, settings: ApiSettings, store: WatermarkStore,
                 con: duckdb.DuckDBPyConnection, raw_dir: Path):
        self.client = client
        self.settings = settings
        self.store = store
        self.con = con
        self.raw_dir = raw_dir
        self.notes: list[str] = []
        self.started = datetime.now(UTC)

    def run(self) -> list[LandedBatch]:
        landed = self.contacts()
        landed += self.email_events()
        forms, form_batches = self.forms()
        landed += form_batches
        landed += self.form_submissions(forms)
        landed += self.marketing_emails()
        return landed

    def _watermark(self, stream: str) -> datetime | None:
        return None if self.settings.full_refresh else self.store.get(stream)

    def _writer(self, name: str, on_landed: Callable[[], None] | None = None) -> BatchWriter:
        return BatchWriter(self.con, self.raw_dir, raw_object(SYSTEM, name), self.settings.pages_per_batch,
                           on_landed)

    # contacts -------------------------------------------------------------------------------
    def contacts(self) -> list[LandedBatch]:
        stream = f"{SYSTEM}/contacts"
        start = since(self._watermark(stream), self.settings.overlap_minutes)
        newest: list[datetime] = []

        def track(records: list[dict]) -> list[dict]:
            for record in records:
                if (modified := contact_modified(record)) is not None:
                    newest[:] = [max(newest[0], modified)] if newest else [modified]
            return [contact_row(record) for record in records]

        if start is None:
            # The list is in id order, not time order: the watermark moves only once every page is landed.
            writer = self._writer("contacts")
            for page in self._list_pages(CONTACTS_PATH, "contacts", {"properties": PROPERTIES_PARAM}):
                writer.add_page(track(page), CONTACTS_PATH)
        else:
            # Search results come in lastmodifieddate order: the watermark may move after every landed batch.
            def advance() -> None:
                if newest:
                    self.store.set(stream, min(newest[0], self.started))

            writer = self._writer("contacts", advance)
            for page in self._search_pages(start):
                writer.add_page(track(page), SEARCH_PATH)
        for page in self._list_pages(CONTACTS_PATH, "contacts (archived)",
                                     {"archived": "true", "properties": PROPERTIES_PARAM}):
            writer.add_page([contact_row(record) for record in page], CONTACTS_PATH + "?archived=true")
        writer.flush()
        if newest:
            self.store.set(stream, min(newest[0], self.started))
        return writer.landed

    def _list_pages(self, path: str, what: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        after: str | None = None
        while True:
            query = {"limit": LIST_LIMIT, **params, **({"after": after} if after else {})}
            page = self.client.get(path, what=what, params=query)
            records = _results(page, what, path)
            yield records
            after = _next_after(page, what, path)
            if after is None:
                return

    def _search_pages(self, start: datetime) -> Iterator[list[dict]]:
        """Every contact modified at or after `start`, in lastmodifieddate order, despite the result cap."""
        lower = epoch_ms(start)
        while True:
            last_seen: list[dict] = []
            try:
                for page in self._search(
                        [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(lower)}],
                        "lastmodifieddate"):
                    last_seen = page or last_seen
                    yield page
                return
            except SearchCapReached:
                pass
            reached = epoch_ms(contact_modified(last_seen[-1]))  # restart where the capped query stopped
            if reached > lower:
                log.info("hubspot/contacts: search cap reached; restarting from lastmodifieddate %s", reached)
                lower = reached
                continue
            # The whole capped window is one millisecond: walk that instant by object id, then go on after it.
            yield from self._search_instant(lower)
            lower += 1

    def _search_instant(self, instant: int) -> Iterator[list[dict]]:
        after_id = "0"
        while True:
            last_seen: list[dict] = []
            try:
                for page in self._search(
                        [{"propertyName": "lastmodifieddate", "operator": "EQ", "value": str(instant)},
                         {"propertyName": "hs_object_id", "operator": "GT", "value": after_id}],
                        "hs_object_id"):
                    last_seen = page or last_seen
                    yield page
                return
            except SearchCapReached:
                after_id = str(last_seen[-1]["id"])

    def _search(self, filters: list[dict], sort: str) -> Iterator[list[dict]]:
        after: str | None = None
        while True:
            body = {"filterGroups": [{"filters": filters}],
                    "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                    "properties": list(HUBSPOT_CONTACT_PROPERTIES), "limit": SEARCH_LIMIT}
            if after:
                body["after"] = after
            page = self.client.post(SEARCH_PATH, what="contacts (search)", body=body)
            results = _results(page, "contacts (search)", SEARCH_PATH)
            yield results
            after = _next_after(page, "contacts (search)", SEARCH_PATH)
            if after is None:
                return
            if int(after) + max(len(results), 1) > self.settings.hubspot_search_cap:
                raise SearchCapReached  # the next page would pass the cap, which HubSpot answers with a 400

    # email events ---------------------------------------------------------------------------
    def email_events(self) -> list[LandedBatch]:
        stream = f"{SYSTEM}/email_events"
        start = since(self._watermark(stream), self.settings.overlap_minutes)
        end = self.started
        writer = self._writer("email_events")
        offset: str | None = None
        while True:
            params: dict[str, Any] = {"limit": EVENTS_LIMIT, "endTimestamp": epoch_ms(end)}
            if start is not None:
                params["startTimestamp"] = epoch_ms(start)
            if offset:
                params["offset"] = offset
            page = self.client.get(EVENTS_PATH, what="email_events", params=params)
            if not isinstance(page, dict) or not isinstance(page.get("events"), list) or "hasMore" not in page:
                raise ApiError(f"hubspot email_events: GET {EVENTS_PATH} answered a page without events/hasMore; "
                               "nothing of it was landed")
            has_more = page["hasMore"] is True or str(page["hasMore"]).lower() == "true"
            if has_more and not page.get("offset"):
                raise ApiError(f"hubspot email_events: GET {EVENTS_PATH} answered hasMore without an offset")
            writer.add_page(page["events"], EVENTS_PATH)
            if not has_more:
                break
            offset = str(page["offset"])
        writer.flush()
        self.store.set(stream, end)  # every event created before `end` is landed
        return writer.landed

    # forms, submissions, marketing emails ---------------------------------------------------
    def forms(self) -> tuple[list[str], list[LandedBatch]]:
        writer = self._writer("forms")
        guids: list[str] = []
        for page in self._list_pages(FORMS_PATH, "forms", {}):
            for form in page:
                guid = form.get("guid") or form.get("id")
                if not guid:
                    raise ApiError(f"hubspot forms: GET {FORMS_PATH} answered a form without id")
                guids.append(str(guid))
            writer.add_page(page, FORMS_PATH)
        writer.flush()
        return guids, writer.landed

    def form_submissions(self, guids: list[str]) -> list[LandedBatch]:
        landed: list[LandedBatch] = []
        for guid in guids:
            stream = f"{SYSTEM}/form_submissions/{guid}"
            cutoff = since(self._watermark(stream), self.settings.overlap_minutes)
            path = SUBMISSIONS_PATH.format(guid=guid)
            writer = self._writer("form_submissions")
            after: str | None = None
            while True:
                params = {"limit": SUBMISSIONS_LIMIT, **({"after": after} if after else {})}
                page = self.client.get(path, what="form_submissions", params=params)
                records = _results(page, "form_submissions", path)
                writer.add_page([{"formGuid": guid, **record} for record in records], path)
                after = _next_after(page, "form_submissions", path)
                older = cutoff is not None and records and all(
                    record.get("submittedAt") is not None and parse_time(record["submittedAt"]) < cutoff
                    for record in records)
                if after is None or older:
                    break  # newest first: a page wholly before the cutoff ends the incremental read
            writer.flush()
            self.store.set(stream, self.started)
            landed += writer.landed
        return landed

    def marketing_emails(self) -> list[LandedBatch]:
        writer = self._writer("marketing_emails")
        for page in self._list_pages(EMAILS_PATH, "marketing_emails", {}):
            writer.add_page(page, EMAILS_PATH)
        writer.flush()
        return writer.landed


def _results(page: Any, what: str, path: str) -> list[dict]:
    if not isinstance(page, dict) or not isinstance(page.get("results"), list) or not all(
            isinstance(record, dict) for record in page["results"]):
        raise ApiError(f"hubspot {what}: {path} answered a page without a results list; nothing of it was landed")
    return page["results"]


def _next_after(page: dict, what: str, path: str) -> str | None:
    paging = page.get("paging")
    if paging is None:
        return None
    nxt = paging.get("next") if isinstance(paging, dict) else None
    if nxt is None:
        return None
    if not isinstance(nxt, dict) or not nxt.get("after"):
        raise ApiError(f"hubspot {what}: {path} answered paging.next without an after cursor")
    return str(nxt["after"])

