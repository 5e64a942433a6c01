"""The dbt staging layer: sources match the raw registry, and the real dbt build types and dedupes.

One raw fixture covers many cases at once (two batches per object where versions matter), and
dbt runs once for the module: `dbt build --select staging` builds every staging model and runs
its unique / not_null tests, then the tests below read the built tables.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml
from raw_fixtures import land_records

from orchestration.alignment import Alignment, Crm
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows
from orchestration.raw_schema import QUARANTINE, RAW_OBJECTS
from orchestration.settings import DBT_PROJECT_DIR, Settings

STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging"
REASON_FIELD = "Disqualification_Reason__c"
# 2024-03-05 14:02:11 UTC, the instant most fixture timestamps spell in their own way.
INSTANT = datetime(2024, 3, 5, 14, 2, 11)
INSTANT_MS = 1709647331000

# Each object's batches in landing order: a later batch gets a later _batch_id.
RAW_BATCHES: dict[tuple[str, str], list[list[dict[str, str | None]]]] = {
    ("salesforce", "Lead"): [
        [
            # The greater SystemModstamp wins although this batch is the earlier one.
            {"Id": "00Q_NEWER_FIRST", "Status": "Qualified", "SystemModstamp": "2024-03-05T10:00:00.000+0000",
             "CreatedDate": "2024-03-05T14:02:11.000+0000", "IsConverted": "TRUE", "IsDeleted": "false",
             "Country": "DE"},
            {"Id": "00Q_TIE", "Status": "Open", "SystemModstamp": "2024-03-01 00:00:00",
             "CreatedDate": "2024-03-01 00:00:00", "IsConverted": "true", "IsDeleted": "0", "Country": "FR"},
            {"Id": "00Q_DELETED", "Status": "Open", "SystemModstamp": "2024-03-01 00:00:00",
             "CreatedDate": "2024-03-05 14:02:11", "IsConverted": "0", "IsDeleted": "True", "Country": "US"},
            {"Id": "00Q_DISQUALIFIED", "Status": "Disqualified", "SystemModstamp": "2024-03-02 00:00:00",
             "CreatedDate": "2024-03-05 14:02:11", "IsConverted": "1", "ConvertedDate": "2024-03-06",
             "NumberOfEmployees": "250", "Email": "", "IsDeleted": "FALSE", REASON_FIELD: "No budget"},
        ],
        [  # no IsDeleted, Country or custom-field column in this export
            {"Id": "00Q_NEWER_FIRST", "Status": "Working - Contacted", "SystemModstamp": "2024-03-04T00:00:00Z"},
            # Same instant as batch 1's version, spelled differently: the later batch wins the tie.
            {"Id": "00Q_TIE", "Status": "Working - Contacted", "SystemModstamp": "2024-03-01T00:00:00.000+0000",
             "CreatedDate": "2024-03-05T14:02:11Z", "IsConverted": "false"},
            {"Id": "00Q_LATE", "Status": "Open", "CreatedDate": "2024-03-05T16:02:11.000+0200",
             "Email": "late@example.com"},
        ],
    ],
    ("salesforce", "LeadHistory"): [
        [{"Id": "017_A", "LeadId": "00Q_TIE", "Field": "Status", "NewValue": "Open",
          "CreatedDate": "2024-03-01 00:00:00"}],
        [{"Id": "017_A", "LeadId": "00Q_TIE", "Field": "Status", "NewValue": "Working - Contacted",
          "CreatedDate": "2024-03-01 00:00:00"}],
    ],
    ("salesforce", "Opportunity"): [
        [{"Id": "006_BLANK", "Amount": "", "CloseDate": "2024-04-01", "IsClosed": "true", "IsWon": "false"},
         {"Id": "006_AMOUNT", "Amount": "1000.50", "CloseDate": "2024-04-02", "IsClosed": "1", "IsWon": "1"}],
    ],
    ("salesforce", "DatedConversionRate"): [
        [{"Id": "04w_1", "IsoCode": "EUR", "ConversionRate": "0.9", "StartDate": "2024-01-01",
          "NextStartDate": "2024-02-01", "SystemModstamp": "2024-02-01 00:00:00"}],
        [{"Id": "04w_2", "IsoCode": "EUR", "ConversionRate": "0.8", "StartDate": "2024-01-01",
          "NextStartDate": "2024-02-01", "SystemModstamp": "2024-01-15 00:00:00"}],
    ],
    ("hubspot", "contacts"): [
        [
            {"id": "101", "createdAt": str(INSTANT_MS), "updatedAt": "2024-03-06T00:00:00.000Z", "archived": "false",
             "properties": '{"email": "new@example.com", "hubspotscore": "42", '
                           '"createdate": "2024-03-05T14:02:11.000Z", '
                           f'"hs_analytics_first_timestamp": "{INSTANT_MS}", "salesforceleadid": "00Q_TIE"}}'},
            {"id": "102", "createdAt": "2024-03-05T14:02:11Z", "updatedAt": "2024-03-05T14:02:11Z",
             "archived": "true", "properties": '{"email": "gone@example.com"}'},
        ],
        [
            # An older version (updatedAt as epoch ms: 2024-03-05 00:00 UTC) landed later: it loses.
            {"id": "101", "createdAt": str(INSTANT_MS), "updatedAt": "1709596800000", "archived": "false",
             "properties": '{"email": "old@example.com"}'},
            {"id": "103", "createdAt": str(INSTANT_MS), "updatedAt": str(INSTANT_MS), "properties": "{}"},
        ],
    ],
    ("hubspot", "email_events"): [
        [{"id": "e1", "type": "CLICK", "recipient": "new@example.com", "created": str(INSTANT_MS),
          "emailCampaignId": "m1"},
         {"id": "e2", "type": "OPEN", "recipient": "new@example.com", "created": "2024-03-05T14:02:11Z",
          "emailCampaignId": "m1"}],
    ],
    ("hubspot", "forms"): [
        [{"guid": "g1", "name": "Request a demo"}, {"id": "v3-form", "name": "Newsletter"}],
    ],
    ("hubspot", "form_submissions"): [
        [
            {"formGuid": "g1", "submittedAt": str(INSTANT_MS), "pageUrl": "https://x.test/?utm_medium=cpc",
             "values": '[{"name": "firstname", "value": "Ann"}, {"name": "email", "value": "new@example.com"}]'},
            {"formGuid": "v3-form", "submittedAt": "2024-03-05T14:02:11Z", "pageUrl": "https://x.test/news",
             "values": '[{"name": "firstname", "value": "Bob"}]'},
        ],
        [  # the first submission re-extracted: time as ISO, values spaced differently
            {"formGuid": "g1", "submittedAt": "2024-03-05T14:02:11.000Z", "pageUrl": "https://x.test/?utm_medium=cpc",
             "values": '[{"name":"firstname","value":"Ann"},{"name":"email","value":"new@example.com"}]'},
        ],
    ],
    ("hubspot", "marketing_emails"): [[{"id": "m1", "name": "March newsletter", "campaign": "spring"}]],
    ("spend", "ad_spend"): [
        [{"date": "2024-03-05", "channel": "paid_search", "campaign_name": "Spring", "spend": "12.5",
          "currency": "USD"}],
        [{"date": "2024-03-05", "channel": "paid_search", "campaign_name": "Spring", "spend": "15",
          "currency": "USD"}],
    ],
}


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory):
    """Land the fixture, build staging once with a configured disqualification reason field."""
    settings = Settings(warehouse_dir=tmp_path_factory.mktemp("staging") / "warehouse")
    land_records(settings.raw_dir, RAW_BATCHES)
    alignment = Alignment(crm=Crm(disqualification_reason_field=REASON_FIELD))
    run_dbt(settings, alignment, "build", "--select", "staging")
    warehouse = connect(settings.warehouse_path, read_only=True)
    yield warehouse
    warehouse.close()


def _by_key(con, sql: str) -> dict:
    """First column -> the rest of the row (one value when the rest is one column)."""
    result = {}
    for row in rows(con, sql):
        result[row[0]] = row[1] if len(row) == 2 else row[1:]
    return result


def _source_tables() -> dict[tuple[str, str], dict]:
    tables = {}
    for path in STAGING_DIR.glob("*/_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                tables[(source["name"], table["name"])] = {**table, "_source": source}
    return tables


def test_every_raw_object_is_a_source_table_reading_its_raw_folder():
    tables = _source_tables()
    expected = {}
    for obj in (*RAW_OBJECTS, QUARANTINE):
        expected[(obj.system, obj.asset_name.removeprefix(f"{obj.system}__"))] = obj
    assert set(tables) == set(expected)
    for key, obj in expected.items():
        table = tables[key]
        assert table.get("identifier", table["name"]) == obj.name, key
        assert " ".join(table["description"].split()) == obj.description, key
        location = table["_source"]["config"]["meta"]["external_location"]
        assert f"/raw/{obj.system}/{{identifier}}/*.parquet" in location, key
        assert "union_by_name = true" in location, key


def test_staging_tables_hold_exactly_the_documented_columns(staging):
    for path in STAGING_DIR.glob("*/_*__models.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            documented = [column["name"] for column in model["columns"]]
            built = [row[0] for row in rows(staging, f"describe staging.{model['name']}")]
            assert built == documented, model["name"]
            assert all(column.get("description") for column in model["columns"]), model["name"]


def test_greatest_systemmodstamp_wins_and_ties_go_to_the_later_batch(staging):
    status = _by_key(staging, "select lead_id, status from staging.stg_salesforce__leads")
    assert status["00Q_NEWER_FIRST"] == "Qualified"
    assert status["00Q_TIE"] == "Working - Contacted"
    assert len(status) == 5


def test_deleted_records_are_kept_and_flagged(staging):
    deleted = _by_key(staging, "select lead_id, is_deleted from staging.stg_salesforce__leads")
    assert deleted == {"00Q_NEWER_FIRST": False, "00Q_TIE": False, "00Q_DELETED": True,
                       "00Q_DISQUALIFIED": False, "00Q_LATE": False}
    archived = _by_key(staging, "select hubspot_contact_id, is_archived from staging.stg_hubspot__contacts")
    assert archived == {"101": False, "102": True, "103": False}


def test_a_column_missing_from_the_export_is_null(staging):
    row = _by_key(staging, "select lead_id, country, number_of_employees, converted_date "
                           "from staging.stg_salesforce__leads")["00Q_LATE"]
    assert row == (None, None, None)


def test_salesforce_datetimes_booleans_dates_and_numbers_parse(staging):
    leads = _by_key(staging, "select lead_id, created_date, is_converted, converted_date, number_of_employees, "
                             "email from staging.stg_salesforce__leads")
    for lead_id in ("00Q_NEWER_FIRST", "00Q_TIE", "00Q_DELETED", "00Q_DISQUALIFIED", "00Q_LATE"):
        assert leads[lead_id][0] == INSTANT, lead_id  # +0000, Z, Data Export and +0200 spellings
    assert [leads[i][1] for i in ("00Q_NEWER_FIRST", "00Q_TIE", "00Q_DELETED", "00Q_DISQUALIFIED")] == [
        True, False, False, True]
    assert leads["00Q_DISQUALIFIED"][2:] == (date(2024, 3, 6), 250, None)  # empty text is null
    assert leads["00Q_LATE"][4] == "late@example.com"
    opportunities = _by_key(staging, "select opportunity_id, amount, close_date, is_closed, is_won "
                                     "from staging.stg_salesforce__opportunities")
    assert opportunities == {"006_BLANK": (None, date(2024, 4, 1), True, False),
                             "006_AMOUNT": (1000.5, date(2024, 4, 2), True, True)}
    types = _by_key(staging, "select column_name, column_type from (describe staging.stg_salesforce__leads)")
    assert (types["created_date"], types["converted_date"], types["is_converted"],
            types["number_of_employees"]) == ("TIMESTAMP", "DATE", "BOOLEAN", "BIGINT")


def test_objects_without_a_version_keep_the_latest_batch(staging):
    assert rows(staging, "select lead_history_id, new_value from staging.stg_salesforce__lead_history") == [
        ("017_A", "Working - Contacted")]
    assert rows(staging, "select spend_date, campaign_name, spend from staging.stg_spend__ad_spend") == [
        (date(2024, 3, 5), "Spring", 15.0)]


def test_dated_conversion_rates_dedupe_on_currency_and_start_date(staging):
    assert rows(staging, "select iso_code, conversion_rate, start_date, next_start_date "
                         "from staging.stg_salesforce__dated_conversion_rates") == [
        ("EUR", 0.9, date(2024, 1, 1), date(2024, 2, 1))]


def test_hubspot_contacts_latest_updated_at_wins_and_times_parse(staging):
    contact = _by_key(staging, "select hubspot_contact_id, email, hubspotscore, createdate, "
                               "hs_analytics_first_timestamp, created_at, updated_at, salesforceleadid "
                               "from staging.stg_hubspot__contacts")["101"]
    assert contact == ("new@example.com", 42.0, INSTANT, INSTANT, INSTANT, datetime(2024, 3, 6),
                       "00Q_TIE")


def test_hubspot_email_event_times_parse_from_epoch_ms_and_iso(staging):
    events = _by_key(staging, "select email_event_id, event_type, created_at, email_campaign_id "
                              "from staging.stg_hubspot__email_events")
    assert events == {"e1": ("CLICK", INSTANT, "m1"), "e2": ("OPEN", INSTANT, "m1")}


def test_forms_take_the_v2_guid_or_the_v3_id(staging):
    assert _by_key(staging, "select form_guid, form_name from staging.stg_hubspot__forms") == {
        "g1": "Request a demo", "v3-form": "Newsletter"}


def test_form_submissions_dedupe_and_carry_the_submitted_email(staging):
    submissions = _by_key(staging, "select form_guid, submitted_at, submitted_at_ms, email, form_submission_key "
                                   "from staging.stg_hubspot__form_submissions")
    assert set(submissions) == {"g1", "v3-form"}  # the re-extracted g1 submission is one submission
    assert submissions["g1"][:3] == (INSTANT, INSTANT_MS, "new@example.com")
    assert submissions["v3-form"][:3] == (INSTANT, INSTANT_MS, None)
    assert submissions["g1"][3] != submissions["v3-form"][3]


def test_disqualification_reason_reads_the_configured_custom_field(staging):
    reasons = _by_key(staging, "select lead_id, disqualification_reason from staging.stg_salesforce__leads")
    assert reasons["00Q_DISQUALIFIED"] == "No budget"
    assert reasons["00Q_LATE"] is None

