"""Incremental staging builds exactly what a full refresh builds.

Raw lands in three nightly steps into warehouse A, and dbt builds after each step (staging
incremental: only the new batches are read). Warehouse B gets the same raw files at the end and
one `--full-refresh` build. Every table in staging, intermediate and marts must hold the same
rows in both. The steps cover a newer SystemModstamp landing later, an older re-extract landing
later (it must lose), a tie on SystemModstamp (the later batch wins), two versions inside one
batch (the later _source_row wins), a deletion landing later, new records, and HubSpot contacts
ordered by updatedAt. A last build with nothing new must change no table.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

from orchestration.alignment import Alignment
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows
from orchestration.landing import ensure_every_object_has_a_schema, land_batch, new_batch_id
from orchestration.raw_schema import raw_object
from orchestration.settings import Settings

SCHEMAS = ("staging", "intermediate", "marts")
BUILD = ("build", "--exclude-resource-type", "test", "unit_test", "--threads", "8")


def _contact(contact_id: str, updated_at: str, email: str, *, archived: str = "false", lead: str = "",
             **lineage: str) -> dict:
    properties = (f'{{"email": "{email}", "createdate": "2024-01-02T00:00:00Z", "hs_analytics_source": '
                  f'"PAID_SEARCH", "hs_analytics_first_timestamp": "1704153600000", "salesforceleadid": "{lead}"}}')
    return {"id": contact_id, "createdAt": "2024-01-02T00:00:00Z", "updatedAt": updated_at, "archived": archived,
            "properties": properties, **lineage}


def _lead(lead_id: str, modstamp: str, status: str, email: str, **fields: str) -> dict:
    return {"Id": lead_id, "SystemModstamp": modstamp, "Status": status, "Email": email,
            "CreatedDate": "2024-01-01T09:00:00.000+0000", "IsDeleted": "false", "IsConverted": "false",
            "LeadSource": "Web", **fields}


# Each step: the batches landed before one nightly build, per raw object.
STEPS: list[dict[tuple[str, str], list[dict]]] = [
    {
        ("salesforce", "Lead"): [
            _lead("00Q_UPDATED", "2024-02-01T00:00:00.000+0000", "Open", "updated@example.com"),
            _lead("00Q_REEXTRACT", "2024-02-10T00:00:00.000+0000", "Qualified", "reextract@example.com"),
            _lead("00Q_TIE", "2024-02-01 00:00:00", "Open", "tie@example.com"),
            _lead("00Q_DELETED", "2024-02-01T00:00:00Z", "Open", "deleted@example.com"),
            _lead("00Q_CONVERTED", "2024-02-01T00:00:00Z", "Qualified", "converted@example.com",
                  IsConverted="true", ConvertedDate="2024-02-01", ConvertedContactId="003_A",
                  ConvertedOpportunityId="006_A", ConvertedAccountId="001_A"),
        ],
        ("salesforce", "Contact"): [
            {"Id": "003_A", "AccountId": "001_A", "Email": "converted@example.com",
             "CreatedDate": "2024-02-01T00:00:00Z", "IsDeleted": "false", "SystemModstamp": "2024-02-01T00:00:00Z"},
        ],
        ("salesforce", "Account"): [
            {"Id": "001_A", "Name": "Acme", "NumberOfEmployees": "500", "Industry": "Software",
             "BillingCountry": "DE", "IsDeleted": "false", "SystemModstamp": "2024-02-01T00:00:00Z"},
        ],
        ("salesforce", "Opportunity"): [
            {"Id": "006_A", "AccountId": "001_A", "StageName": "Prospecting", "Amount": "1000",
             "CurrencyIsoCode": "USD", "CloseDate": "2024-04-01", "IsClosed": "false", "IsWon": "false",
             "CreatedDate": "2024-02-01T00:00:00Z", "IsDeleted": "false", "SystemModstamp": "2024-02-01T00:00:00Z"},
        ],
        ("salesforce", "OpportunityContactRole"): [
            {"Id": "00K_A", "OpportunityId": "006_A", "ContactId": "003_A", "IsPrimary": "true",
             "CreatedDate": "2024-02-01T00:00:00Z", "SystemModstamp": "2024-02-01T00:00:00Z"},
        ],
        ("salesforce", "Campaign"): [
            {"Id": "701_W", "Name": "Webinar", "Type": "Webinar", "IsDeleted": "false",
             "SystemModstamp": "2024-01-01T00:00:00Z"},
        ],
        ("salesforce", "CampaignMember"): [
            {"Id": "00v_A", "CampaignId": "701_W", "LeadId": "00Q_CONVERTED", "HasResponded": "true",
             "FirstRespondedDate": "2024-01-15", "CreatedDate": "2024-01-10T00:00:00Z",
             "SystemModstamp": "2024-01-10T00:00:00Z"},
        ],
        ("hubspot", "contacts"): [
            _contact("501", "2024-02-01T00:00:00Z", "converted@example.com", lead="00Q_CONVERTED"),
            _contact("502", "1706745600000", "hubspot-only@example.com"),  # 2024-02-01 as epoch ms
        ],
    },
    {
        ("salesforce", "Lead"): [
            # Newer SystemModstamp landing later: wins.
            _lead("00Q_UPDATED", "2024-03-01T00:00:00.000+0000", "Working - Contacted", "updated@example.com"),
            # Older re-extract landing later: loses to the version already built.
            _lead("00Q_REEXTRACT", "2024-01-01T00:00:00.000+0000", "Disqualified", "stale@example.com"),
            # Same instant spelled differently: the later batch wins the tie.
            _lead("00Q_TIE", "2024-02-01T00:00:00.000+0000", "Accepted", "tie@example.com", Country="FR"),
            # Two versions inside one batch with the same SystemModstamp: the later source row wins.
            _lead("00Q_NEW", "2024-03-01T00:00:00Z", "Open", "new@example.com", _source_row="1"),
            _lead("00Q_NEW", "2024-03-01T00:00:00Z", "Nurture", "new@example.com", _source_row="2"),
        ],
        ("salesforce", "Opportunity"): [
            {"Id": "006_A", "AccountId": "001_A", "StageName": "Closed Won", "Amount": "1500",
             "CurrencyIsoCode": "USD", "CloseDate": "2024-03-15", "IsClosed": "true", "IsWon": "true",
             "CreatedDate": "2024-02-01T00:00:00Z", "IsDeleted": "false", "SystemModstamp": "2024-03-15T00:00:00Z"},
        ],
        ("hubspot", "contacts"): [
            _contact("501", "2024-03-01T00:00:00Z", "converted@example.com", lead="00Q_CONVERTED"),
            _contact("502", "1704067200000", "stale-hubspot@example.com"),  # older (2024-01-01): loses
            _contact("503", "2024-03-01T00:00:00Z", "another@example.com"),
        ],
    },
    {
        ("salesforce", "Lead"): [
            # Deleted later: the deleted flag follows the newer version.
            _lead("00Q_DELETED", "2024-04-01T00:00:00Z", "Open", "deleted@example.com", IsDeleted="true"),
            # Another older re-extract, now against a winner built two steps ago.
            _lead("00Q_REEXTRACT", "2024-02-09T23:59:59Z", "Unqualified", "stale@example.com"),
            _lead("00Q_LATEST", "2024-04-01T00:00:00Z", "Open", "latest@example.com"),
        ],
        ("salesforce", "LeadHistory"): [
            {"Id": "017_A", "LeadId": "00Q_UPDATED", "Field": "Status", "OldValue": "Open",
             "NewValue": "Working - Contacted", "CreatedDate": "2024-03-01T00:00:00Z"},
        ],
        ("hubspot", "contacts"): [
            _contact("503", "2024-04-01T00:00:00Z", "another@example.com", archived="true", _source_row="1"),
            # Same updatedAt in the same batch: the later source row wins.
            _contact("503", "2024-04-01T00:00:00Z", "tie-hubspot@example.com", _source_row="2"),
        ],
    },
]


def _land(settings: Settings, step: dict[tuple[str, str], list[dict]]) -> None:
    con = connect()
    try:
        for (system, name), records in step.items():
            columns = list(dict.fromkeys(column for record in records for column in record))
            table = pa.table({column: pa.array([record.get(column) for record in records], pa.string())
                              for column in columns})
            land_batch(con, settings.raw_dir, raw_object(system, name), con.from_arrow(table), new_batch_id("test"))
    finally:
        con.close()


def _normalized(value):
    """Floats to 10 significant digits: DuckDB's parallel sums may differ in the last bits between two builds."""
    return float(f"{value:.10g}") if isinstance(value, float) else value


def _tables(settings: Settings) -> dict[str, list[tuple]]:
    """Sorted rows of every table in the compared schemas."""
    con = connect(settings.warehouse_path, read_only=True)
    try:
        names = rows(con, "select table_schema, table_name from information_schema.tables "
                          f"where table_schema in {SCHEMAS} and table_type = 'BASE TABLE' order by all")
        return {f"{schema}.{name}": sorted((tuple(_normalized(v) for v in row)
                                           for row in rows(con, f'select * from "{schema}"."{name}"')), key=repr)
                for schema, name in names}
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory):
    """(A after each step, A after a nothing-new build, B after one full refresh of the same raw)."""
    alignment = Alignment()
    nightly = Settings(warehouse_dir=tmp_path_factory.mktemp("nightly") / "warehouse")
    con = connect()
    ensure_every_object_has_a_schema(con, nightly.raw_dir, "test")
    con.close()
    rebuilt = Settings(warehouse_dir=tmp_path_factory.mktemp("rebuilt") / "warehouse")
    after_steps = []
    with ThreadPoolExecutor(max_workers=1) as background:
        for step in STEPS:
            _land(nightly, step)
            if step is STEPS[-1]:  # B: all raw, one full refresh, built while A runs its last builds
                shutil.copytree(nightly.raw_dir, rebuilt.raw_dir)
                full_refresh = background.submit(run_dbt, rebuilt, alignment, *BUILD, "--full-refresh")
            run_dbt(nightly, alignment, *BUILD)
            after_steps.append(_tables(nightly))
        run_dbt(nightly, alignment, *BUILD)
        nothing_new = _tables(nightly)
        full_refresh.result()
    return nightly, after_steps, nothing_new, _tables(rebuilt)


def test_nightly_builds_read_only_new_batches(warehouses):
    nightly, *_ = warehouses
    leads = Path("closedloop", "models", "staging", "salesforce", "stg_salesforce__leads.sql")
    selected = (nightly.warehouse_dir / "dbt_target" / "compiled" / leads).read_text()
    applied = (nightly.warehouse_dir / "dbt_target" / "run" / leads).read_text()
    assert "_batch_id > '" in selected
    assert "delete from" in applied and "create table" not in applied


def test_incremental_builds_equal_a_full_refresh_table_by_table(warehouses):
    _, after_steps, _, rebuilt = warehouses
    built = after_steps[-1]
    assert {name.split(".")[0] for name in rebuilt} == set(SCHEMAS)
    assert {"marts.fct_lead_funnel", "marts.fct_attribution"} <= set(rebuilt)
    assert set(built) == set(rebuilt)
    for name in rebuilt:
        assert built[name] == rebuilt[name], name


def test_the_current_version_wins_across_nightly_builds(warehouses):
    _, after_steps, _, _ = warehouses
    leads = {row[0]: row for row in after_steps[-1]["staging.stg_salesforce__leads"]}
    status, email, deleted = 4, 1, 16
    assert leads["00Q_UPDATED"][status] == "Working - Contacted"
    assert (leads["00Q_REEXTRACT"][status], leads["00Q_REEXTRACT"][email]) == ("Qualified", "reextract@example.com")
    assert leads["00Q_TIE"][status] == "Accepted"
    assert leads["00Q_NEW"][status] == "Nurture"
    assert leads["00Q_DELETED"][deleted] is True
    assert after_steps[0]["staging.stg_salesforce__leads"] != after_steps[-1]["staging.stg_salesforce__leads"]
    contacts = {row[0]: row for row in after_steps[-1]["staging.stg_hubspot__contacts"]}
    assert contacts["502"][1] == "hubspot-only@example.com"
    assert (contacts["503"][1], contacts["503"][-3]) == ("tie-hubspot@example.com", False)
    funnel = after_steps[-1]["marts.fct_lead_funnel"]
    assert funnel and after_steps[-1]["marts.fct_attribution"]


def test_a_build_with_nothing_new_changes_no_table(warehouses):
    _, after_steps, nothing_new, _ = warehouses
    assert nothing_new == after_steps[-1]
