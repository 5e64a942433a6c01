"""The nightly build's vacuum choice: its schedule, and dbt's DuckDB connection applying it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.alignment import load_alignment
from orchestration.dbt_cli import run_dbt
from orchestration.settings import Settings
from orchestration.vacuum import VACUUM_ENV, VACUUM_EVERY_BUILDS, builds_without_vacuum, record_build, vacuum_due


def test_one_build_in_seven_vacuums(tmp_path: Path):
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    vacuumed = []
    for build in range(1, 2 * VACUUM_EVERY_BUILDS + 2):
        builds_since = builds_without_vacuum(settings)
        vacuum = vacuum_due(builds_since)
        record_build(settings, builds_since=builds_since, vacuumed=vacuum)
        if vacuum:
            vacuumed.append(build)
    assert VACUUM_EVERY_BUILDS == 7 and vacuumed == [7, 14]


def max_vacuum_tasks_seen_by_dbt(settings: Settings) -> str:
    result = run_dbt(settings, load_alignment(settings.alignment_path), "show", "--inline",
                     "select current_setting('max_vacuum_tasks') as max_vacuum_tasks")
    table = [line.strip(" |") for line in result.stdout.splitlines() if line.startswith("|")]
    assert table[0] == "max_vacuum_tasks", result.stdout
    return table[-1]


@pytest.mark.slow
def test_dbt_connection_vacuums_only_when_the_nightly_build_says_so(tmp_path: Path, monkeypatch):
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    monkeypatch.setenv(VACUUM_ENV, "off")
    assert max_vacuum_tasks_seen_by_dbt(settings) == "0"
    monkeypatch.setenv(VACUUM_ENV, "on")  # DuckDB's default stands
    assert max_vacuum_tasks_seen_by_dbt(settings) == "100"
