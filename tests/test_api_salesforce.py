"""The api source against a local Salesforce REST server: paging, increments, faults, secrets."""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug import Request, Response

from orchestration.alignment import Alignment, Crm
from orchestration.duck import connect, rows
from orchestration.raw_schema import SALESFORCE_OBJECTS
from orchestration.settings import Settings
from orchestration.sources.api import ApiConfigError, ApiError, ApiSettings, WatermarkStore, extract
from orchestration.sources.api import http as api_http

TOKEN = "00Dxx0000001gPL!AQ4AQFakeSalesforceTokenValue"
VERSION = "v60.0"
BASE = f"/services/data/{VERSION}"
CUSTOM = "Disqualification_Reason__c"
ALIGNMENT = Alignment(crm=Crm(disqualification_reason_field=CUSTOM))


def stamp(minutes_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def lead(number: int, minutes_ago: float, **changes) -> dict:
    return {"attributes": {"type": "Lead", "url": f"{BASE}/sobjects/Lead/00Q{number:03d}"},
            "Id": f"00Q{number:03d}", "Email": f"p{number}@example.com", "Company": "Acme", "Status": "Open",
            "NumberOfEmployees": 250, "IsConverted": False, "IsDeleted": False, CUSTOM: None,
            "CreatedDate": stamp(minutes_ago + 60), "SystemModstamp": stamp(minutes_ago), **changes}


class FakeSalesforce:
    """Speaks describe, queryAll (SOQL subset: fields, WHERE <field> >= <datetime>, ORDER BY) and nextRecordsUrl.

    A query snapshots the matching ids in order; each page returns their current values, as
    Salesforce's query cursors do. `faults` is a list of (path regex, action) consumed once each.
    """

    def __init__(self, page_size: int = 2):
        self.page_size = page_size
        self.records: dict[str, list[dict]] = {obj.name: [] for obj in SALESFORCE_OBJECTS}
        self.missing_objects: set[str] = {"DatedConversionRate"}
        self.missing_fields: dict[str, set[str]] = {"Opportunity": {"CurrencyIsoCode"}}
        self.cursors: dict[str, tuple[str, list[str], list[str]]] = {}
        self.faults: list[tuple[str, object]] = []
        self.queries: list[str] = []
        self.on_page: dict[tuple[str, int], object] = {}  # (object, page number) -> callback before serving
        self.expected_token = TOKEN
        self.lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.expected_token}":
            return Response(json.dumps([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
                            401, content_type="application/json")
        for index, (pattern, action) in enumerate(self.faults):
            if re.search(pattern, request.full_path):
                del self.faults[index]
                if isinstance(action, Response):
                    return action
                if action == "slow":
                    threading.Event().wait(0.4)  # longer than the client's timeout
                    break
                if action == "truncated":
                    body = self._serve(request).get_data(as_text=True)
                    return Response(body[: len(body) // 2], 200, content_type="application/json")
        return self._serve(request)

    def _serve(self, request: Request) -> Response:
        headers = {"Sforce-Limit-Info": "api-usage=42/15000"}
        path = request.path
        if match := re.fullmatch(rf"{BASE}/sobjects/(\w+)/describe", path):
            name = match.group(1)
            if name in self.missing_objects:
                return Response(json.dumps([{"errorCode": "NOT_FOUND", "message": "The requested resource does "
                                                                                   "not exist"}]), 404)
            obj = next(o for o in SALESFORCE_OBJECTS if o.name == name)
            names = [f for f in obj.fields if f not in self.missing_fields.get(name, set())]
            if name == "Lead":
                names.append(CUSTOM)
            return Response(json.dumps({"name": name, "fields": [{"name": n} for n in names]}), 200, headers,
                            content_type="application/json")
        if path == f"{BASE}/queryAll":
            soql = request.args["q"]
            self.queries.append(soql)
            match = re.fullmatch(r"SELECT (.+) FROM (\w+)(?: WHERE (\w+) >= (\S+))? ORDER BY (\w+) ASC", soql)
            assert match, soql
            fields, name, where_field, where_value, order = match.groups()
            chosen = self.records[name]
            if where_field:
                since = datetime.fromisoformat(where_value.replace("Z", "+00:00"))
                chosen = [r for r in chosen if _time(r[where_field]) >= since]
            ids = [r["Id"] for r in sorted(chosen, key=lambda r: _time(r[order]))]
            cursor = f"01gFAKE{len(self.cursors):04d}"
            self.cursors[cursor] = (name, ids, fields.split(", "))
            return self._page(cursor, 0, headers)
        if match := re.fullmatch(rf"{BASE}/query/(\w+)-(\d+)", path):
            return self._page(match.group(1), int(match.group(2)), headers)
        return Response("not found", 404)

    def _page(self, cursor: str, start: int, headers: dict) -> Response:
        name, ids, fields = self.cursors[cursor]
        page_number = start // self.page_size
        if callback := self.on_page.pop((name, page_number), None):
            callback()
        current = {r["Id"]: r for r in self.records[name]}
        chunk = [current[i] for i in ids[start: start + self.page_size] if i in current]
        records = [{"attributes": r.get("attributes", {"type": name}), **{f: r.get(f) for f in fields}} for r in chunk]
        end = start + self.page_size
        body = {"totalSize": len(ids), "done": end >= len(ids), "records": records}
        if end < len(ids):
            body["nextRecordsUrl"] = f"{BASE}/query/{cursor}-{end}"
        # Numbers as Salesforce writes them (e.g. 12.50 keeps its text through the extract)
        text = json.dumps(body).replace('"__NUM__', "").replace('__NUM__"', "")
        return Response(text, 200, headers, content_type="application/json")


def _time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


@pytest.fixture
def salesforce(httpserver):
    fake = FakeSalesforce()
    httpserver.expect_request(re.compile(r".*")).respond_with_handler(fake.handle)
    return fake


def api_settings(httpserver, **overrides) -> ApiSettings:
    values = dict(salesforce_instance_url=httpserver.url_for("").rstrip("/"), salesforce_access_token=TOKEN,
                  hubspot_base_url=httpserver.url_for("").rstrip("/"), backoff_base_seconds=0.01,
                  backoff_max_seconds=0.05, timeout_seconds=0.2, max_attempts=5, pages_per_batch=20)
    values.update(overrides)
    return ApiSettings(**values)


def settings(tmp_path: Path) -> Settings:
    return Settings(source="api", warehouse_dir=tmp_path / "warehouse")


def raw(tmp_path: Path, obj: str, columns: str = "*", where: str = "true") -> list[tuple]:
    files = f"{tmp_path}/warehouse/raw/salesforce/{obj}/*.parquet"
    return rows(connect(), f"select {columns} from read_parquet('{files}', union_by_name=true) where {where} "
                           "order by all")


def current(tmp_path: Path) -> dict[str, tuple]:
    """Lead as staging keeps it: one version per Id, the greatest SystemModstamp, ties to the later batch."""
    found = raw(tmp_path, "Lead", "Id, Status, SystemModstamp, _batch_id", "Id is not null")
    latest: dict[str, tuple] = {}
    for lead_id, status, modstamp, batch in found:
        key = (_time(modstamp), batch)
        if lead_id not in latest or key > latest[lead_id][0]:
            latest[lead_id] = (key, status, modstamp)
    return {lead_id: (status, modstamp) for lead_id, (_, status, modstamp) in latest.items()}


def server_state(fake: FakeSalesforce) -> dict[str, tuple]:
    return {r["Id"]: (r["Status"], r["SystemModstamp"]) for r in fake.records["Lead"]}


def watermark(tmp_path: Path, stream: str = "salesforce/Lead") -> datetime | None:
    return WatermarkStore(tmp_path / "warehouse").get(stream)


def test_full_extract_pages_through_every_object_and_lands_api_values_as_text(tmp_path, httpserver, salesforce):
    salesforce.records["Lead"] = [lead(n, minutes_ago=100 - n) for n in range(1, 6)]
    salesforce.records["Lead"][0]["IsConverted"] = True
    salesforce.records["Lead"][1][CUSTOM] = "No budget"
    salesforce.records["Opportunity"] = [{"Id": "006A", "Name": "Big deal", "Amount": "__NUM__12.50__NUM__",
                                          "IsWon": True, "CreatedDate": stamp(50), "SystemModstamp": stamp(50)}]
    report = extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver))

    assert report.rows_by_object()["salesforce/Lead"] == 5
    assert len([q for q in salesforce.queries if "FROM Lead " in q]) == 1
    lead_query = next(q for q in salesforce.queries if "FROM Lead " in q)
    assert CUSTOM in lead_query and "WHERE" not in lead_query and lead_query.endswith("ORDER BY SystemModstamp ASC")
    history_query = next(q for q in salesforce.queries if "FROM LeadHistory" in q)
    assert history_query.endswith("ORDER BY CreatedDate ASC")
    assert "CurrencyIsoCode" not in next(q for q in salesforce.queries if "FROM Opportunity " in q)

    landed = raw(tmp_path, "Lead", f"Id, IsConverted, NumberOfEmployees, {CUSTOM}, IsDeleted",
                 "Id in ('00Q001', '00Q002')")
    assert landed == [("00Q001", "true", "250", None, "false"), ("00Q002", "false", "250", "No budget", "false")]
    assert raw(tmp_path, "Opportunity", "Id, Amount, IsWon, CurrencyIsoCode", "Id is not null") == [
        ("006A", "12.50", "true", None)]
    columns = [r[0] for r in rows(connect(), f"describe select * from "
                                             f"'{tmp_path}/warehouse/raw/salesforce/Lead/*.parquet'")]
    assert "attributes" not in columns and CUSTOM in columns
    assert watermark(tmp_path) == _time(salesforce.records["Lead"][-1]["SystemModstamp"])
    assert any("DatedConversionRate: not available" in note for note in report.notes)
    assert any("Opportunity: org lacks CurrencyIsoCode" in note for note in report.notes)
    assert any("Sforce-Limit-Info api-usage=42/15000" in note and "API calls" in note for note in report.notes)


def test_incremental_run_reads_from_watermark_minus_overlap_and_keeps_newest_version(tmp_path, httpserver,
                                                                                     salesforce):
    salesforce.records["Lead"] = [lead(n, minutes_ago=100 - 15 * n) for n in range(1, 6)]  # 85 ... 25 min ago
    extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver))
    first_mark = watermark(tmp_path)
    salesforce.records["Lead"][1] = lead(2, minutes_ago=1, Status="Working - Contacted")
    salesforce.records["Lead"].append(lead(6, minutes_ago=0.5))
    salesforce.queries.clear()

    report = extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver))

    lead_query = next(q for q in salesforce.queries if "FROM Lead " in q)
    expected_since = (first_mark - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"WHERE SystemModstamp >= {expected_since} ORDER BY" in lead_query
    # The changed lead 2, the new lead 6, and lead 5 again: it lies inside the 10 minute overlap.
    assert report.rows_by_object()["salesforce/Lead"] == 3
    assert current(tmp_path) == server_state(salesforce)
    assert watermark(tmp_path) == _time(salesforce.records["Lead"][-1]["SystemModstamp"])

    extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver, full_refresh=True))
    assert "WHERE" not in [q for q in salesforce.queries if "FROM Lead " in q][-1]


def test_rate_limits_server_errors_and_timeouts_are_retried_and_nothing_lands_twice(tmp_path, httpserver,
                                                                                   salesforce, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(api_http.time, "sleep", sleeps.append)
    salesforce.records["Lead"] = [lead(n, minutes_ago=100 - n) for n in range(1, 8)]
    limit_403 = json.dumps([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    salesforce.faults = [
        (r"queryAll.*FROM\+Lead\+", Response("slow down", 429, {"Retry-After": "0.04"})),
        (r"/query/.*-2", Response(limit_403, 403, content_type="application/json")),
        (r"/query/.*-4", Response("oops", 500)),
        (r"/query/.*-4", Response("bad gateway", 502)),
        (r"/query/.*-6", "slow"),
    ]
    report = extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver))

    assert salesforce.faults == []  # every fault was served
    assert report.rows_by_object()["salesforce/Lead"] == 7
    assert raw(tmp_path, "Lead", "count(*), count(distinct Id)") == [(7, 7)]
    assert current(tmp_path) == server_state(salesforce)
    # One retry per fault; the single-threaded test server may make the retry after the slow answer time out too.
    assert len(sleeps) in (5, 6) and min(sleeps) > 0
    assert max(sleeps) >= 0.04  # Retry-After honoured over the (smaller) exponential backoff


def test_bounded_attempts_fail_loudly_and_move_no_watermark(tmp_path, httpserver, salesforce):
    salesforce.records["Lead"] = [lead(n, minutes_ago=100 - n) for n in range(1, 6)]
    salesforce.faults = [(r"/query/.*-2", Response("down", 503)) for _ in range(3)]
    with pytest.raises(ApiError, match=r"salesforce Lead: GET /services/data/v60.0/query/\w+-2 still failing "
                                       r"after 3 attempts \(last: HTTP 503\)"):
        extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver, max_attempts=3))
    assert watermark(tmp_path) is None
    assert not (tmp_path / "warehouse" / "raw" / "salesforce" / "Lead").exists()


@pytest.mark.parametrize("pages_per_batch", [1, 20])
def test_truncated_page_fails_the_run_and_the_next_run_loses_and_duplicates_nothing(tmp_path, httpserver,
                                                                                    salesforce, pages_per_batch):
    salesforce.records["Lead"] = [lead(n, minutes_ago=100 - n) for n in range(1, 8)]
    salesforce.faults = [(r"/query/.*-4", "truncated")]
    config = api_settings(httpserver, pages_per_batch=pages_per_batch)
    with pytest.raises(ApiError) as failure:
        extract(settings(tmp_path), ALIGNMENT, ["salesforce"], config)
    message = str(failure.value)
    assert "salesforce Lead" in message and "/services/data/v60.0/query/" in message and "not complete JSON" in message
    mark = watermark(tmp_path)
    if pages_per_batch == 1:  # pages 1-2 landed; the watermark covers them and nothing after
        assert mark == _time(salesforce.records["Lead"][3]["SystemModstamp"])
        assert raw(tmp_path, "Lead", "count(*)") == [(4,)]
    else:  # nothing landed, nothing moved
        assert mark is None

    salesforce.records["Lead"][0] = lead(1, minutes_ago=0.2, Status="Qualified")
    extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver, pages_per_batch=pages_per_batch))

    assert current(tmp_path) == server_state(salesforce)
    landed_ids = {row[0] for row in raw(tmp_path, "Lead", "distinct Id")}
    assert landed_ids == {r["Id"] for r in salesforce.records["Lead"]}
    assert watermark(tmp_path) == _time(salesforce.records["Lead"][0]["SystemModstamp"])


def test_record_changed_while_paging_is_read_again_next_run(tmp_path, httpserver, salesforce):
    salesforce.records["Lead"] = [lead(n, minutes_ago=100 - n) for n in range(1, 7)]

    def change_during_run():
        records = salesforce.records["Lead"]
        later = datetime.now(UTC) + timedelta(seconds=2)
        records[0] = {**records[0], "Status": "Accepted",
                      "SystemModstamp": later.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
        records[5] = {**records[5], "Status": "Nurture",
                      "SystemModstamp": (later + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")}

    salesforce.on_page[("Lead", 1)] = change_during_run  # page 0 already served lead 1's old version
    before = datetime.now(UTC)
    extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver, overlap_minutes=0))
    assert current(tmp_path)["00Q001"][0] == "Open" and current(tmp_path)["00Q006"][0] == "Nurture"
    assert before <= watermark(tmp_path) <= datetime.now(UTC)  # capped at the query's start, not lead 6's stamp

    extract(settings(tmp_path), ALIGNMENT, ["salesforce"], api_settings(httpserver, overlap_minutes=0))
    assert current(tmp_path) == server_state(salesforce)


def test_oauth_client_credentials_and_no_secret_in_logs_errors_or_raw(tmp_path, httpserver, salesforce, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "client-secret-s3cr3t-value"
    salesforce.expected_token = "oauth-issued-token-0123456789"
    token_calls = []

    def token_endpoint(request: Request) -> Response:
        token_calls.append(dict(request.form))
        return Response(json.dumps({"access_token": salesforce.expected_token, "token_type": "Bearer",
                                    "instance_url": httpserver.url_for("")}), 200, content_type="application/json")

    httpserver.clear()
    httpserver.expect_request("/services/oauth2/token", method="POST").respond_with_handler(token_endpoint)
    httpserver.expect_request(re.compile(r".*")).respond_with_handler(salesforce.handle)
    salesforce.records["Lead"] = [lead(n, minutes_ago=10 - n) for n in range(1, 4)]
    echo = json.dumps([{"errorCode": "MALFORMED_QUERY", "message": f"bad auth {salesforce.expected_token} {secret}"}])
    salesforce.faults = [(r"/query/.*-2", Response(echo, 400, content_type="application/json"))]
    config = api_settings(httpserver, salesforce_access_token=None, salesforce_client_id="3MVG9-client-id",
                          salesforce_client_secret=secret)

    with pytest.raises(ApiError) as failure:
        extract(settings(tmp_path), ALIGNMENT, ["salesforce"], config)

    assert token_calls == [{"grant_type": "client_credentials", "client_id": "3MVG9-client-id",
                            "client_secret": secret}]
    assert "HTTP 400" in str(failure.value)
    extract(settings(tmp_path), ALIGNMENT, ["salesforce"], config)  # fault consumed: this run succeeds
    landed = b"".join(path.read_bytes() for path in (tmp_path / "warehouse").rglob("*") if path.is_file())
    for leak in (salesforce.expected_token, secret, "3MVG9-client-id"):
        assert leak not in str(failure.value) and leak not in repr(failure.value)
        assert leak not in caplog.text and leak not in repr(config) and leak not in str(config)
        assert leak.encode() not in landed
    assert "***" in str(failure.value)
    assert raw(tmp_path, "Lead", "count(distinct Id)") == [(3,)]


def test_missing_credentials_name_the_variables(tmp_path):
    with pytest.raises(ApiConfigError, match="CLOSEDLOOP_SALESFORCE_INSTANCE_URL.*CLOSEDLOOP_SALESFORCE_ACCESS_TOKEN"):
        extract(settings(tmp_path), ALIGNMENT, ["salesforce"], ApiSettings.from_env({}))
    parsed = ApiSettings.from_env({"CLOSEDLOOP_SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com/",
                                   "CLOSEDLOOP_SALESFORCE_API_VERSION": "61.0", "CLOSEDLOOP_API_FULL_REFRESH": "1",
                                   "CLOSEDLOOP_SALESFORCE_ACCESS_TOKEN": TOKEN})
    assert parsed.salesforce_instance_url == "https://acme.my.salesforce.com"
    assert parsed.salesforce_api_version == "v61.0" and parsed.full_refresh and TOKEN not in repr(parsed)
    with pytest.raises(ApiConfigError, match="CLOSEDLOOP_API_MAX_ATTEMPTS must be a number"):
        ApiSettings.from_env({"CLOSEDLOOP_API_MAX_ATTEMPTS": "lots"})
