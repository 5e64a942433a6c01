"""The api source against a local HubSpot server: cursors, search windows past the cap, faults, secrets."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug import Request, Response

from orchestration.alignment import Alignment
from orchestration.duck import connect, rows
from orchestration.settings import Settings
from orchestration.sources.api import ApiError, ApiSettings, WatermarkStore, extract
from orchestration.sources.api.state import epoch_ms, parse_time

TOKEN = "pat-na1-11111111-2222-3333-4444-fakehubspottoken"
PAGE = 2


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def contact(number: int, modified: datetime, **properties) -> dict:
    return {"id": str(number), "archived": False, "createdAt": iso(modified - timedelta(days=1)),
            "updatedAt": iso(modified),
            "properties": {"email": f"c{number}@example.com", "hs_object_id": str(number),
                           "createdate": iso(modified - timedelta(days=1)), "lastmodifieddate": iso(modified),
                           "lifecyclestage": "lead", **properties}}


class FakeHubSpot:
    def __init__(self, now: datetime):
        self.now = now
        self.contacts: dict[str, dict] = {str(n): contact(n, now - timedelta(hours=10 - n)) for n in range(1, 6)}
        self.archived = [{**contact(99, now - timedelta(days=3)), "archived": True, "archivedAt": iso(now)}]
        self.events = [{"id": f"ev-{n}", "type": "CLICK" if n % 2 else "OPEN", "recipient": f"c{n}@example.com",
                        "created": epoch_ms(now - timedelta(hours=n)), "emailCampaignId": 555,
                        "sentBy": {"id": f"s-{n}", "created": epoch_ms(now - timedelta(hours=n, minutes=5))}}
                       for n in range(1, 6)]
        self.forms = [{"id": "f-demo", "name": "Request a demo", "formType": "hubspot", "archived": False},
                      {"id": "f-news", "name": "Newsletter", "formType": "hubspot", "archived": False}]
        self.submissions = {"f-demo": [self.submission(n) for n in range(1, 6)], "f-news": [self.submission(9)]}
        self.emails = [{"id": "555", "name": "March newsletter", "campaign": "cmp-1", "state": "PUBLISHED"}]
        self.search_cap = 10_000
        self.faults: list[tuple[str, object]] = []
        self.search_bodies: list[dict] = []
        self.event_params: list[dict] = []

    def submission(self, n: int) -> dict:
        return {"submittedAt": epoch_ms(self.now - timedelta(hours=n)), "pageUrl": f"https://x.io/p?utm_medium=cpc&n={n}",
                "values": [{"name": "email", "value": f"c{n}@example.com"}, {"name": "firstname", "value": "Ann"}]}

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _json({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        for index, (pattern, action) in enumerate(self.faults):
            if re.search(pattern, request.full_path):
                del self.faults[index]
                if isinstance(action, Response):
                    return action
                if action == "truncated":
                    body = self._serve(request).get_data(as_text=True)
                    return Response(body[: len(body) - 7], 200, content_type="application/json")
        return self._serve(request)

    def _serve(self, request: Request) -> Response:
        path, args = request.path, request.args
        if path == "/crm/v3/objects/contacts":
            records = self.archived if args.get("archived") == "true" else sorted(
                self.contacts.values(), key=lambda c: int(c["id"]))
            return _json(_cursor_page(records, int(args.get("after", 0))))
        if path == "/crm/v3/objects/contacts/search":
            body = json.loads(request.get_data())
            self.search_bodies.append(body)
            after = int(body.get("after", 0))
            if after >= self.search_cap:
                return _json({"status": "error", "message": "cannot page past the result cap"}, 400)
            rules = body["filterGroups"][0]["filters"]
            chosen = [c for c in self.contacts.values() if all(_matches(c, rule) for rule in rules)]
            sort = body["sorts"][0]["propertyName"]
            chosen.sort(key=lambda c: _sort_key(c, sort))
            page = _cursor_page(chosen, after)
            page["total"] = len(chosen)
            return _json(page)
        if path == "/email/public/v1/events":
            self.event_params.append(dict(args))
            chosen = [e for e in self.events
                      if int(args.get("startTimestamp", 0)) <= e["created"] < int(args.get("endTimestamp", 2**62))]
            offset = int(args.get("offset", 0))
            body = {"events": chosen[offset: offset + PAGE], "hasMore": offset + PAGE < len(chosen)}
            if body["hasMore"]:
                body["offset"] = str(offset + PAGE)
            return _json(body)
        if path == "/marketing/v3/forms":
            return _json(_cursor_page(self.forms, int(args.get("after", 0))))
        if match := re.fullmatch(r"/form-integrations/v1/submissions/forms/([\w-]+)", path):
            records = sorted(self.submissions[match.group(1)], key=lambda s: -s["submittedAt"])
            return _json(_cursor_page(records, int(args.get("after", 0))))
        if path == "/marketing/v3/emails":
            return _json(_cursor_page(self.emails, int(args.get("after", 0))))
        return _json({"status": "error", "message": "not found"}, 404)


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _cursor_page(records: list, after: int) -> dict:
    page = {"results": records[after: after + PAGE]}
    if after + PAGE < len(records):
        page["paging"] = {"next": {"after": str(after + PAGE), "link": "https://api.hubapi.com/..."}}
    return page


def _value(record: dict, name: str) -> int:
    value = record["properties"][name]
    return int(value) if name == "hs_object_id" else epoch_ms(parse_time(value))


def _matches(record: dict, rule: dict) -> bool:
    actual, wanted = _value(record, rule["propertyName"]), int(rule["value"])
    return {"GTE": actual >= wanted, "EQ": actual == wanted, "GT": actual > wanted}[rule["operator"]]


def _sort_key(record: dict, sort: str) -> tuple:
    return (_value(record, sort),) if sort == "hs_object_id" else (_value(record, sort), int(record["id"]))


@pytest.fixture
def hubspot(httpserver):
    fake = FakeHubSpot(datetime.now(UTC) - timedelta(minutes=1))
    httpserver.expect_request(re.compile(r".*")).respond_with_handler(fake.handle)
    return fake


def api_settings(httpserver, **overrides) -> ApiSettings:
    values = dict(hubspot_base_url=httpserver.url_for("").rstrip("/"), hubspot_access_token=TOKEN,
                  backoff_base_seconds=0.01, backoff_max_seconds=0.05, timeout_seconds=1.0, max_attempts=4)
    values.update(overrides)
    return ApiSettings(**values)


def run(tmp_path: Path, httpserver, **overrides):
    return extract(Settings(source="api", warehouse_dir=tmp_path / "warehouse"), Alignment(), ["hubspot"],
                   api_settings(httpserver, **overrides))


def raw(tmp_path: Path, obj: str, columns: str, where: str = "true") -> list[tuple]:
    files = f"{tmp_path}/warehouse/raw/hubspot/{obj}/*.parquet"
    return rows(connect(), f"select {columns} from read_parquet('{files}', union_by_name=true) where {where} "
                           "order by all")


def current_contacts(tmp_path: Path) -> dict[str, str]:
    """Contacts as staging keeps them: per id the greatest updatedAt (ties: later batch)."""
    latest = raw(tmp_path, "contacts", "id, properties, archived",
                 "id is not null qualify row_number() over "
                 "(partition by id order by updatedAt desc, _batch_id desc) = 1")
    return {i: json.loads(p)["lastmodifieddate"] + ("/archived" if a == "true" else "") for i, p, a in latest}


def server_contacts(fake: FakeHubSpot) -> dict[str, str]:
    found = {c["id"]: c["properties"]["lastmodifieddate"] for c in fake.contacts.values()}
    return found | {c["id"]: c["properties"]["lastmodifieddate"] + "/archived" for c in fake.archived}


def marks(tmp_path: Path) -> dict[str, str]:
    return WatermarkStore(tmp_path / "warehouse").as_dict()


def test_full_load_lands_every_object_in_api_shape(tmp_path, httpserver, hubspot):
    report = run(tmp_path, httpserver)

    assert report.rows_by_object() == {"hubspot/contacts": 6, "hubspot/email_events": 5, "hubspot/forms": 2,
                                       "hubspot/form_submissions": 6, "hubspot/marketing_emails": 1}
    assert current_contacts(tmp_path) == server_contacts(hubspot)
    one = raw(tmp_path, "contacts", "id, createdAt, updatedAt, archived, properties", "id = '1'")[0]
    source = hubspot.contacts["1"]
    assert one[:4] == ("1", source["createdAt"], source["updatedAt"], "false")
    assert json.loads(one[4]) == source["properties"]
    assert raw(tmp_path, "email_events", "id, type, created, emailCampaignId, sentBy", "id = 'ev-1'") == [
        ("ev-1", "CLICK", str(hubspot.events[0]["created"]), "555", json.dumps(hubspot.events[0]["sentBy"],
                                                                               separators=(",", ":")))]
    submissions = raw(tmp_path, "form_submissions", "formGuid, submittedAt, pageUrl, values")
    assert {s[0] for s in submissions} == {"f-demo", "f-news"} and len(submissions) == 6
    assert json.loads(submissions[0][3])[0]["name"] == "email"
    assert raw(tmp_path, "forms", "id, name") == [("f-demo", "Request a demo"), ("f-news", "Newsletter")]
    assert raw(tmp_path, "marketing_emails", "id, name, campaign") == [("555", "March newsletter", "cmp-1")]
    mark = marks(tmp_path)
    assert parse_time(mark["hubspot/contacts"]) == parse_time(hubspot.contacts["5"]["updatedAt"])
    assert {"hubspot/email_events", "hubspot/form_submissions/f-demo", "hubspot/form_submissions/f-news"} <= set(mark)
    assert "startTimestamp" not in hubspot.event_params[0]
    assert any(note.startswith("hubspot: ") and "API calls" in note for note in report.notes)


def test_incremental_search_windows_past_the_result_cap_without_losing_a_contact(tmp_path, httpserver, hubspot):
    run(tmp_path, httpserver)
    first_mark = parse_time(marks(tmp_path)["hubspot/contacts"])
    same_instant = hubspot.now + timedelta(seconds=10)
    for n in range(10, 17):  # seven contacts changed in one millisecond: more than a capped window holds
        hubspot.contacts[str(n)] = contact(n, same_instant)
    for n in (2, 3):
        hubspot.contacts[str(n)] = contact(n, hubspot.now + timedelta(seconds=n), lifecyclestage="customer")
    for n in range(20, 25):
        hubspot.contacts[str(n)] = contact(n, hubspot.now + timedelta(seconds=20 + n))
    hubspot.search_cap = 4  # windows of two pages
    hubspot.search_bodies.clear()

    run(tmp_path, httpserver, hubspot_search_cap=4)

    assert current_contacts(tmp_path) == server_contacts(hubspot)
    changed = {str(n) for n in (2, 3, *range(10, 17), *range(20, 25))}
    landed_now = {r[0] for r in raw(tmp_path, "contacts", "distinct id", f"updatedAt > '{iso(first_mark)}'")}
    assert landed_now == changed
    first = hubspot.search_bodies[0]["filterGroups"][0]["filters"][0]
    assert first == {"propertyName": "lastmodifieddate", "operator": "GTE",
                     "value": str(epoch_ms(first_mark - timedelta(minutes=10)))}
    filters = [f for body in hubspot.search_bodies for f in body["filterGroups"][0]["filters"]]
    assert any(f["propertyName"] == "hs_object_id" for f in filters)  # the one-instant window was walked by id
    assert all(int(b.get("after", 0)) < 4 for b in hubspot.search_bodies)
    assert parse_time(marks(tmp_path)["hubspot/contacts"]) <= datetime.now(UTC)


def test_faults_are_retried_and_a_truncated_page_fails_then_the_next_run_completes(tmp_path, httpserver, hubspot,
                                                                                    caplog):
    caplog.set_level(logging.DEBUG)
    hubspot.faults = [
        (r"/crm/v3/objects/contacts\?", Response("slow down", 429, {"Retry-After": "0.02"})),
        (r"/email/public/v1/events", Response("bad gateway", 502)),
        (r"/email/public/v1/events.*offset=2", Response("unavailable", 503)),
        (r"/submissions/forms/f-demo.*after=2", "truncated"),
    ]
    with pytest.raises(ApiError) as failure:
        run(tmp_path, httpserver)
    message = str(failure.value)
    assert "hubspot form_submissions" in message and "/form-integrations/v1/submissions/forms/f-demo" in message
    assert "not complete JSON" in message
    assert set(marks(tmp_path)) == {"hubspot/contacts", "hubspot/email_events"}  # landed before the failure
    assert raw(tmp_path, "email_events", "count(*), count(distinct id)") == [(5, 5)]
    assert not (tmp_path / "warehouse" / "raw" / "hubspot" / "form_submissions").exists()

    hubspot.submissions["f-demo"].append(hubspot.submission(0))  # a new submission arrives between the runs
    run(tmp_path, httpserver)

    keys = raw(tmp_path, "form_submissions", "formGuid, submittedAt, values, count(*)", "true group by all")
    expected = {(guid, str(s["submittedAt"])) for guid, subs in hubspot.submissions.items() for s in subs}
    assert {(guid, at) for guid, at, _, _ in keys} == expected
    assert all(copies == 1 for *_, copies in keys)
    assert current_contacts(tmp_path) == server_contacts(hubspot)
    assert raw(tmp_path, "email_events", "count(distinct id)") == [(5,)]
    assert TOKEN not in caplog.text and "HTTP 429" in caplog.text and "HTTP 502" in caplog.text


def test_incremental_events_and_submissions_read_only_from_the_watermark_minus_overlap(tmp_path, httpserver,
                                                                                       hubspot):
    run(tmp_path, httpserver)
    event_mark = parse_time(marks(tmp_path)["hubspot/email_events"])
    hubspot.events.append({"id": "ev-new", "type": "CLICK", "recipient": "c1@example.com",
                           "created": epoch_ms(datetime.now(UTC) - timedelta(seconds=1)), "emailCampaignId": 555})
    hubspot.event_params.clear()

    report = run(tmp_path, httpserver)

    assert hubspot.event_params[0]["startTimestamp"] == str(epoch_ms(event_mark - timedelta(minutes=10)))
    assert report.rows_by_object()["hubspot/email_events"] == 1
    assert report.rows_by_object()["hubspot/form_submissions"] <= 2 * PAGE  # stops after a page older than the cutoff
    assert raw(tmp_path, "email_events", "count(distinct id)") == [(6,)]


def test_token_never_appears_in_errors_logs_or_raw(tmp_path, httpserver, hubspot, caplog):
    caplog.set_level(logging.DEBUG)
    hubspot.contacts["1"]["properties"]["company"] = "Acme"
    echo = json.dumps({"status": "error", "message": f"This app lacks scope for token {TOKEN}",
                       "category": "MISSING_SCOPES"})
    hubspot.faults = [(r"/marketing/v3/emails", Response(echo, 403, content_type="application/json"))]
    with pytest.raises(ApiError) as failure:
        run(tmp_path, httpserver)
    assert "HTTP 403" in str(failure.value) and "MISSING_SCOPES" in str(failure.value)
    run(tmp_path, httpserver)
    landed = b"".join(p.read_bytes() for p in (tmp_path / "warehouse").rglob("*") if p.is_file())
    assert TOKEN not in str(failure.value) and TOKEN not in caplog.text and TOKEN.encode() not in landed
    assert TOKEN not in repr(api_settings(httpserver))


def test_spend_without_a_drop_folder_is_a_note_not_a_failure(tmp_path):
    report = extract(Settings(source="api", warehouse_dir=tmp_path / "warehouse"), Alignment(), ["spend"],
                     ApiSettings())
    assert report.batches == [] and any("CLOSEDLOOP_DROP_DIR is not set" in note for note in report.notes)
    assert list((tmp_path / "warehouse" / "raw" / "spend" / "ad_spend").glob("*.parquet"))  # schema for dbt
