"""The files source: a drop folder laid out as in SPEC 1.2, landed through the raw landing path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.alignment import Alignment
from orchestration.duck import connect, rows
from orchestration.settings import Settings
from orchestration.sources import files

LEAD_CSV = (
    "\ufeffId,Email,Status,CreatedDate,IsConverted,IsDeleted,SystemModstamp,Disqualification_Reason__c\n"
    "00Q1,Ann@Example.com,Open,2024-03-05T14:02:11.000+0000,false,FALSE,2024-03-05T14:02:11.000+0000,\n"
    "00Q2,bob@example.com,Disqualified,2024-03-05T14:02:11Z,0,0,2024-03-06 09:00:00,No budget\n"
    "00Q3,cy@example.com,Open,2024-13-45,1,true,2024-03-06 09:00:00,\n"
)
LEAD_2_CSV = (
    "Id,Email,CreatedDate,IsDeleted,SystemModstamp\n00Q1,ann@example.com,2024-03-05 14:02:11,True,2024-04-01 00:00:00\n"
)
CONTACT_CSV = "Id,AccountId,Email,CreatedDate\n0031,0011,dee@example.com,2024-03-07T10:00:00Z\n"
HUBSPOT_CONTACTS = [
    {"id": "101", "properties": {"email": "ann@example.com", "createdate": "2024-03-01T10:00:00Z",
                                 "hs_analytics_source": "PAID_SEARCH"},
     "createdAt": "2024-03-01T10:00:00Z", "updatedAt": "1709287200000", "archived": False},
    '{"id": "102", "properties": {"email": broken',
    {"id": "103", "properties": {"email": "x@example.com", "createdate": "yesterday"},
     "createdAt": "2024-03-01T10:00:00Z", "updatedAt": "2024-03-01T10:00:00Z", "archived": False},
]
FORM_SUBMISSIONS = [
    {"formGuid": "f-1", "submittedAt": 1709287200000, "pageUrl": "https://x.io/demo?utm_medium=cpc",
     "values": [{"name": "email", "value": "ann@example.com"}]},
    {"formGuid": "f-1", "submittedAt": 1709287300000, "pageUrl": "https://x.io/demo", "values": []},
]


def jsonl(records: list) -> str:
    return "".join((record if isinstance(record, str) else json.dumps(record)) + "\n" for record in records)


@pytest.fixture
def drop(tmp_path) -> Path:
    folder = tmp_path / "drop"
    (folder / "salesforce").mkdir(parents=True)
    (folder / "hubspot").mkdir()
    (folder / "spend").mkdir()
    (folder / "salesforce" / "Lead.csv").write_text(LEAD_CSV, encoding="utf-8")
    (folder / "salesforce" / "Lead-2.csv").write_text(LEAD_2_CSV)
    (folder / "salesforce" / "Contact.csv").write_text(CONTACT_CSV)
    (folder / "hubspot" / "contacts.jsonl").write_text(jsonl(HUBSPOT_CONTACTS))
    (folder / "hubspot" / "form_submissions.jsonl").write_text(jsonl(FORM_SUBMISSIONS))
    (folder / "spend" / "ad_spend.csv").write_text("date,channel,campaign_name,spend,currency\n"
                                                   "2024-03-01,paid_search,Q1 Search,120.50,USD\n")
    return folder


def settings_for(drop: Path, tmp_path: Path) -> Settings:
    return Settings(source="files", drop_dir=drop, warehouse_dir=tmp_path / "warehouse")


def raw(settings: Settings, folder: str, columns: str, order: str = "_batch_id, _source_row") -> list[tuple]:
    return rows(connect(), f"select {columns} from read_parquet('{settings.raw_dir}/{folder}/*.parquet', "
                           f"union_by_name = true) order by {order}")


ALL = ("salesforce", "hubspot", "spend")


def test_valid_records_land_with_lineage_and_extras(drop, tmp_path):
    settings = settings_for(drop, tmp_path)
    report = files.extract(settings, Alignment(), ALL)
    leads = raw(settings, "salesforce/Lead", "Id, Email, IsDeleted, Disqualification_Reason__c, _source_file, "
                                            "_source_row")
    assert leads == [
        ("00Q1", "Ann@Example.com", "FALSE", None, "salesforce/Lead.csv", 2),
        ("00Q2", "bob@example.com", "0", "No budget", "salesforce/Lead.csv", 3),
        ("00Q1", "ann@example.com", "True", None, "salesforce/Lead-2.csv", 2),  # later file = later batch
    ]
    assert raw(settings, "salesforce/Contact", "Id, AccountId, LeadSource") == [("0031", "0011", None)]
    contacts = raw(settings, "hubspot/contacts", "id, properties, archived")
    assert contacts[0][0] == "101" and json.loads(contacts[0][1])["hs_analytics_source"] == "PAID_SEARCH"
    assert contacts[0][2] == "false"
    assert raw(settings, "spend/ad_spend", "campaign_name, spend") == [("Q1 Search", "120.50")]
    assert report.rows_by_object()["salesforce/Lead"] == 3


def test_unparseable_records_are_quarantined_with_file_row_and_reason(drop, tmp_path):
    settings = settings_for(drop, tmp_path)
    report = files.extract(settings, Alignment(), ALL)
    quarantined = raw(settings, "quarantine/records", "object, source_file, cast(source_row as int), field, reason",
                      order="source_file, source_row")
    assert quarantined == [
        ("contacts", "hubspot/contacts.jsonl", 2, None,
         "hubspot/contacts.jsonl: line 2: not a JSON object: the line is not valid JSON"),
        ("contacts", "hubspot/contacts.jsonl", 3, "properties.createdate",
         "hubspot/contacts.jsonl: row 3: properties.createdate: 'yesterday' is not a valid time"),
        ("Lead", "salesforce/Lead.csv", 4, "CreatedDate",
         "salesforce/Lead.csv: row 4: CreatedDate: '2024-13-45' is not a valid datetime"),
    ]
    assert report.quarantined == {"hubspot/contacts": 2, "salesforce/Lead": 1}
    assert [row[0] for row in raw(settings, "hubspot/contacts", "id")] == ["101"]


def test_missing_required_column_fails_naming_file_and_column_before_landing(drop, tmp_path):
    (drop / "salesforce" / "OpportunityContactRole.csv").write_text("Id,ContactId\n00K1,0031\n")
    settings = settings_for(drop, tmp_path)
    with pytest.raises(files.DropFolderError, match=r"salesforce/OpportunityContactRole.csv: missing required "
                                                    r"column 'OpportunityId'"):
        files.extract(settings, Alignment(), ALL)
    assert not settings.raw_dir.exists()


def test_unchanged_files_are_not_landed_twice_and_changed_ones_are(drop, tmp_path):
    settings = settings_for(drop, tmp_path)
    files.extract(settings, Alignment(), ALL)
    again = files.extract(settings, Alignment(), ALL)
    assert again.rows_by_object() == {}
    (drop / "salesforce" / "Contact.csv").write_text(CONTACT_CSV + "0032,0011,eve@example.com,2024-03-08 10:00:00\n")
    changed = files.extract(settings, Alignment(), ALL)
    assert changed.rows_by_object() == {"salesforce/Contact": 2}


def test_form_submission_without_email_is_counted_not_dropped(drop, tmp_path):
    settings = settings_for(drop, tmp_path)
    report = files.extract(settings, Alignment(), ALL)
    assert any("1 form submissions" in note and "no email" in note for note in report.notes)
    assert len(raw(settings, "hubspot/form_submissions", "formGuid")) == 2


def test_configured_reason_field_is_landed_even_when_absent(drop, tmp_path):
    (drop / "salesforce" / "Lead.csv").write_text("Id,Email\n00Q9,zed@example.com\n")
    (drop / "salesforce" / "Lead-2.csv").unlink()
    settings = settings_for(drop, tmp_path)
    alignment = Alignment.model_validate({"crm": {"disqualification_reason_field": "Why__c"}})
    files.extract(settings, alignment, ["salesforce"])
    assert raw(settings, "salesforce/Lead", "Id, Why__c") == [("00Q9", None)]
