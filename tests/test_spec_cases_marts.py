"""SPEC 4.1 cases computed by hand, read from the published file.

One small drop folder (SPEC 1.2: Salesforce Data Export CSVs, HubSpot API JSON lines, ad spend)
goes through the real nightly job in `files` mode: extract, dbt build, the quality gate, publish.
Every figure below was worked out from SPEC's rules on paper, not read back from a build.

alignment.yml defaults, except crm.disqualification_reason_field = Disqualification_Reason__c and
targets {mqls: 2, win_rate: 0.5}. All times UTC (2024-01-01 is a Monday).

People (P) and what SPEC 3 makes of them:
- P1 ann: lead LA created 01-03 09:00 (owner U1, source Web, 300 employees), converted 01-20 into
  contact CA and opportunity OA; HubSpot contact h1 created 01-02 08:00, first visit then from
  PAID_SEARCH (1 point). 'Request a Demo' form 01-05 10:00 (50: MQL at 51, channel falls back to
  paid_search), eBook CM1 responded 01-08 (content, 10). HubSpot's own MQL date 01-05 15:00.
  lead_at 01-02 08:00; Task 01-05 10:03: 3 minutes, '<5m', sal_at 10:03; Status 'Qualified' 01-10
  12:00 = sql_at; OA created 01-20 12:00, 10000 USD, won, CloseDate 03-15.
- P2 ben: HubSpot contact h2 only, created and first visit (ORGANIC_SEARCH) 01-15 10:00, email
  CLICK 01-16 (5): 6 points, no MQL; HubSpot says MQL on 01-20 (the definitions disagree).
- P3 cat: lead LC created 02-10 09:00 (owner U2, source Outbound, 50 employees); webinar CM3
  responded 02-12 (15) then 'Contact Sales' 02-12 11:00 with utm_medium=email (50): MQL at 65.
  Task 13:00: 120 minutes, '1-24h', no SLA; Nurture 02-15 (recycled once), Disqualified 02-20
  (reason 'No budget'); no sql.
- P4 dan: contact CD only (owner U2, account AD 1500 employees) created 02-01 09:00; Paid Search
  CM4 responded without FirstRespondedDate, CreatedDate 01-25 15:00 (3): lead_at 01-25 15:00.
  Primary contact on OD created 02-05 09:00: 5000 EUR, lost, CloseDate 04-10, when EUR is 1.25:
  4000 USD. sql_at = opportunity_at.
- P5 eve: lead LE created 03-05 14:00 (owner U1, source Webinar), HubSpot contact h5 created
  03-05 13:00 without a first visit; 'Request a Demo' 03-06 09:00 (MQL, channel other); no
  response. HubSpot MQL date 03-06 23:30, the same day.
- P6-P9: leads created 04-02 without any Status history or touch, current Status Disqualified
  (reasons No budget, No budget, Timing) and Unqualified (no reason): counted at SystemModstamp.
- OF: an opportunity with no person (no contact role, no converted lead): created 03-01 10:00,
  3400 USD, won, CloseDate 03-20; account AA (300 employees).
Campaigns: Guide (eBook, ActualCost 1000, starts 01-01), Web1 (Webinar, 500, 02-01), PPC (Paid
Search, no ActualCost, 01-10). Ad spend: PPC 300 USD on 01-20, PPC 200 EUR on 02-15 (EUR 0.8:
250 USD), 'Other' 100 USD on 03-01 (no campaign of that name).
Line items: OA 100 x 100 sold for 9000 (10 %), OF 3 x 1000 for 2400 plus 1 x 1000 for 1000
(3400 / 4000: 15 %, not the 10 % mean of its lines), OD 100 x 50 for 3500 (30 %).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from orchestration.duck import connect
from orchestration.pipeline import run_nightly
from orchestration.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.slow

MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _write_csv(path: Path, records: list[dict[str, str]]) -> None:
    columns = list(dict.fromkeys(column for record in records for column in record))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def _lead(lead_id: str, email: str, created: str, owner: str, status: str, **fields: str) -> dict[str, str]:
    return {
        "Id": lead_id,
        "Email": email,
        "Status": status,
        "OwnerId": owner,
        "CreatedDate": created,
        "IsDeleted": "false",
        "SystemModstamp": created,
        **fields,
    }


def _hubspot_contact(contact_id: str, **properties: str) -> dict:
    return {
        "id": contact_id,
        "properties": properties,
        "createdAt": properties["createdate"],
        "updatedAt": "2024-06-01T00:00:00Z",
        "archived": False,
    }


def _submission(form: str, at: str, email: str, page_url: str = "https://closedloop.example/landing") -> dict:
    return {
        "formGuid": form,
        "submittedAt": _ms(at),
        "pageUrl": page_url,
        "values": [{"name": "email", "value": email}],
    }


def _status(history_id: str, lead: str, status: str, at: str) -> dict[str, str]:
    return {"Id": history_id, "LeadId": lead, "Field": "Status", "OldValue": "", "NewValue": status, "CreatedDate": at}


def _write_drop_folder(drop: Path) -> None:
    salesforce, hubspot, spend = drop / "salesforce", drop / "hubspot", drop / "spend"
    for folder in (salesforce, hubspot, spend):
        folder.mkdir(parents=True)
    _write_csv(
        salesforce / "Lead.csv",
        [
            _lead(
                "LA",
                "ann@a.com",
                "2024-01-03 09:00:00",
                "U1",
                "Qualified",
                LeadSource="Web",
                NumberOfEmployees="300",
                IsConverted="true",
                ConvertedDate="2024-01-20",
                ConvertedAccountId="AA",
                ConvertedContactId="CA",
                ConvertedOpportunityId="OA",
                SystemModstamp="2024-01-20 12:00:00",
            ),
            _lead(
                "LC",
                "cat@c.com",
                "2024-02-10 09:00:00",
                "U2",
                "Disqualified",
                LeadSource="Outbound",
                NumberOfEmployees="50",
                Disqualification_Reason__c="No budget",
                SystemModstamp="2024-02-20 00:00:00",
            ),
            _lead("LE", "eve@e.com", "2024-03-05 14:00:00", "U1", "Open", LeadSource="Webinar"),
            _lead(
                "L6",
                "p6@x.com",
                "2024-04-02 09:00:00",
                "U4",
                "Disqualified",
                Disqualification_Reason__c="No budget",
                SystemModstamp="2024-04-05 00:00:00",
            ),
            _lead(
                "L7",
                "p7@x.com",
                "2024-04-02 10:00:00",
                "U4",
                "Disqualified",
                Disqualification_Reason__c="No budget",
                SystemModstamp="2024-04-05 00:00:00",
            ),
            _lead(
                "L8",
                "p8@x.com",
                "2024-04-02 11:00:00",
                "U4",
                "Disqualified",
                Disqualification_Reason__c="Timing",
                SystemModstamp="2024-04-05 00:00:00",
            ),
            _lead("L9", "p9@x.com", "2024-04-02 12:00:00", "U4", "Unqualified", SystemModstamp="2024-04-05 00:00:00"),
        ],
    )
    _write_csv(
        salesforce / "LeadHistory.csv",
        [
            _status("H1", "LA", "Working - Contacted", "2024-01-06 00:00:00"),
            _status("H2", "LA", "Qualified", "2024-01-10 12:00:00"),
            _status("H3", "LC", "Nurture", "2024-02-15 00:00:00"),
            _status("H4", "LC", "Disqualified", "2024-02-20 00:00:00"),
        ],
    )
    _write_csv(
        salesforce / "Contact.csv",
        [
            {
                "Id": "CA",
                "AccountId": "AA",
                "Email": "ann@a.com",
                "OwnerId": "U1",
                "LeadSource": "Web",
                "CreatedDate": "2024-01-20 12:00:00",
                "IsDeleted": "false",
            },
            {
                "Id": "CD",
                "AccountId": "AD",
                "Email": "dan@d.com",
                "OwnerId": "U2",
                "LeadSource": "",
                "CreatedDate": "2024-02-01 09:00:00",
                "IsDeleted": "false",
            },
        ],
    )
    _write_csv(
        salesforce / "Account.csv",
        [
            {"Id": "AA", "Name": "Ann Co", "NumberOfEmployees": "300", "IsDeleted": "false"},
            {"Id": "AD", "Name": "Dan Co", "NumberOfEmployees": "1500", "IsDeleted": "false"},
        ],
    )
    _write_csv(
        salesforce / "Opportunity.csv",
        [
            {
                "Id": "OA",
                "AccountId": "AA",
                "Amount": "10000",
                "CurrencyIsoCode": "USD",
                "CloseDate": "2024-03-15",
                "IsClosed": "true",
                "IsWon": "true",
                "OwnerId": "U1",
                "CreatedDate": "2024-01-20T12:00:00.000+0000",
                "StageName": "Closed Won",
                "IsDeleted": "false",
            },
            {
                "Id": "OD",
                "AccountId": "AD",
                "Amount": "5000",
                "CurrencyIsoCode": "EUR",
                "CloseDate": "2024-04-10",
                "IsClosed": "true",
                "IsWon": "false",
                "OwnerId": "U3",
                "CreatedDate": "2024-02-05T09:00:00Z",
                "StageName": "Closed Lost",
                "IsDeleted": "false",
            },
            {
                "Id": "OF",
                "AccountId": "AA",
                "Amount": "3400",
                "CurrencyIsoCode": "USD",
                "CloseDate": "2024-03-20",
                "IsClosed": "true",
                "IsWon": "true",
                "OwnerId": "U1",
                "CreatedDate": "2024-03-01 10:00:00",
                "StageName": "Closed Won",
                "IsDeleted": "false",
            },
        ],
    )
    _write_csv(
        salesforce / "OpportunityContactRole.csv",
        [
            {"Id": "R1", "OpportunityId": "OD", "ContactId": "CD", "IsPrimary": "true", "Role": "Decision Maker"},
        ],
    )
    _write_csv(
        salesforce / "OpportunityLineItem.csv",
        [
            {
                "Id": "LI1",
                "OpportunityId": "OA",
                "Quantity": "100",
                "ListPrice": "100",
                "UnitPrice": "90",
                "TotalPrice": "9000",
            },
            {
                "Id": "LI2",
                "OpportunityId": "OD",
                "Quantity": "100",
                "ListPrice": "50",
                "UnitPrice": "35",
                "TotalPrice": "3500",
            },
            {
                "Id": "LI3",
                "OpportunityId": "OF",
                "Quantity": "3",
                "ListPrice": "1000",
                "UnitPrice": "800",
                "TotalPrice": "2400",
            },
            {
                "Id": "LI4",
                "OpportunityId": "OF",
                "Quantity": "1",
                "ListPrice": "1000",
                "UnitPrice": "1000",
                "TotalPrice": "1000",
            },
        ],
    )
    _write_csv(
        salesforce / "DatedConversionRate.csv",
        [
            {"IsoCode": "EUR", "ConversionRate": "0.8", "StartDate": "2024-01-01", "NextStartDate": "2024-04-01"},
            {"IsoCode": "EUR", "ConversionRate": "1.25", "StartDate": "2024-04-01", "NextStartDate": "9999-12-31"},
        ],
    )
    _write_csv(
        salesforce / "Campaign.csv",
        [
            {
                "Id": "GUIDE",
                "Name": "Guide",
                "Type": "eBook",
                "StartDate": "2024-01-01",
                "ActualCost": "1000",
                "IsDeleted": "false",
            },
            {
                "Id": "WEB1",
                "Name": "Web1",
                "Type": "Webinar",
                "StartDate": "2024-02-01",
                "ActualCost": "500",
                "IsDeleted": "false",
            },
            {
                "Id": "PPC",
                "Name": "PPC",
                "Type": "Paid Search",
                "StartDate": "2024-01-10",
                "ActualCost": "",
                "IsDeleted": "false",
            },
        ],
    )
    _write_csv(
        salesforce / "CampaignMember.csv",
        [
            {
                "Id": "CM1",
                "CampaignId": "GUIDE",
                "LeadId": "LA",
                "ContactId": "",
                "HasResponded": "true",
                "FirstRespondedDate": "2024-01-08",
                "CreatedDate": "2024-01-07 00:00:00",
            },
            {
                "Id": "CM3",
                "CampaignId": "WEB1",
                "LeadId": "LC",
                "ContactId": "",
                "HasResponded": "true",
                "FirstRespondedDate": "2024-02-12",
                "CreatedDate": "2024-02-11 00:00:00",
            },
            {
                "Id": "CM4",
                "CampaignId": "PPC",
                "LeadId": "",
                "ContactId": "CD",
                "HasResponded": "true",
                "FirstRespondedDate": "",
                "CreatedDate": "2024-01-25 15:00:00",
            },
        ],
    )
    _write_csv(
        salesforce / "Task.csv",
        [
            {
                "Id": "T1",
                "WhoId": "LA",
                "OwnerId": "U1",
                "Subject": "Call",
                "Type": "Call",
                "Status": "Completed",
                "CreatedDate": "2024-01-05 10:03:00",
            },
            {
                "Id": "T3",
                "WhoId": "LC",
                "OwnerId": "U2",
                "Subject": "Call",
                "Type": "Call",
                "Status": "Completed",
                "CreatedDate": "2024-02-12 13:00:00",
            },
        ],
    )
    _write_jsonl(
        hubspot / "contacts.jsonl",
        [
            _hubspot_contact(
                "h1",
                email="ann@a.com",
                createdate="2024-01-02T08:00:00Z",
                hs_analytics_source="PAID_SEARCH",
                hs_analytics_first_timestamp=str(_ms("2024-01-02 08:00:00")),
                hs_lifecyclestage_marketingqualifiedlead_date=str(_ms("2024-01-05 15:00:00")),
            ),
            _hubspot_contact(
                "h2",
                email="ben@b.com",
                createdate="2024-01-15T10:00:00Z",
                hs_analytics_source="ORGANIC_SEARCH",
                hs_analytics_first_timestamp=str(_ms("2024-01-15 10:00:00")),
                hs_lifecyclestage_marketingqualifiedlead_date="2024-01-20T10:00:00Z",
            ),
            _hubspot_contact(
                "h5",
                email="eve@e.com",
                createdate="2024-03-05T13:00:00Z",
                hs_lifecyclestage_marketingqualifiedlead_date=str(_ms("2024-03-06 23:30:00")),
            ),
        ],
    )
    _write_jsonl(
        hubspot / "forms.jsonl",
        [
            {"guid": "f-demo", "name": "Request a Demo"},
            {"guid": "f-sales", "name": "Contact Sales"},
        ],
    )
    _write_jsonl(
        hubspot / "form_submissions.jsonl",
        [
            _submission("f-demo", "2024-01-05 10:00:00", "ann@a.com"),
            _submission(
                "f-sales",
                "2024-02-12 11:00:00",
                "cat@c.com",
                page_url="https://closedloop.example/pricing?utm_source=news&utm_medium=email",
            ),
            _submission("f-demo", "2024-03-06 09:00:00", "eve@e.com"),
        ],
    )
    _write_jsonl(
        hubspot / "email_events.jsonl",
        [
            {
                "id": "e1",
                "type": "CLICK",
                "recipient": "ben@b.com",
                "created": _ms("2024-01-16 12:00:00"),
                "emailCampaignId": 77,
            },
        ],
    )
    _write_csv(
        spend / "ad_spend.csv",
        [
            {"date": "2024-01-20", "channel": "paid_search", "campaign_name": "PPC", "spend": "300", "currency": "USD"},
            {"date": "2024-02-15", "channel": "paid_search", "campaign_name": "PPC", "spend": "200", "currency": "EUR"},
            {
                "date": "2024-03-01",
                "channel": "paid_social",
                "campaign_name": "Other",
                "spend": "100",
                "currency": "USD",
            },
        ],
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("spec_marts")
    _write_drop_folder(root / "drop")
    definitions = yaml.safe_load((PROJECT_ROOT / "alignment.yml").read_text())
    definitions["crm"]["disqualification_reason_field"] = "Disqualification_Reason__c"
    definitions["targets"] = {"mqls": 2, "win_rate": 0.5}
    alignment = root / "alignment.yml"
    alignment.write_text(yaml.safe_dump(definitions))
    settings = Settings(
        source="files", drop_dir=root / "drop", alignment_path=alignment, warehouse_dir=root / "warehouse"
    )
    result = run_nightly(settings)
    assert result.success, result.failures
    con = connect(settings.published_file, read_only=True)
    yield con
    con.close()


def table(con, name: str, *grain: str) -> dict:
    """The published table as {grain values (one value for a one-column grain): {column: value}}."""
    cursor = con.execute(f"select * from {name}")
    columns = [description[0] for description in cursor.description]
    by_grain = {}
    for values in cursor.fetchall():
        row = dict(zip(columns, values, strict=True))
        key = tuple(row[column] for column in grain)
        by_grain[key if len(key) > 1 else key[0]] = row
    return by_grain


def assert_row(actual: dict, **expected) -> None:
    for column, value in expected.items():
        if isinstance(value, float):
            assert actual[column] == pytest.approx(value, rel=1e-9, abs=1e-9), column
        else:
            assert actual[column] == value, column


def days(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 86400


JAN, FEB, MAR, APR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)
OA_CYCLE = days("2024-01-20 12:00", "2024-03-15 00:00")  # 54.5
OF_CYCLE = days("2024-03-01 10:00", "2024-03-20 00:00")  # 18.58...


def test_funnel_conversion_by_cohort_month_and_first_channel(published):
    funnel = table(published, "mart_funnel_conversion", "cohort_month", "first_channel")
    assert set(funnel) == {
        (JAN, "paid_search"),
        (JAN, "organic_search"),
        (FEB, "webinar"),
        (MAR, "other"),
        (APR, "no_touch"),
    }
    # P1 and P4; P4 skips mql and sal (counts never demand a previous stage)
    assert_row(
        funnel[JAN, "paid_search"],
        leads=2,
        mqls=1,
        sals=1,
        sqls=2,
        opportunities=2,
        won=1,
        won_revenue=10000.0,
        lead_to_mql=0.5,
        mql_to_sal=1.0,
        sal_to_sql=1.0,
        sql_to_opportunity=1.0,
        opportunity_to_won=0.5,
        median_days_lead_to_mql=days("2024-01-02 08:00", "2024-01-05 10:00"),
        median_days_mql_to_sal=3 / 1440,
        median_days_sal_to_sql=days("2024-01-05 10:03", "2024-01-10 12:00"),
        median_days_sql_to_opportunity=(10.0 + 0.0) / 2,
        median_days_opportunity_to_won=OA_CYCLE,
    )
    assert_row(
        funnel[JAN, "organic_search"],
        leads=1,
        mqls=0,
        sals=0,
        won=0,
        won_revenue=0.0,
        lead_to_mql=0.0,
        mql_to_sal=None,
        opportunity_to_won=None,
        median_days_lead_to_mql=None,
    )
    assert_row(
        funnel[FEB, "webinar"],
        leads=1,
        mqls=1,
        sals=1,
        sqls=0,
        opportunities=0,
        lead_to_mql=1.0,
        mql_to_sal=1.0,
        sal_to_sql=0.0,
        sql_to_opportunity=None,
        median_days_lead_to_mql=days("2024-02-10 09:00", "2024-02-12 11:00"),
        median_days_mql_to_sal=2 / 24,
        median_days_sal_to_sql=None,
    )
    assert_row(
        funnel[MAR, "other"],
        leads=1,
        mqls=1,
        sals=0,
        lead_to_mql=1.0,
        mql_to_sal=0.0,
        sal_to_sql=None,
        median_days_lead_to_mql=20 / 24,
    )
    # the opportunity without a person (OF) is in no cohort
    assert_row(funnel[APR, "no_touch"], leads=4, mqls=0, won=0, won_revenue=0.0, lead_to_mql=0.0)


def test_speed_to_lead_by_monday_week_and_owner(published):
    speed = table(published, "mart_speed_to_lead", "week", "owner_id")
    assert set(speed) == {(date(2024, 1, 1), "U1"), (date(2024, 2, 12), "U2"), (date(2024, 3, 4), "U1")}
    assert_row(
        speed[date(2024, 1, 1), "U1"],
        mqls=1,
        responded=1,
        median_response_minutes=3.0,
        p90_response_minutes=3.0,
        sla_met_rate=1.0,
        mqls_under_5m=1,
        mqls_5_60m=0,
        mqls_1_24h=0,
        mqls_over_24h=0,
        mqls_no_response=0,
        mql_to_sql_rate_under_5m=1.0,
        mql_to_sql_rate_5_60m=None,
    )
    assert_row(
        speed[date(2024, 2, 12), "U2"],
        mqls=1,
        responded=1,
        median_response_minutes=120.0,
        p90_response_minutes=120.0,
        sla_met_rate=0.0,
        mqls_1_24h=1,
        mql_to_sql_rate_1_24h=0.0,
    )
    assert_row(
        speed[date(2024, 3, 4), "U1"],
        mqls=1,
        responded=0,
        median_response_minutes=None,
        p90_response_minutes=None,
        sla_met_rate=0.0,
        mqls_no_response=1,
        mql_to_sql_rate_no_response=0.0,
        mql_to_sql_rate_under_5m=None,
    )


def test_pipeline_velocity_by_created_month_and_segment(published):
    velocity = table(published, "mart_pipeline_velocity", "month", "segment")
    assert set(velocity) == {(JAN, "mid_market"), (FEB, "enterprise"), (MAR, "mid_market")}
    assert_row(
        velocity[JAN, "mid_market"],
        opportunities=1,
        won=1,
        win_rate=1.0,
        avg_won_amount=10000.0,
        avg_cycle_days=OA_CYCLE,
        velocity_per_day=1 * 1.0 * 10000 / OA_CYCLE,
    )
    # a lost EUR deal: amount 5000 / 1.25; no won deal, so no average won amount and no velocity
    assert_row(
        velocity[FEB, "enterprise"],
        opportunities=1,
        won=0,
        win_rate=0.0,
        avg_won_amount=None,
        avg_cycle_days=None,
        velocity_per_day=None,
    )
    assert_row(
        velocity[MAR, "mid_market"],
        opportunities=1,
        won=1,
        win_rate=1.0,
        avg_won_amount=3400.0,
        avg_cycle_days=OF_CYCLE,
        velocity_per_day=3400 / OF_CYCLE,
    )


def _time_decay_weights() -> list[float]:
    created = "2024-01-20 12:00"
    touches = ("2024-01-02 08:00", "2024-01-05 10:00", "2024-01-08 00:00")
    raw = [2 ** (-days(touched, created) / 7) for touched in touches]
    return [weight / sum(raw) for weight in raw]


def test_attribution_by_channel_month_and_model(published):
    by_channel = table(published, "mart_attribution_by_channel", "month", "channel", "model")
    decay = _time_decay_weights()
    # OA (10000, won): visit and demo form are paid_search, the eBook touch is content
    paid_search_share = {
        "first_touch": 1.0,
        "last_touch": 0.0,
        "linear": 2 / 3,
        "u_shaped": 0.6,
        "w_shaped": 2 / 3,
        "time_decay": decay[0] + decay[1],
    }
    touches_with_weight = {
        "first_touch": 1,
        "last_touch": 0,
        "linear": 2,
        "u_shaped": 2,
        "w_shaped": 2,
        "time_decay": 2,
    }
    for model in MODELS:
        share = paid_search_share[model]
        assert_row(
            by_channel[JAN, "paid_search", model],
            attributed_pipeline=10000 * share,
            attributed_revenue=10000 * share,
            opportunities=1 if share else 0,
            touches=touches_with_weight[model],
        )
        assert_row(
            by_channel[JAN, "content", model],
            attributed_pipeline=10000 * (1 - share),
            attributed_revenue=10000 * (1 - share),
            opportunities=1 if share < 1 else 0,
            touches=1 if share < 1 else 0,
        )
        # OD: one touch takes all; lost, so no revenue
        assert_row(
            by_channel[FEB, "paid_search", model],
            attributed_pipeline=4000.0,
            attributed_revenue=0.0,
            opportunities=1,
            touches=1,
        )
        assert_row(
            by_channel[MAR, "unattributed", model],
            attributed_pipeline=3400.0,
            attributed_revenue=3400.0,
            opportunities=1,
            touches=1,
        )
    assert len(by_channel) == 4 * len(MODELS)


def test_campaign_roi_per_campaign_and_model(published):
    roi = table(published, "mart_campaign_roi", "campaign_id", "model")
    assert len(roi) == 3 * len(MODELS)
    guide_weight = {
        "first_touch": 0.0,
        "last_touch": 1.0,
        "linear": 1 / 3,
        "u_shaped": 0.4,
        "w_shaped": 1 / 3,
        "time_decay": _time_decay_weights()[2],
    }
    for model in MODELS:
        weight = guide_weight[model]
        assert_row(
            roi["GUIDE", model],
            campaign_name="Guide",
            cost=1000.0,
            touches=1,
            people=1,
            mqls_first_touch=0,
            attributed_pipeline=10000 * weight,
            attributed_revenue=10000 * weight,
            roi=(10000 * weight - 1000) / 1000,
            cost_per_lead=1000.0,
            cost_per_mql=None,
            cost_per_opportunity=1000 / weight if weight else None,
            cost_per_won=1000 / weight if weight else None,
        )
        # Web1 is P3's earliest touch and P3 is an MQL; P3 has no opportunity
        assert_row(
            roi["WEB1", model],
            cost=500.0,
            touches=1,
            people=1,
            mqls_first_touch=1,
            attributed_pipeline=0.0,
            attributed_revenue=0.0,
            roi=-1.0,
            cost_per_lead=500.0,
            cost_per_mql=500.0,
            cost_per_opportunity=None,
            cost_per_won=None,
        )
        # no ActualCost: 0 + 300 USD + 200 EUR / 0.8
        assert_row(
            roi["PPC", model],
            cost=550.0,
            touches=1,
            people=1,
            mqls_first_touch=0,
            attributed_pipeline=4000.0,
            attributed_revenue=0.0,
            roi=-1.0,
            cost_per_lead=550.0,
            cost_per_mql=None,
            cost_per_opportunity=550.0,
            cost_per_won=None,
        )


def test_lead_quality_by_month_and_first_channel(published):
    quality = table(published, "mart_lead_quality", "month", "first_channel")
    assert_row(
        quality[JAN, "paid_search"],
        mqls=1,
        accepted=1,
        disqualified=0,
        top_reasons=None,
        recycled=0,
        definition_agreement_rate=1.0,
    )
    # HubSpot calls ben an MQL, the agreed rule does not
    assert_row(quality[JAN, "organic_search"], mqls=0, accepted=0, definition_agreement_rate=0.0)
    assert_row(
        quality[FEB, "webinar"],
        mqls=1,
        accepted=1,
        disqualified=1,
        top_reasons="No budget (1)",
        recycled=1,
        definition_agreement_rate=0.0,
    )
    # the rule at 09:00 and HubSpot at 23:30 on the same UTC day
    assert_row(quality[MAR, "other"], mqls=1, accepted=0, definition_agreement_rate=1.0)
    # four current statuses without history; the reason-less one is disqualified but names no reason
    assert_row(
        quality[APR, "no_touch"],
        mqls=0,
        disqualified=4,
        top_reasons="No budget (2); Timing (1)",
        recycled=0,
        definition_agreement_rate=None,
    )


def test_content_by_stage_at_touch_time(published):
    content = table(published, "mart_content_by_stage", "campaign_id", "stage")
    # ann downloads the eBook on 01-08: after sal (01-05 10:03), before sql (01-10 12:00)
    assert set(content) == {("GUIDE", "sal")}
    assert_row(
        content["GUIDE", "sal"], campaign_name="Guide", touches=1, people=1, opportunities_influenced=1, win_rate=1.0
    )


def test_discount_friction_by_close_month_and_owner(published):
    friction = table(published, "mart_discount_friction", "month", "owner_id")
    assert set(friction) == {(MAR, "U1"), (APR, "U3")}
    assert_row(
        friction[MAR, "U1"],
        deals=2,
        avg_discount_pct=(10.0 + 15.0) / 2,
        deals_over_guideline=0,
        win_rate_up_to_10=1.0,
        win_rate_10_to_max=1.0,
        win_rate_over_max=None,
    )
    assert_row(
        friction[APR, "U3"],
        deals=1,
        avg_discount_pct=30.0,
        deals_over_guideline=1,
        win_rate_up_to_10=None,
        win_rate_10_to_max=None,
        win_rate_over_max=0.0,
    )


def test_alignment_scorecard_by_month_with_targets(published):
    scorecard = table(published, "mart_alignment_scorecard", "month")
    assert set(scorecard) == {JAN, FEB, MAR, APR}
    for row in scorecard.values():
        assert_row(row, target_mqls=2.0, target_win_rate=0.5)
    # costs: campaigns by StartDate month (Guide 1000 + PPC 0 in Jan, Web1 500 in Feb) + spend by date
    assert_row(
        scorecard[JAN],
        mqls=1,
        sal_rate=1.0,
        sla_met_rate=1.0,
        mql_to_opportunity_rate=1.0,
        marketing_sourced_pipeline_share=1.0,
        velocity_per_day=10000 / OA_CYCLE,
        win_rate=None,
        cycle_days=None,
        influenced_revenue_share=None,
        cost_per_won=None,
    )
    # OD's primary contact dan is marketing sourced (a touch before sql, no lead source)
    assert_row(
        scorecard[FEB],
        mqls=1,
        sal_rate=1.0,
        sla_met_rate=0.0,
        mql_to_opportunity_rate=0.0,
        marketing_sourced_pipeline_share=1.0,
        velocity_per_day=None,
        win_rate=None,
        cost_per_won=None,
    )
    # OA and OF close in March; only OA has a touch
    assert_row(
        scorecard[MAR],
        mqls=1,
        sal_rate=0.0,
        sla_met_rate=0.0,
        mql_to_opportunity_rate=0.0,
        marketing_sourced_pipeline_share=0.0,
        velocity_per_day=3400 / OF_CYCLE,
        win_rate=1.0,
        cycle_days=(OA_CYCLE + OF_CYCLE) / 2,
        influenced_revenue_share=10000 / 13400,
        cost_per_won=100 / 2,
    )
    assert_row(
        scorecard[APR],
        mqls=0,
        sal_rate=None,
        win_rate=0.0,
        cycle_days=None,
        influenced_revenue_share=None,
        cost_per_won=None,
    )


@pytest.fixture(scope="module")
def published_in_new_york(tmp_path_factory):
    """One person and one opportunity near period bounds, with timezone America/New_York (UTC-5 before
    2024-03-10, UTC-4 after): months and weeks are calendar periods in the timezone, a date-only
    CloseDate keeps its own month."""
    root = tmp_path_factory.mktemp("spec_marts_new_york")
    drop = root / "drop"
    for system in ("salesforce", "hubspot"):
        (drop / system).mkdir(parents=True)
    # created 03-01 03:00 UTC = 02-29 22:00 in New York
    _write_csv(
        drop / "salesforce" / "Lead.csv",
        [
            _lead(
                "LN",
                "nick@n.com",
                "2024-03-01 03:00:00",
                "U1",
                "Open",
                ConvertedOpportunityId="ON",
                IsConverted="true",
                ConvertedDate="2024-03-31",
            )
        ],
    )
    # created 04-01 02:00 UTC = 03-31 22:00 in New York; closes on the date 2024-05-01
    _write_csv(
        drop / "salesforce" / "Opportunity.csv",
        [
            {
                "Id": "ON",
                "Amount": "700",
                "CloseDate": "2024-05-01",
                "IsClosed": "true",
                "IsWon": "true",
                "OwnerId": "U1",
                "CreatedDate": "2024-04-01 02:00:00",
                "StageName": "Closed Won",
            }
        ],
    )
    # the demo request at 03-04 02:00 UTC is Sunday 03-03 21:00 in New York; HubSpot's MQL date
    # 03-03 23:00 UTC is 18:00 the same New York day (different UTC days)
    _write_jsonl(
        drop / "hubspot" / "contacts.jsonl",
        [
            _hubspot_contact(
                "hn",
                email="nick@n.com",
                createdate="2024-03-01T03:00:00Z",
                hs_lifecyclestage_marketingqualifiedlead_date="2024-03-03T23:00:00Z",
            )
        ],
    )
    _write_jsonl(drop / "hubspot" / "forms.jsonl", [{"guid": "f-demo", "name": "Book a demo"}])
    _write_jsonl(
        drop / "hubspot" / "form_submissions.jsonl", [_submission("f-demo", "2024-03-04 02:00:00", "nick@n.com")]
    )
    definitions = yaml.safe_load((PROJECT_ROOT / "alignment.yml").read_text())
    definitions["timezone"] = "America/New_York"
    alignment = root / "alignment.yml"
    alignment.write_text(yaml.safe_dump(definitions))
    settings = Settings(source="files", drop_dir=drop, alignment_path=alignment, warehouse_dir=root / "warehouse")
    result = run_nightly(settings)
    assert result.success, result.failures
    con = connect(settings.published_file, read_only=True)
    yield con
    con.close()


def test_periods_are_calendar_periods_in_the_timezone(published_in_new_york):
    con = published_in_new_york
    assert list(table(con, "mart_funnel_conversion", "cohort_month", "first_channel")) == [(date(2024, 2, 1), "other")]
    assert list(table(con, "mart_speed_to_lead", "week", "owner_id")) == [(date(2024, 2, 26), "U1")]
    quality = table(con, "mart_lead_quality", "month", "first_channel")
    assert_row(quality[date(2024, 2, 1), "other"], mqls=1, definition_agreement_rate=1.0)
    assert list(table(con, "mart_pipeline_velocity", "month", "segment")) == [(MAR, "unknown")]
    scorecard = table(con, "mart_alignment_scorecard", "month")
    assert set(scorecard) == {MAR, date(2024, 5, 1)}
    assert_row(scorecard[MAR], mqls=1, mql_to_opportunity_rate=1.0, win_rate=None)
    assert_row(scorecard[date(2024, 5, 1)], mqls=0, win_rate=1.0)
    attribution = table(con, "mart_attribution_by_channel", "month", "channel", "model")
    assert set(attribution) == {(MAR, "other", model) for model in MODELS}
