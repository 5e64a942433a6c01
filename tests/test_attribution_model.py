"""fct_attribution end to end: a small raw fixture landed as the extractors land it, a real dbt
build, and the table compared with one computed by hand from SPEC 3 "Attribution".

The fixture (all times UTC; lookback 365 days, email_open excluded, half-life 7 days):
- O1 (USD 1000, won), created 2024-05-01 12:00:00. People: person a (contact C1 with a primary
  role, and lead L1 that converted into O1: reaches O1 two ways, its touches count once) and
  person b (contact C2). Touches: CM1 exactly 365 days before (in), CM2 one second earlier
  (out), CM6 and CM7 (Partners: 20 points each; CM7 takes a to 55 points, so CM7 is a's MQL
  touch and holds the w-shaped lead role), CM10 and CM3 at the same second (tie: 'sf_cm:CM10'
  sorts before 'sf_cm:CM3'), an email OPEN (excluded type: no row, not counted), CM4 exactly at
  creation (in) and CM5 one second after (out).
- O2 (EUR 900, lost), CloseDate 2024-03-01, the day a new EUR rate 1.125 starts: 800 USD.
  One touch of person c.
- O3 (USD, empty Amount = 0, open): no people, one unattributed row.
- O4 deleted: absent.
- O5 (GBP 100, no GBP rate: taken at 1), created 2026: c's touch is outside the lookback.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from raw_fixtures import land_records

from orchestration.alignment import Alignment
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect
from orchestration.settings import Settings

MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")

RAW: dict[tuple[str, str], list[dict[str, str | None]]] = {
    ("salesforce", "Contact"): [
        {"Id": "C1", "Email": "a@x.com", "CreatedDate": "2023-01-01T00:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-01-01T00:00:00.000+0000"},
        {"Id": "C2", "Email": "b@x.com", "CreatedDate": "2023-01-01T00:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-01-01T00:00:00.000+0000"},
        {"Id": "C3", "Email": "c@x.com", "CreatedDate": "2023-01-01T00:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-01-01T00:00:00.000+0000"},
    ],
    ("salesforce", "Lead"): [
        {"Id": "L1", "Email": "a@x.com", "Status": "Qualified", "CreatedDate": "2023-01-01T00:00:00.000+0000",
         "IsConverted": "true", "ConvertedDate": "2024-05-01", "ConvertedContactId": "C1",
         "ConvertedOpportunityId": "O1", "IsDeleted": "false", "SystemModstamp": "2024-05-01T12:00:00.000+0000"},
    ],
    ("salesforce", "Opportunity"): [
        {"Id": "O1", "Name": "Big deal", "StageName": "Closed Won", "Amount": "1000", "CurrencyIsoCode": "USD",
         "CloseDate": "2024-06-15", "IsClosed": "true", "IsWon": "true", "CreatedDate": "2024-05-01T12:00:00.000+0000",
         "IsDeleted": "false", "SystemModstamp": "2024-06-15T00:00:00.000+0000"},
        {"Id": "O2", "Name": "Euro deal", "StageName": "Closed Lost", "Amount": "900", "CurrencyIsoCode": "EUR",
         "CloseDate": "2024-03-01", "IsClosed": "true", "IsWon": "false", "CreatedDate": "2024-02-01T00:00:00.000+0000",
         "IsDeleted": "false", "SystemModstamp": "2024-03-01T00:00:00.000+0000"},
        {"Id": "O3", "Name": "No amount", "StageName": "Prospecting", "Amount": None, "CurrencyIsoCode": "USD",
         "CloseDate": "2024-09-01", "IsClosed": "false", "IsWon": "false",
         "CreatedDate": "2024-05-01T12:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-05-01T12:00:00.000+0000"},
        {"Id": "O4", "Name": "Deleted", "StageName": "Closed Won", "Amount": "5000", "CurrencyIsoCode": "USD",
         "CloseDate": "2024-06-15", "IsClosed": "true", "IsWon": "true", "CreatedDate": "2024-05-01T12:00:00.000+0000",
         "IsDeleted": "true", "SystemModstamp": "2024-06-16T00:00:00.000+0000"},
        {"Id": "O5", "Name": "Pound deal", "StageName": "Prospecting", "Amount": "100", "CurrencyIsoCode": "GBP",
         "CloseDate": "2026-03-01", "IsClosed": "false", "IsWon": "false",
         "CreatedDate": "2026-01-01T00:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2026-01-01T00:00:00.000+0000"},
    ],
    ("salesforce", "OpportunityContactRole"): [
        {"Id": "R1", "OpportunityId": "O1", "ContactId": "C1", "IsPrimary": "true",
         "CreatedDate": "2024-05-01T12:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-05-01T12:00:00.000+0000"},
        {"Id": "R2", "OpportunityId": "O1", "ContactId": "C2", "IsPrimary": "false",
         "CreatedDate": "2024-05-02T12:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-05-02T12:00:00.000+0000"},
        {"Id": "R3", "OpportunityId": "O2", "ContactId": "C3", "IsPrimary": "true",
         "CreatedDate": "2024-02-01T00:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-02-01T00:00:00.000+0000"},
        {"Id": "R4", "OpportunityId": "O4", "ContactId": "C1", "IsPrimary": "true",
         "CreatedDate": "2024-05-01T12:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2024-05-01T12:00:00.000+0000"},
        {"Id": "R5", "OpportunityId": "O5", "ContactId": "C3", "IsPrimary": "true",
         "CreatedDate": "2026-01-01T00:00:00.000+0000", "IsDeleted": "false",
         "SystemModstamp": "2026-01-01T00:00:00.000+0000"},
    ],
    ("salesforce", "Campaign"): [
        {"Id": "WEB", "Name": "Webinar", "Type": "Webinar", "IsDeleted": "false"},
        {"Id": "PARTNER", "Name": "Partner program", "Type": "Partners", "IsDeleted": "false"},
        {"Id": "SHOW", "Name": "Trade show", "Type": "Trade Show", "IsDeleted": "false"},
        {"Id": "CONTENT", "Name": "eBook", "Type": "Content", "IsDeleted": "false"},
        {"Id": "NEWSLETTER", "Name": "Newsletter", "Type": "Email", "IsDeleted": "false"},
    ],
    ("salesforce", "CampaignMember"): [
        {"Id": member_id, "CampaignId": campaign, "LeadId": lead, "ContactId": contact, "HasResponded": "true",
         "FirstRespondedDate": None, "CreatedDate": created, "IsDeleted": "false", "SystemModstamp": created}
        for member_id, campaign, lead, contact, created in (
            ("CM1", "WEB", "L1", None, "2023-05-02T12:00:00.000+0000"),  # exactly 365 days before O1
            ("CM2", "WEB", None, "C2", "2023-05-02T11:59:59.000+0000"),  # one second too early
            ("CM6", "PARTNER", None, "C1", "2024-04-01T00:00:00.000+0000"),
            ("CM7", "PARTNER", None, "C1", "2024-04-10T00:00:00.000+0000"),  # a reaches 55 points: MQL
            ("CM10", "SHOW", None, "C2", "2024-04-24T12:00:00.000+0000"),
            ("CM3", "SHOW", None, "C2", "2024-04-24T12:00:00.000+0000"),  # same second as CM10
            ("CM4", "CONTENT", None, "C1", "2024-05-01T12:00:00.000+0000"),  # exactly at O1's creation
            ("CM5", "CONTENT", None, "C1", "2024-05-01T12:00:01.000+0000"),  # one second after
            ("CM20", "NEWSLETTER", None, "C3", "2024-01-15T00:00:00.000+0000"),
        )
    ],
    ("salesforce", "DatedConversionRate"): [
        {"Id": "D1", "IsoCode": "USD", "ConversionRate": "1", "StartDate": "2000-01-01", "NextStartDate": None},
        {"Id": "D2", "IsoCode": "EUR", "ConversionRate": "0.8", "StartDate": "2024-01-01",
         "NextStartDate": "2024-03-01"},
        {"Id": "D3", "IsoCode": "EUR", "ConversionRate": "1.125", "StartDate": "2024-03-01", "NextStartDate": None},
    ],
    ("hubspot", "email_events"): [
        # 2024-04-30T12:00:00Z: an OPEN of person a, an excluded touch type
        {"id": "E1", "type": "OPEN", "recipient": "A@x.com", "created": "1714478400000", "emailCampaignId": None},
    ],
}


def _hand_computed() -> list[dict]:
    """The expected fct_attribution, straight from the rules of SPEC 3."""
    o1_touches = [  # (touchpoint, person, channel, touch_type, campaign, touched_at, days before O1)
        ("sf_cm:CM1", "a", "webinar", "webinar_attended", "WEB", datetime(2023, 5, 2, 12), 365.0),
        ("sf_cm:CM6", "a", "partner", "form_submission", "PARTNER", datetime(2024, 4, 1), 30.5),
        ("sf_cm:CM7", "a", "partner", "form_submission", "PARTNER", datetime(2024, 4, 10), 21.5),
        ("sf_cm:CM10", "b", "events", "event_attended", "SHOW", datetime(2024, 4, 24, 12), 7.0),
        ("sf_cm:CM3", "b", "events", "event_attended", "SHOW", datetime(2024, 4, 24, 12), 7.0),
        ("sf_cm:CM4", "a", "content", "content_download", "CONTENT", datetime(2024, 5, 1, 12), 0.0),
    ]
    u_shaped = [0.4, 0.05, 0.05, 0.05, 0.05, 0.4]  # middle share 0.2 over 4 middle touches
    # roles: CM1 first 0.3, CM7 lead 0.3, CM4 opportunity 0.3; CM6, CM10, CM3 share 0.1; sum 1
    w_shaped = [0.3, 0.1 / 3, 0.3, 0.1 / 3, 0.1 / 3, 0.3]
    decay = [2 ** (-days / 7) for *_, days in o1_touches]
    time_decay = [raw / sum(decay) for raw in decay]
    expected = []
    for index, (touchpoint, person, channel, touch_type, campaign, touched_at, _) in enumerate(o1_touches):
        position = index + 1
        expected.append({
            "opportunity_id": "O1", "touchpoint_id": touchpoint, "person": person, "campaign_id": campaign,
            "channel": channel, "touch_type": touch_type, "touched_at": touched_at, "position": position,
            "touch_count": 6, "weight_first_touch": 1.0 if position == 1 else 0.0,
            "weight_last_touch": 1.0 if position == 6 else 0.0, "weight_linear": 1 / 6,
            "weight_u_shaped": u_shaped[index], "weight_w_shaped": w_shaped[index],
            "weight_time_decay": time_decay[index], "amount": 1000.0, "is_won": True,
        })
    expected.append({
        "opportunity_id": "O2", "touchpoint_id": "sf_cm:CM20", "person": "c", "campaign_id": "NEWSLETTER",
        "channel": "email", "touch_type": "email_click", "touched_at": datetime(2024, 1, 15), "position": 1,
        "touch_count": 1, **{f"weight_{model}": 1.0 for model in MODELS}, "amount": 800.0, "is_won": False,
    })
    for opportunity, amount in (("O3", 0.0), ("O5", 100.0)):
        expected.append({
            "opportunity_id": opportunity, "touchpoint_id": None, "person": None, "campaign_id": None,
            "channel": "unattributed", "touch_type": "unattributed", "touched_at": None, "position": 0,
            "touch_count": 0, **{f"weight_{model}": 1.0 for model in MODELS}, "amount": amount, "is_won": False,
        })
    return expected


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    settings = Settings(warehouse_dir=tmp_path_factory.mktemp("attribution_warehouse"))
    land_records(settings.raw_dir, {key: [records] for key, records in RAW.items()})
    alignment = Alignment()
    run_dbt(settings, alignment, "seed")
    run_dbt(settings, alignment, "run", "--select", "+fct_attribution")
    return settings, alignment


def _table(settings: Settings, sql: str) -> list[dict]:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        result = con.execute(sql)
        columns = [column[0] for column in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def test_attribution_matches_the_hand_computed_table(warehouse):
    settings, _ = warehouse
    people = {row["contact_id"]: row["person_id"] for row in _table(
        settings, "select record_id as contact_id, person_id from intermediate.int_person_keys "
                  "where record_type = 'contact'")}
    person_ids = {"a": people["C1"], "b": people["C2"], "c": people["C3"], None: None}
    actual = _table(settings, "select * from marts.fct_attribution order by opportunity_id, position")
    expected = _hand_computed()
    assert [(row["opportunity_id"], row["touchpoint_id"]) for row in actual] == [
        (row["opportunity_id"], row["touchpoint_id"]) for row in expected]
    for got, want in zip(actual, expected, strict=True):
        where = f"{want['opportunity_id']} {want['touchpoint_id']}"
        assert got["person_id"] == person_ids[want["person"]], where
        for column in ("campaign_id", "channel", "touch_type", "touched_at", "position", "touch_count", "is_won"):
            assert got[column] == want[column], f"{where}: {column}"
        for column in (*(f"weight_{model}" for model in MODELS), "amount"):
            assert got[column] == pytest.approx(want[column], rel=1e-12, abs=1e-15), f"{where}: {column}"


def test_opportunities_are_converted_at_the_close_date_rate(warehouse):
    settings, _ = warehouse
    actual = _table(settings, "select opportunity_id, amount, conversion_rate, has_conversion_rate, amount_reporting, "
                              "is_won, is_lost from intermediate.int_opportunities order by opportunity_id")
    assert actual == [
        {"opportunity_id": "O1", "amount": 1000.0, "conversion_rate": 1.0, "has_conversion_rate": True,
         "amount_reporting": 1000.0, "is_won": True, "is_lost": False},
        {"opportunity_id": "O2", "amount": 900.0, "conversion_rate": 1.125, "has_conversion_rate": True,
         "amount_reporting": 800.0, "is_won": False, "is_lost": True},
        {"opportunity_id": "O3", "amount": 0.0, "conversion_rate": 1.0, "has_conversion_rate": True,
         "amount_reporting": 0.0, "is_won": False, "is_lost": False},
        {"opportunity_id": "O5", "amount": 100.0, "conversion_rate": 1.0, "has_conversion_rate": False,
         "amount_reporting": 100.0, "is_won": False, "is_lost": False},
    ]


def test_opportunity_people_count_a_person_reaching_twice_once(warehouse):
    settings, _ = warehouse
    actual = _table(settings, "select opportunity_id, count(*) as people, count(*) filter (where is_converted_lead) "
                              "as converted, count(*) filter (where is_primary_contact) as primary_contacts "
                              "from intermediate.int_opportunity_people group by all order by opportunity_id")
    assert actual == [
        {"opportunity_id": "O1", "people": 2, "converted": 1, "primary_contacts": 1},
        {"opportunity_id": "O2", "people": 1, "converted": 0, "primary_contacts": 1},
        {"opportunity_id": "O5", "people": 1, "converted": 0, "primary_contacts": 1},
    ]


def test_dbt_tests_of_the_attribution_models_pass(warehouse):
    settings, alignment = warehouse
    run_dbt(settings, alignment, "test", "--select",
            "int_opportunities int_opportunity_people int_attribution__eligible_touches fct_attribution")


def test_attributed_totals_reconcile_with_pipeline_and_revenue(warehouse):
    settings, _ = warehouse
    for model in MODELS:
        totals = _table(settings, f"select sum(weight_{model} * amount) as pipeline, "
                                  f"sum(case when is_won then weight_{model} * amount else 0 end) as revenue "
                                  "from marts.fct_attribution")[0]
        assert totals["pipeline"] == pytest.approx(1900.0) and totals["revenue"] == pytest.approx(1000.0), model
