"""The whole nightly job end to end: real Definitions, real dbt, real gate, real DuckDB files."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from orchestration.__main__ import main as cli_main
from orchestration.duck import connect, rows, scalar
from orchestration.pipeline import run_nightly
from orchestration.publish import PUBLISHED_TABLES
from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.vacuum import builds_without_vacuum

pytestmark = pytest.mark.slow


def demo_settings(root: Path, people: int, published: Path | None = None) -> Settings:
    return Settings(source="demo", warehouse_dir=root / "warehouse", published_path=published,
                    demo_people=people, demo_seed=7)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def published_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    settings = demo_settings(root, people=600)
    first = run_nightly(settings)
    return settings, first


def test_nightly_run_publishes_every_table(published_run):
    settings, result = published_run
    assert result.success, result.failures
    con = connect(settings.published_file, read_only=True)
    try:
        tables = {row[0] for row in rows(con, "show tables")}
        assert tables == set(PUBLISHED_TABLES)
        for table in PUBLISHED_TABLES:
            assert scalar(con, f"select count(*) from {table}") > 0, table
        log = rows(con, "select run_id, definitions_version, gate_result from publish_log")
        assert [entry[0] for entry in log] == [result.run_id]
    finally:
        con.close()
    assert (settings.published_file.parent / "definitions.md").read_text().strip()
    assert (settings.reports_dir / "data_docs").is_dir()


def test_the_nightly_build_counts_builds_without_vacuum(published_run):
    settings, _ = published_run
    # the first build did not vacuum (orchestration/vacuum.py): one build in seven does
    assert builds_without_vacuum(settings) == 1


def test_extract_metadata_reports_rows_landed(published_run):
    _, result = published_run
    assert result.extract_metadata["salesforce/lead"]["rows_landed"] > 0
    assert result.extract_metadata["hubspot/contacts"]["rows_landed"] > 0
    assert result.extract_metadata["quarantine/records"]["quarantined_records"] == 0


def test_one_row_per_person_and_reconciled_attribution(published_run):
    settings, _ = published_run
    con = connect(settings.published_file, read_only=True)
    try:
        assert scalar(con, "select count(*) - count(distinct person_id) from fct_lead_funnel") == 0
        worst = scalar(con, """
            select max(abs(s - 1)) from (
                select opportunity_id, sum(weight_linear) as s from fct_attribution group by 1)""")
        assert worst < 1e-9
    finally:
        con.close()


def test_failed_gate_leaves_published_file_untouched(published_run, tmp_path):
    """A much smaller warehouse publishing to the same file collapses row counts: the gate blocks it."""
    settings, _ = published_run
    before = sha256(settings.published_file)
    shrunk = demo_settings(tmp_path, people=60, published=settings.published_file)
    result = run_nightly(shrunk)
    assert not result.success
    assert any("quality_gate" in failure for failure in result.failures), result.failures
    assert sha256(settings.published_file) == before


def test_malformed_alignment_fails_before_any_data_moves(tmp_path, monkeypatch, capsys):
    document = yaml.safe_load((PROJECT_ROOT / "alignment.yml").read_text())
    document["mql"]["score_treshold"] = 40
    alignment = tmp_path / "alignment.yml"
    alignment.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("CLOSEDLOOP_ALIGNMENT", str(alignment))
    monkeypatch.setenv("CLOSEDLOOP_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    assert cli_main(["run"]) == 2
    assert "mql.score_treshold: unknown key" in capsys.readouterr().err
    assert not (tmp_path / "warehouse").exists()


def test_files_mode_end_to_end(tmp_path):
    """A small drop folder through the whole job: bad rows quarantined, the rest published."""
    drop = tmp_path / "drop"
    for system in ("salesforce", "hubspot", "spend"):
        (drop / system).mkdir(parents=True)
    (drop / "salesforce" / "Contact.csv").write_text(
        "Id,AccountId,Email,CreatedDate\n0031,0011,dee@example.com,2024-03-07T10:00:00Z\n")
    (drop / "salesforce" / "Opportunity.csv").write_text(
        "Id,AccountId,Amount,CloseDate,IsClosed,IsWon,CreatedDate,StageName\n"
        "0061,0011,1000,2024-04-01,true,true,2024-03-10T00:00:00Z,Closed Won\n"
        "0062,0011,oops,2024-04-01,true,true,2024-03-10T00:00:00Z,Closed Won\n")
    (drop / "salesforce" / "OpportunityContactRole.csv").write_text(
        "Id,OpportunityId,ContactId,IsPrimary\n00K1,0061,0031,true\n")
    settings = Settings(source="files", drop_dir=drop, warehouse_dir=tmp_path / "warehouse")
    result = run_nightly(settings)
    assert result.success, result.failures
    assert result.extract_metadata["salesforce/opportunity"]["quarantined_records"] == 1
    con = connect(settings.published_file, read_only=True)
    try:
        assert rows(con, "select opportunity_at, won_at, won_amount from fct_lead_funnel") == [
            (datetime(2024, 3, 10), datetime(2024, 4, 1), 1000.0)]
        assert rows(con, "select opportunity_id, channel, weight_linear, amount, is_won from fct_attribution") == [
            ("0061", "unattributed", 1.0, 1000.0, True)]
    finally:
        con.close()
