"""The files source: a drop folder laid out as in SPEC 1.2, landed through the raw landing path.

Runs the real extractor on tests/fixtures/drop_small (Salesforce Data Export CSVs, HubSpot API
JSON lines, ad spend) copied into tmp_path, and on copies with defects, reading the landed
Parquet back with DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from orchestration.alignment import Alignment
from orchestration.duck import connect, rows
from orchestration.settings import Settings
from orchestration.sources import files

FIXTURE = Path(__file__).parent / "fixtures" / "drop_small"
ALL = ("salesforce", "hubspot", "spend")


@pytest.fixture
def drop(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "drop"))


@pytest.fixture
def settings(drop, tmp_path) -> Settings:
    return Settings(source="files", drop_dir=drop, warehouse_dir=tmp_path / "warehouse")


def raw(settings: Settings, folder: str, columns: str, order: str = "_batch_id, _source_row") -> list[tuple]:
    con = connect()
    try:
        order_by = f" order by {order}" if order else ""
        return rows(con, f"select {columns} from read_parquet('{settings.raw_dir}/{folder}/*.parquet', "
                         f"union_by_name = true){order_by}")
    finally:
        con.close()


def quarantined(settings: Settings) -> list[tuple]:
    return raw(settings, "quarantine/records", "source_file, cast(source_row as int), field, reason, record",
               order="source_file, source_row")


def test_the_small_drop_folder_lands_every_file_as_its_own_batch(settings):
    report = files.extract(settings, Alignment(), ALL)
    assert report.rows_by_object() == {
        "salesforce/User": 2, "salesforce/Account": 1, "salesforce/Lead": 5, "salesforce/LeadHistory": 2,
        "salesforce/Contact": 1, "salesforce/Opportunity": 1, "salesforce/OpportunityContactRole": 1,
        "salesforce/Campaign": 1, "salesforce/CampaignMember": 2, "salesforce/Task": 1, "hubspot/contacts": 2,
        "hubspot/email_events": 2, "hubspot/forms": 2, "hubspot/form_submissions": 2,
        "hubspot/marketing_emails": 1, "spend/ad_spend": 2,
    }
    assert len(report.batches) == 17  # one per file (Lead.csv and Lead-2.csv are two), no quarantine batch
    assert report.quarantined == {}
    assert quarantined(settings) == []  # the folder exists with a schema, but holds no record


def test_csv_values_land_as_text_with_lineage_extras_and_the_later_file_as_the_later_batch(settings):
    files.extract(settings, Alignment(), ALL)
    leads = raw(settings, "salesforce/Lead",
                "Id, IsDeleted, Description, Disqualification_Reason__c, ConvertedDate, _source_file, _source_row")
    assert leads == [  # Lead.csv has a BOM; its second record spans lines 3-4, so the third starts on line 5
        ("00Q5g00000AbCd1EAF", "false", 'Met at "SaaStr" booth', None, None, "salesforce/Lead.csv", 2),
        ("00Q5g00000AbCd2EAF", "0", "Asked for pricing.\nWants a demo in April.", None, "2024-03-20",
         "salesforce/Lead.csv", 3),
        ("00Q5g00000AbCd3EAF", "TRUE", None, "No budget", None, "salesforce/Lead.csv", 5),
        ("00Q5g00000AbCd1EAF", "False", None, None, None, "salesforce/Lead-2.csv", 2),
        ("00Q5g00000AbCd4EAF", "0", None, None, None, "salesforce/Lead-2.csv", 3),
    ]
    # Lead-2.csv lacks most columns: every registered field is still there, null.
    assert raw(settings, "salesforce/Lead", "count(Company), count(*)", order="") == [(3, 5)]
    assert raw(settings, "spend/ad_spend", "date, campaign_name, spend, currency") == [
        ("2024-03-01", "March Product Webinar", "120.50", "USD"), ("2024-03-02", "March Product Webinar", "80", "EUR")]


def test_hubspot_records_land_in_the_api_shapes(settings):
    report = files.extract(settings, Alignment(), ALL)
    contacts = raw(settings, "hubspot/contacts", "id, properties, createdAt, archived, associations, _source_row")
    assert [(c[0], c[2], c[3], c[5]) for c in contacts] == [
        ("151", "2024-03-04T09:12:33.201Z", "false", 1), ("152", "2024-03-05T10:00:00Z", "false", 2)]
    assert json.loads(contacts[0][1])["salesforceleadid"] == "00Q5g00000AbCd1EAF"
    assert json.loads(contacts[1][4])["companies"]["results"][0]["id"] == "9"  # an extra key, kept as JSON text
    assert raw(settings, "hubspot/forms", "guid, id, name") == [
        ("3f6d2a9e-0c51-4f0e-9a7b-2d1c1f5b8e01", None, "Request a Demo"),
        (None, "6b1f7f52-5f0a-4c34-8d8e-0a8f5e7c2b12", "Ebook download")]
    submissions = raw(settings, "hubspot/form_submissions", "submittedAt, values")
    assert submissions[0][0] == "1709633000000"  # a JSON number as its text
    assert json.loads(submissions[0][1])[0] == {"objectTypeId": "0-1", "name": "email", "value": "bob@globex.example"}
    assert raw(settings, "hubspot/email_events", "id, type, created, emailCampaignId") == [
        ("ev-0001", "OPEN", "1709650000000", "1234567"), ("ev-0002", "CLICK", "2024-03-05T15:00:00Z", "1234567")]
    assert raw(settings, "hubspot/marketing_emails", "id, name, campaign") == [
        ("1234567", "March newsletter", "c-abc-123")]
    assert "1 form submissions have no email value: counted as unmatched" in report.notes


def test_header_names_match_the_registry_in_any_case(settings, drop):
    (drop / "salesforce" / "Contact.csv").write_text("id,EMAIL,createddate,isdeleted\n0031,a@x.example,"
                                                     "2024-03-05 14:02:11,TRUE\n")
    files.extract(settings, Alignment(), ["salesforce"])
    assert raw(settings, "salesforce/Contact", "Id, Email, CreatedDate, IsDeleted") == [
        ("0031", "a@x.example", "2024-03-05 14:02:11", "TRUE")]


def test_bad_values_and_broken_lines_are_quarantined_with_file_line_and_reason(settings, drop):
    with (drop / "salesforce" / "Lead-2.csv").open("a") as stream:
        stream.write('00Q5g00000AbCd5EAF,eve@x.example,Open,2024-13-45,false,false,2024-03-12 11:00:00\n'
                     '00Q5g00000AbCd6EAF,"fay@x.example\nsecond line",Open,2024-03-12 11:00:00,yes,0,\n'
                     ',nobody@x.example,Open,2024-03-12 11:00:00,false,false,\n'
                     '00Q5g00000AbCd7EAF,too,many,columns,in,this,row,here\n'
                     '00Q5g00000AbCd8EAF,gus@x.example,Open,2024-03-12 11:00:00,1,0,\n')
    with (drop / "hubspot" / "contacts.jsonl").open("a") as stream:
        stream.write('{"id": "153", "properties": {"email": broken\n'
                     '\n'
                     '["an", "array"]\n'
                     '{"id": "154", "properties": {"createdate": "yesterday"}, "createdAt": 1709632800000}\n'
                     '{"id": "155", "properties": {}, "createdAt": "2024-03-05T10:00:00Z", "archived": true}\n')
    report = files.extract(settings, Alignment(), ALL)
    assert quarantined(settings) == [
        ("hubspot/contacts.jsonl", 3, None, "not valid JSON", '{"id": "153", "properties": {"email": broken'),
        ("hubspot/contacts.jsonl", 5, None, "not a JSON object (a array)", '["an", "array"]'),
        ("hubspot/contacts.jsonl", 6, "properties.createdate",
         "properties.createdate: 'yesterday' is not a time (epoch milliseconds or ISO 8601)",
         '{"id": "154", "properties": {"createdate": "yesterday"}, "createdAt": 1709632800000}'),
        ("salesforce/Lead-2.csv", 4, "CreatedDate", "CreatedDate: '2024-13-45' is not a datetime",
         "00Q5g00000AbCd5EAF,eve@x.example,Open,2024-13-45,false,false,2024-03-12 11:00:00"),
        ("salesforce/Lead-2.csv", 5, "IsConverted", "IsConverted: 'yes' is not a boolean (true/false/1/0)",
         '00Q5g00000AbCd6EAF,"fay@x.example\nsecond line",Open,2024-03-12 11:00:00,yes,0,'),
        ("salesforce/Lead-2.csv", 7, "Id", "Id: required value is empty",
         ",nobody@x.example,Open,2024-03-12 11:00:00,false,false,"),
        ("salesforce/Lead-2.csv", 8, None,
         "malformed CSV row: TOO MANY COLUMNS: Expected Number of Columns: 7 Found: 8",
         "00Q5g00000AbCd7EAF,too,many,columns,in,this,row,here"),
    ]
    assert report.quarantined == {"hubspot/contacts": 3, "salesforce/Lead": 4}
    # The rest of each file lands, each record with its own line.
    assert raw(settings, "salesforce/Lead", "Id, _source_row", order="_batch_id, _source_row")[-3:] == [
        ("00Q5g00000AbCd1EAF", 2), ("00Q5g00000AbCd4EAF", 3), ("00Q5g00000AbCd8EAF", 9)]
    assert raw(settings, "hubspot/contacts", "id, archived, _source_row") == [
        ("151", "false", 1), ("152", "false", 2), ("155", "true", 7)]


@pytest.mark.parametrize(("field", "value", "kind"), [
    ("NumberOfEmployees", "12a", "an integer"),
    ("NumberOfEmployees", "12 people", "an integer"),
    ("ConvertedDate", "2024-03-20T00:00:00Z", "a date (YYYY-MM-DD)"),
    ("ConvertedDate", "20/03/2024", "a date (YYYY-MM-DD)"),
    ("SystemModstamp", "05/03/2024 14:02", "a datetime"),
    ("IsDeleted", "yes", "a boolean (true/false/1/0)"),
])
def test_each_kind_rejects_values_staging_cannot_read(settings, drop, field, value, kind):
    (drop / "salesforce" / "Lead.csv").write_text(f"Id,{field}\n00Q1,{value}\n00Q2,\n")
    files.extract(settings, Alignment(), ["salesforce"])
    assert [row[2:4] for row in quarantined(settings)] == [(field, f"{field}: '{value}' is not {kind}")]
    assert raw(settings, "salesforce/Lead", "Id") == [("00Q2",), ("00Q5g00000AbCd1EAF",), ("00Q5g00000AbCd4EAF",)]


def test_every_allowed_spelling_of_booleans_times_and_numbers_passes(settings, drop):
    spellings = [("true", "2024-03-05T14:02:11.000+0000"), ("FALSE", "2024-03-05T14:02:11Z"),
                 ("1", "2024-03-05 14:02:11"), ("0", "2024-03-05T14:02:11.000Z"), ("True", "2024-03-05T16:02:11+02:00"),
                 ("fAlSe", "")]
    amounts = ["1", "1.5", "-2", "1e3", " 7 ", ""]
    (drop / "salesforce" / "Opportunity.csv").write_text(
        "Id,IsWon,CreatedDate,CloseDate,Amount\n"
        + "".join(f"006{n},{flag},{time},2024-04-30,{amount}\n"
                  for n, ((flag, time), amount) in enumerate(zip(spellings, amounts, strict=True))))
    (drop / "hubspot" / "email_events.jsonl").write_text(
        '{"id": "e1", "type": "OPEN", "created": 1709650000000}\n'
        '{"id": "e2", "type": "OPEN", "created": "1709650000000"}\n'
        '{"id": "e3", "type": "OPEN", "created": "2024-03-05T15:00:00.000Z"}\n'
        '{"id": "e4", "type": "OPEN", "created": "2024-03-05"}\n')
    report = files.extract(settings, Alignment(), ALL)
    assert report.quarantined == {}
    assert len(raw(settings, "salesforce/Opportunity", "Id")) == 6
    assert len(raw(settings, "hubspot/email_events", "id")) == 4


def test_missing_required_column_fails_naming_file_and_column_before_anything_lands(settings, drop):
    (drop / "salesforce" / "OpportunityContactRole-2.csv").write_text("Id,ContactId\n00K1,0031\n")
    with pytest.raises(files.DropFolderError, match=r"salesforce/OpportunityContactRole-2.csv: missing required "
                                                    r"column 'OpportunityId'"):
        files.extract(settings, Alignment(), ALL)
    assert not settings.raw_dir.exists()


def test_rerun_on_an_unchanged_folder_lands_nothing_and_a_changed_file_lands_again(settings, drop):
    first = files.extract(settings, Alignment(), ALL)
    manifest = json.loads((settings.warehouse_dir / "state" / "files_landed.json").read_text())
    assert manifest["salesforce/Lead-2.csv"]["size"] == (drop / "salesforce" / "Lead-2.csv").stat().st_size
    assert len(manifest["salesforce/Lead-2.csv"]["blake2b"]) == 128 and len(manifest) == 17
    again = files.extract(settings, Alignment(), ALL)
    assert again.batches == [] and again.rows_by_object() == {}
    assert raw(settings, "salesforce/Lead", "count(*)", order="") == [(5,)]
    with (drop / "salesforce" / "Contact.csv").open("a") as stream:
        stream.write('"0035g00000Con02AAA","","eve@x.example","","","","2024-03-21 10:00:00","false",""\n')
    changed = files.extract(settings, Alignment(), ALL)
    assert changed.rows_by_object() == {"salesforce/Contact": 2}  # the whole file, as a new batch
    batches = raw(settings, "salesforce/Contact", "count(distinct _batch_id), count(*)", order="")
    assert batches == [(2, 3)] and first.batches[0].batch_id < changed.batches[0].batch_id


def test_configured_reason_field_is_landed_even_when_absent(settings, drop):
    alignment = Alignment.model_validate({"crm": {"disqualification_reason_field": "Why__c"}})
    files.extract(settings, alignment, ["salesforce"])
    assert raw(settings, "salesforce/Lead", "Id, Why__c, Disqualification_Reason__c")[2:4] == [
        ("00Q5g00000AbCd3EAF", None, "No budget"), ("00Q5g00000AbCd1EAF", None, None)]


def test_only_requested_systems_are_read_and_unknown_files_are_noted(settings, drop):
    (drop / "spend" / "budget.csv").write_text("a,b\n1,2\n")
    (drop / "spend" / "ad_spend-2024-04.csv").write_text("date,campaign_name,spend\n2024-04-01,Spring,10\n")
    report = files.extract(settings, Alignment(), ["spend"])
    assert report.rows_by_object() == {"spend/ad_spend": 3}
    assert any(note.startswith("spend/budget.csv: not a known spend object file") for note in report.notes)
    assert raw(settings, "salesforce/Lead", "count(*)", order="") == [(0,)]  # schema only, for dbt


def test_one_log_line_per_landed_file(settings, caplog):
    with caplog.at_level(logging.INFO, logger="closedloop.files"):
        files.extract(settings, Alignment(), ["hubspot"])
    landed = [r.getMessage() for r in caplog.records if "rows landed" in r.getMessage()]
    assert len(landed) == 5
    assert any(m.startswith("hubspot/form_submissions.jsonl: 2 rows landed") and m.endswith("0 quarantined")
               for m in landed)


def test_stray_quotes_on_one_line_records_keep_their_lines(settings, drop):
    # as many records as lines: each record's line is its position, quotes or not
    (drop / "salesforce" / "Task.csv").write_text('Id,Subject\n00T1,5" screen\n00T2,call')
    report = files.extract(settings, Alignment(), ["salesforce"])
    assert raw(settings, "salesforce/Task", "Id, Subject, _source_row") == [
        ("00T1", '5" screen', 2), ("00T2", "call", 3)]
    assert not any("stray quote" in note for note in report.notes)


def test_stray_quotes_with_multi_line_records_still_land_and_say_lines_are_row_numbers(settings, drop):
    (drop / "salesforce" / "Task.csv").write_text('Id,Subject\n00T1,5" screen\n00T2,"call\nback"\n00T3,x\n')
    report = files.extract(settings, Alignment(), ["salesforce"])
    assert raw(settings, "salesforce/Task", "Id, Subject, _source_row") == [
        ("00T1", '5" screen', 2), ("00T2", "call\nback", 3), ("00T3", "x", 4)]
    assert any(note.startswith("salesforce/Task.csv:") and "stray quote" in note for note in report.notes)


def test_a_bad_value_in_a_file_of_one_line_records_is_quarantined_with_its_line(settings, drop):
    (drop / "salesforce" / "Task.csv").write_text('Id,Subject,CreatedDate\n00T1,call,2024-03-05 10:00:00\n'
                                                  '00T2,demo,05/03/2024 10:00\n00T3,mail,\n')
    files.extract(settings, Alignment(), ["salesforce"])
    assert quarantined(settings) == [("salesforce/Task.csv", 3, "CreatedDate",
                                      "CreatedDate: '05/03/2024 10:00' is not a datetime",
                                      "00T2,demo,05/03/2024 10:00")]
    assert raw(settings, "salesforce/Task", "Id, _source_row") == [("00T1", 2), ("00T3", 4)]


def test_a_file_that_is_not_utf8_fails_naming_the_file(settings, drop):
    (drop / "hubspot" / "forms.jsonl").write_bytes('{"guid": "g1", "name": "Démo"}\n'.encode("latin-1"))
    with pytest.raises(files.DropFolderError, match=r"hubspot/forms.jsonl: cannot be read as UTF-8"):
        files.extract(settings, Alignment(), ["hubspot"])


def test_untouched_files_are_skipped_unread_and_a_rewrite_with_the_same_content_does_not_land(
        settings, drop, monkeypatch):
    files.extract(settings, Alignment(), ALL)
    hashed: list[str] = []
    scan = files._scan
    monkeypatch.setattr(files, "_scan", lambda path, *digest: hashed.append(path.name) or scan(path, *digest))
    again = files.extract(settings, Alignment(), ALL)
    assert again.batches == [] and hashed == []  # size and modification time as recorded: not read
    lead = drop / "salesforce" / "Lead-2.csv"
    lead.write_bytes(lead.read_bytes())  # the same content again, a new modification time
    stat = lead.stat()
    os.utime(lead, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    rewritten = files.extract(settings, Alignment(), ALL)
    assert rewritten.batches == [] and hashed == ["Lead-2.csv"]  # read, found unchanged, not landed
    hashed.clear()
    assert files.extract(settings, Alignment(), ALL).batches == [] and hashed == []  # its new time was kept


def test_a_manifest_entry_with_a_sha256_digest_still_recognises_a_rewrite(settings, drop):
    files.extract(settings, Alignment(), ALL)
    manifest_path = settings.warehouse_dir / "state" / "files_landed.json"
    manifest = json.loads(manifest_path.read_text())
    lead = drop / "salesforce" / "Lead-2.csv"
    manifest["salesforce/Lead-2.csv"] = {"size": lead.stat().st_size,  # as written before blake2b
                                         "sha256": hashlib.sha256(lead.read_bytes()).hexdigest()}
    manifest_path.write_text(json.dumps(manifest))
    assert files.extract(settings, Alignment(), ALL).batches == []
    lead.write_text(lead.read_text() + "00Q5g00000AbCd9EAF,hal@x.example,Open,2024-03-12 11:00:00,false,false,\n")
    assert files.extract(settings, Alignment(), ALL).rows_by_object() == {"salesforce/Lead": 3}


def _landed_hubspot(settings: Settings) -> dict[str, list[tuple]]:
    """Every landed HubSpot record (all columns but the batch's id and load time) and the quarantine."""
    con = connect()
    try:
        landed = {}
        for folder in sorted((settings.raw_dir / "hubspot").iterdir()):
            columns = [name for (name,) in rows(con, f"select column_name from (describe select * from "
                                                     f"'{folder}/*.parquet') where column_name not in "
                                                     f"('_batch_id', '_loaded_at')")]
            landed[folder.name] = rows(con, f"select {', '.join(columns)} from '{folder}/*.parquet' "
                                            f"order by _source_file, _source_row")
    finally:
        con.close()
    return landed | {"quarantine": quarantined(settings)}


def test_json_lines_land_the_same_read_whole_or_line_by_line(tmp_path, drop, monkeypatch):
    # Values that text can spell in more than one way, keys the registry lacks or spells in another case,
    # nulls, nested values given as text, CRLF line ends, and a record that fails a value check.
    (drop / "hubspot" / "contacts-2.jsonl").write_bytes(
        b'{"id": 156, "ID": "x", "properties": {"createdate": "1709632800000", "hubspotscore": 1.50}, '
        b'"createdAt": 1709632800000, "score": 1e3, "archived": null, "associations": null, '
        b'"source": {"a": [1, 2.0]}}\r\n'
        b'{"id": "157", "properties": "{\\"email\\": \\"as text\\"}", "createdAt": "2024-03-05T10:00:00Z", '
        b'"archived": "true", "note": "caf\\u00e9 \\"quoted\\""}\r\n'
        b'{"id": "158", "properties": {"createdate": "yesterday"}, "createdAt": 1709632800000}\r\n')
    parsed: list[bool] = []
    parse_objects = files._parse_objects
    monkeypatch.setattr(files, "_parse_objects", lambda *args: parsed.append(parse_objects(*args)) or parsed[-1])

    def land(name: str, min_line_bytes: int) -> dict[str, list[tuple]]:
        monkeypatch.setattr(files, "OBJECT_READ_MIN_LINE_BYTES", min_line_bytes)
        settings = Settings(source="files", drop_dir=drop, warehouse_dir=tmp_path / name)
        files.extract(settings, Alignment(), ["hubspot"])
        return _landed_hubspot(settings)

    whole = land("whole", 0)
    assert parsed == [True] * 6  # every file parsed whole
    parsed.clear()
    line_by_line = land("lines", 1 << 30)
    assert parsed == [False] * 6
    assert whole == line_by_line
    landed = raw(Settings(warehouse_dir=tmp_path / "whole"), "hubspot/contacts",
                 "id, properties, createdAt, archived, associations, note, score, source, _source_row",
                 order="_source_file = 'hubspot/contacts-2.jsonl', _source_row")[-2:]
    assert landed == [
        ("156", '{"createdate":"1709632800000","hubspotscore":1.5}', "1709632800000", None, None, None, "1000.0",
         '{"a":[1,2.0]}', 1),
        ("157", '"{\\"email\\": \\"as text\\"}"', "2024-03-05T10:00:00Z", "true", None, 'café "quoted"', None,
         None, 2),
    ]
    assert whole["quarantine"] == [(
        "hubspot/contacts-2.jsonl", 3, "properties.createdate",
        "properties.createdate: 'yesterday' is not a time (epoch milliseconds or ISO 8601)",
        '{"id": "158", "properties": {"createdate": "yesterday"}, "createdAt": 1709632800000}')]


def test_a_file_with_a_line_that_is_no_object_is_read_line_by_line(settings, drop, monkeypatch):
    monkeypatch.setattr(files, "OBJECT_READ_MIN_LINE_BYTES", 0)
    (drop / "hubspot" / "forms.jsonl").write_text('{"guid": "g1", "name": "Demo"}\n\n{"guid": "g2"}\nnull\n')
    files.extract(settings, Alignment(), ["hubspot"])
    assert raw(settings, "hubspot/forms", "guid, _source_row") == [("g1", 1), ("g2", 3)]
    assert quarantined(settings) == [("hubspot/forms.jsonl", 4, None, "not a JSON object (a null)", "null")]
