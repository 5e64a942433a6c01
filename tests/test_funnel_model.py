"""fct_lead_funnel end to end: a small raw fixture landed as the extractors land it, a real dbt
build, and rows compared with ones computed by hand from SPEC 3 (default alignment.yml).

The fixture (all times UTC):
- Person A, a chain: lead LA (a@x.com) converted into contact CA (a.work@y.com, another email),
  HubSpot contact 201 with CA's email: one person, keyed by its smallest email 'a.work@y.com'.
  Touches: first visit 01-05 08:00 (PAID_SEARCH, 1 point), demo form 01-11 10:00 (utm_medium
  email, 50 points: 51 >= 50, the MQL touch). Task on LA 3 minutes later (<5m, SLA met, SAL).
  LeadHistory: Working - Contacted 01-12, Qualified 01-20 (SQL). Opportunity OA (converted
  into) created 02-01 10:00, won with CloseDate 02-01: won_at moved up to 02-01 10:00.
- Person B: lead LB (b@x.com, Cold Call, no LeadHistory: current status Disqualified counts at
  SystemModstamp) and HubSpot contact 202 without email linked by salesforceleadid; an email
  click (5 points, recipient in another case) is its only touch. Sales-sourced.
- Lead LC is deleted: no person; its email's form submission and one without email are
  unmatched.
- Person D: contact CD without email (keyed 'contact:CD'), account ACC2; a webinar response
  with FirstRespondedDate 04-02 (start of day), a contact role on lost opportunity OD created
  03-15 (lead_at and sql_at), CloseDate 05-01.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from raw_fixtures import land_records

from orchestration.alignment import Alignment
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows
from orchestration.settings import Settings


def _ms(text: str) -> str:
    return str(int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _hubspot_contact(contact_id: str, **properties: str) -> dict[str, str]:
    return {"id": contact_id, "createdAt": properties.get("createdate", ""), "updatedAt": "2024-06-01T00:00:00Z",
            "archived": "false", "properties": json.dumps(properties)}


PERSON_A = _md5("a.work@y.com")
PERSON_B = _md5("b@x.com")
PERSON_D = _md5("contact:CD")
DEMO_MS = _ms("2024-01-11 10:00:00")
SF = "T00:00:00.000+0000"

RAW: dict[tuple[str, str], list[dict[str, str | None]]] = {
    ("salesforce", "Lead"): [
        {"Id": "LA", "Email": " A@x.com", "Status": "Qualified", "LeadSource": "Web", "OwnerId": "U1",
         "NumberOfEmployees": "300", "Industry": "Software", "Country": "US",
         "CreatedDate": "2024-01-10T09:00:00.000+0000", "IsConverted": "true", "ConvertedDate": "2024-02-01",
         "ConvertedAccountId": "ACC1", "ConvertedContactId": "CA", "ConvertedOpportunityId": "OA",
         "IsDeleted": "false", "SystemModstamp": "2024-02-01" + SF},
        {"Id": "LB", "Email": "b@x.com", "Status": "Disqualified", "LeadSource": "Cold Call", "OwnerId": "U2",
         "CreatedDate": "2024-03-01" + SF, "IsConverted": "false", "IsDeleted": "false",
         "SystemModstamp": "2024-03-05T12:00:00.000+0000"},
        {"Id": "LC", "Email": "c@x.com", "Status": "Open", "CreatedDate": "2024-01-01" + SF, "IsDeleted": "true",
         "SystemModstamp": "2024-01-02" + SF},
    ],
    ("salesforce", "LeadHistory"): [
        {"Id": "H1", "LeadId": "LA", "Field": "Status", "NewValue": "Working - Contacted",
         "CreatedDate": "2024-01-12T10:00:00.000+0000"},
        {"Id": "H2", "LeadId": "LA", "Field": "Status", "NewValue": "Qualified", "CreatedDate": "2024-01-20" + SF},
    ],
    ("salesforce", "Contact"): [
        {"Id": "CA", "Email": "a.work@y.com", "AccountId": "ACC1", "OwnerId": "U9",
         "CreatedDate": "2024-02-01T10:00:00.000+0000", "IsDeleted": "false", "SystemModstamp": "2024-02-01" + SF},
        {"Id": "CD", "Email": "", "AccountId": "ACC2", "OwnerId": "U4", "CreatedDate": "2024-03-20" + SF,
         "IsDeleted": "false", "SystemModstamp": "2024-03-20" + SF},
    ],
    ("salesforce", "Account"): [
        {"Id": "ACC1", "NumberOfEmployees": "999", "Industry": "Banking", "BillingCountry": "UK",
         "IsDeleted": "false", "SystemModstamp": "2024-01-01" + SF},
        {"Id": "ACC2", "NumberOfEmployees": "20", "Industry": "Retail", "BillingCountry": "DE",
         "IsDeleted": "false", "SystemModstamp": "2024-01-01" + SF},
    ],
    ("salesforce", "Opportunity"): [
        {"Id": "OA", "Amount": "5000", "CurrencyIsoCode": "USD", "CloseDate": "2024-02-01", "IsClosed": "true",
         "IsWon": "true", "CreatedDate": "2024-02-01T10:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-02-01" + SF},
        {"Id": "OD", "Amount": "700", "CurrencyIsoCode": "USD", "CloseDate": "2024-05-01", "IsClosed": "true",
         "IsWon": "false", "CreatedDate": "2024-03-15" + SF, "IsDeleted": "false",
         "SystemModstamp": "2024-05-01" + SF},
    ],
    ("salesforce", "OpportunityContactRole"): [
        {"Id": "R1", "OpportunityId": "OD", "ContactId": "CD", "IsPrimary": "true",
         "CreatedDate": "2024-03-15" + SF, "IsDeleted": "false", "SystemModstamp": "2024-03-15" + SF},
    ],
    ("salesforce", "Campaign"): [
        {"Id": "CW", "Name": "Spring webinar", "Type": "Webinar", "IsDeleted": "false",
         "SystemModstamp": "2024-01-01" + SF},
    ],
    ("salesforce", "CampaignMember"): [
        {"Id": "M1", "CampaignId": "CW", "ContactId": "CD", "HasResponded": "true", "FirstRespondedDate": "2024-04-02",
         "CreatedDate": "2024-04-01T15:00:00.000+0000", "IsDeleted": "false", "SystemModstamp": "2024-04-02" + SF},
    ],
    ("salesforce", "Task"): [
        {"Id": "T1", "WhoId": "LA", "CreatedDate": "2024-01-11T10:03:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-01-11" + SF},
    ],
    ("hubspot", "contacts"): [
        _hubspot_contact("201", email="a.work@y.com", createdate="2024-01-05T08:00:00Z",
                         hs_analytics_first_timestamp=_ms("2024-01-05 08:00:00"), hs_analytics_source="PAID_SEARCH",
                         lastmodifieddate="2024-06-01T00:00:00Z"),
        _hubspot_contact("202", salesforceleadid="LB", createdate="2024-02-28T00:00:00Z",
                         lastmodifieddate="2024-06-01T00:00:00Z"),
    ],
    ("hubspot", "forms"): [{"guid": "g-demo", "name": "Request a Demo"}, {"guid": "g-news", "name": "Newsletter"}],
    ("hubspot", "form_submissions"): [
        {"formGuid": "g-demo", "submittedAt": DEMO_MS, "pageUrl": "https://x.test/demo?utm_medium=email",
         "values": json.dumps([{"name": "email", "value": "a@x.com"}])},
        {"formGuid": "g-news", "submittedAt": _ms("2024-01-03 00:00:00"), "pageUrl": "https://x.test/n",
         "values": json.dumps([{"name": "email", "value": "c@x.com"}])},
        {"formGuid": "g-news", "submittedAt": _ms("2024-01-04 00:00:00"), "pageUrl": "https://x.test/n",
         "values": json.dumps([{"name": "firstname", "value": "Nobody"}])},
    ],
    ("hubspot", "email_events"): [
        {"id": "E1", "type": "CLICK", "recipient": "B@X.com", "created": _ms("2024-03-02 00:00:00"),
         "emailCampaignId": "m1"},
        {"id": "E2", "type": "DELIVERED", "recipient": "b@x.com", "created": _ms("2024-03-02 00:00:00"),
         "emailCampaignId": "m1"},
    ],
}

COLUMNS = ("person_id", "account_id", "lead_at", "mql_at", "first_response_at", "sal_at", "sql_at",
           "opportunity_at", "won_at", "lost_at", "disqualified_at", "disqualification_reason", "recycled_count",
           "first_channel", "lead_source", "owner_id", "is_fit", "score", "response_minutes", "response_bucket",
           "sla_met", "is_marketing_sourced", "opportunity_id", "won_amount", "mql_touchpoint_id", "employees",
           "industry", "country")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


EXPECTED = {
    PERSON_A: dict(
        account_id="ACC1", lead_at=_at("2024-01-05 08:00"), mql_at=_at("2024-01-11 10:00"),
        first_response_at=_at("2024-01-11 10:03"), sal_at=_at("2024-01-11 10:03"), sql_at=_at("2024-01-20 00:00"),
        opportunity_at=_at("2024-02-01 10:00"), won_at=_at("2024-02-01 10:00"), lost_at=None, disqualified_at=None,
        disqualification_reason=None, recycled_count=0, first_channel="paid_search", lead_source="Web",
        owner_id="U1", is_fit=True, score=51.0, response_minutes=3.0, response_bucket="<5m", sla_met=True,
        is_marketing_sourced=True, opportunity_id="OA", won_amount=5000.0,
        mql_touchpoint_id=f"hs_form:g-demo:{DEMO_MS}:{PERSON_A}", employees=300, industry="Software", country="US"),
    PERSON_B: dict(
        account_id=None, lead_at=_at("2024-02-28 00:00"), mql_at=None, first_response_at=None, sal_at=None,
        sql_at=None, opportunity_at=None, won_at=None, lost_at=None, disqualified_at=_at("2024-03-05 12:00"),
        disqualification_reason=None, recycled_count=0, first_channel="email", lead_source="Cold Call",
        owner_id="U2", is_fit=True, score=5.0, response_minutes=None, response_bucket=None, sla_met=None,
        is_marketing_sourced=False, opportunity_id=None, won_amount=None, mql_touchpoint_id=None,
        employees=None, industry=None, country=None),
    PERSON_D: dict(
        account_id="ACC2", lead_at=_at("2024-03-15 00:00"), mql_at=None, first_response_at=None, sal_at=None,
        sql_at=_at("2024-03-15 00:00"), opportunity_at=_at("2024-03-15 00:00"), won_at=None,
        lost_at=_at("2024-05-01 00:00"), disqualified_at=None, disqualification_reason=None, recycled_count=0,
        first_channel="webinar", lead_source=None, owner_id="U4", is_fit=True, score=15.0, response_minutes=None,
        response_bucket=None, sla_met=None, is_marketing_sourced=False, opportunity_id="OD", won_amount=None,
        mql_touchpoint_id=None, employees=20, industry="Retail", country="DE"),
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(warehouse_dir=tmp_path_factory.mktemp("funnel") / "warehouse")
    land_records(settings.raw_dir, {key: [records] for key, records in RAW.items()})
    # build runs every test of the funnel models too, incl. assert_funnel_stage_order
    # cautious: tests that also read models outside the selection (e.g. fct_attribution) stay out
    run_dbt(settings, Alignment(), "build", "--indirect-selection", "cautious", "--select", "+fct_lead_funnel",
            "+int_touchpoints__unmatched_form_submissions", "assert_funnel_stage_order")
    db = connect(settings.warehouse_path, read_only=True)
    yield db
    db.close()


def _funnel(db) -> dict[str, dict]:
    result = {}
    for row in rows(db, f"select {', '.join(COLUMNS)} from marts.fct_lead_funnel"):
        record = dict(zip(COLUMNS, row, strict=True))
        result[record.pop("person_id")] = record
    return result


def test_hand_computed_people(warehouse):
    funnel = _funnel(warehouse)
    assert set(funnel) == set(EXPECTED)
    for person_id, expected in EXPECTED.items():
        actual = funnel[person_id]
        for column, value in expected.items():
            if isinstance(value, float):
                assert actual[column] == pytest.approx(value, abs=1e-9), (person_id, column)
            else:
                assert actual[column] == value, (person_id, column)


def test_one_row_per_person_of_the_identity_map(warehouse):
    people = rows(warehouse, "select count(distinct person_id) from intermediate.int_person_keys")[0][0]
    funnel = rows(warehouse, "select count(*), count(distinct person_id) from marts.fct_lead_funnel")[0]
    assert funnel == (people, people) == (3, 3)


def test_chain_and_link_without_email_resolve_to_one_person(warehouse):
    keys = dict(((t, i), p) for t, i, p in rows(
        warehouse, "select record_type, record_id, person_id from intermediate.int_person_keys"))
    assert keys[("lead", "LA")] == keys[("contact", "CA")] == keys[("hubspot_contact", "201")] == PERSON_A
    assert keys[("lead", "LB")] == keys[("hubspot_contact", "202")] == PERSON_B
    assert ("lead", "LC") not in keys


def test_touchpoints_and_unmatched_submissions(warehouse):
    touches = {r[0]: r[1:] for r in rows(warehouse, "select touchpoint_id, person_id, touch_type, channel, points "
                                                    "from intermediate.int_touchpoints")}
    assert touches == {
        "hs_visit:201": (PERSON_A, "page_visit", "paid_search", 1.0),
        f"hs_form:g-demo:{DEMO_MS}:{PERSON_A}": (PERSON_A, "demo_request", "email", 50.0),
        "hs_email:E1": (PERSON_B, "email_click", "email", 5.0),
        "sf_cm:M1": (PERSON_D, "webinar_attended", "webinar", 15.0),
    }
    unmatched = rows(warehouse, "select unmatched_form_submissions, without_email, with_unknown_email "
                                "from intermediate.int_touchpoints__unmatched_form_submissions")
    assert unmatched == [(2, 1, 1)]


def test_published_columns_carry_no_personal_data(warehouse):
    columns = [r[0] for r in rows(warehouse, "describe marts.fct_lead_funnel")]
    assert tuple(columns) == COLUMNS
    assert not any("email" in c or "name" in c or "phone" in c for c in columns)
