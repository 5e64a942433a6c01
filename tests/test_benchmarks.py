"""Smoke test of the benchmark harness (`make bench`) at ~200 people: structure, not speed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_writes_results_json_and_markdown(tmp_path):
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scales", "T=200", "--data-dir", str(tmp_path / "data"),
         "--out-dir", str(out)],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    assert results["machine"]["cores"] >= 1 and results["machine"]["memory_gb"] > 0
    scale = results["scales"]["T"]
    assert scale["people"] == 200
    assert scale["floor"]["rows"] > 0 and scale["floor"]["seconds"] >= 0
    assert set(scale["runs"]) == {"full_refresh", "incremental", "nothing_new"}
    for name, run in scale["runs"].items():
        assert run["success"], (name, run.get("failures"))
        assert run["wall_seconds"] > 0 and run["peak_rss_mb"] > 0 and run["rows_per_second"] > 0
        stages = {"extract", "dbt"} if name == "nothing_new" else {"extract", "dbt", "gate", "publish"}
        assert stages <= set(run["stages"]), name
        assert run["ratio_to_floor"] > 0
    assert scale["drop_folder_mb"] > 0  # the demo org was written as export files
    # the runs extract from the drop folder: everything landed came through it, the night's delta too
    assert scale["runs"]["full_refresh"]["rows_landed"] == scale["runs"]["full_refresh"]["raw_rows"]
    assert scale["runs"]["incremental"]["delta"]["rows"] > 0  # one night of new and changed records dropped
    assert scale["runs"]["incremental"]["rows_landed"] == scale["runs"]["incremental"]["delta"]["rows"]
    assert scale["runs"]["incremental"]["raw_rows"] > scale["runs"]["full_refresh"]["raw_rows"]
    assert scale["runs"]["nothing_new"]["rows_landed"] == 0
    # nothing new since the incremental run: dbt build, gate and publish skipped
    assert scale["runs"]["nothing_new"]["nothing_new_since"] == scale["runs"]["incremental"]["run_id"]
    assert {"quality_gate", "published_warehouse"} <= set(scale["runs"]["nothing_new"]["skipped_steps"])
    assert scale["runs"]["incremental"]["nothing_new_since"] is None
    assert scale["runs"]["full_refresh"]["dbt"]["slowest_models"]
    assert not (tmp_path / "data" / "T").exists()  # warehouses and drop folders are removed unless --keep
    assert not (tmp_path / "data" / "T-drop").exists()

    markdown = (out / "RESULTS.md").read_text()
    assert "| T | full refresh |" in markdown and "| T | floor (scan raw) |" in markdown
    assert "2 cores" in markdown or f"{results['machine']['cores']} cores" in markdown


def test_drop_folder_lands_the_same_records_as_the_demo_source(tmp_path, monkeypatch):
    """The bench extracts the demo org from export files: those must land exactly what the demo
    source lands, split files and reissued versions included, with nothing quarantined."""
    import duckdb

    from benchmarks import drop
    from orchestration.alignment import Alignment
    from orchestration.raw_schema import RAW_OBJECTS
    from orchestration.settings import Settings
    from orchestration.sources import demo, files

    monkeypatch.setattr(drop, "ROWS_PER_FILE", 500)  # so the larger objects span several files
    written = drop.write_demo_drop(tmp_path / "drop", 300, 42, Alignment())
    assert any(path.name.endswith("-0002.csv") for path in written)  # split
    assert any(path.name.startswith("Lead-2-") for path in written)  # a second batch of versions
    from_files = Settings(warehouse_dir=tmp_path / "files", source="files", drop_dir=tmp_path / "drop")
    report = files.extract(from_files, Alignment(), ["salesforce", "hubspot", "spend"])
    assert not report.quarantined
    from_demo = Settings(warehouse_dir=tmp_path / "demo", demo_people=300, demo_seed=42)
    demo.extract(from_demo, Alignment())

    con = duckdb.connect()
    lineage = "exclude (_loaded_at, _batch_id, _source_file, _source_row)"
    for obj in RAW_OBJECTS:
        if obj.system == "quarantine":
            continue
        landed = [f"select * {lineage} from read_parquet('{settings.raw_dir}/{obj.folder}/*.parquet', "
                  f"union_by_name = true)" for settings in (from_files, from_demo)]
        counts = con.execute(f"select (select count(*) from ({landed[0]})), "
                             f"(select count(*) from (({landed[0]}) except all ({landed[1]}))), "
                             f"(select count(*) from (({landed[1]}) except all ({landed[0]})))").fetchall()[0]
        assert counts[0] > 0 and counts[1:] == (0, 0), (obj.folder, counts)


def test_every_nightly_delta_has_records_of_each_kind_even_for_a_small_org(tmp_path):
    """The harness's night of changes is sampled by hash share; a small org must still get a
    changed and a new record of each kind every night (else the bench smoke test can land nothing)."""
    from datetime import UTC, datetime, timedelta

    from benchmarks.delta import CHANGED, NEW, write_nightly_delta
    from orchestration.alignment import Alignment
    from orchestration.settings import Settings
    from orchestration.sources import demo

    settings = Settings(warehouse_dir=tmp_path / "wh", demo_people=60, demo_seed=7)
    demo.extract(settings, Alignment())
    start = datetime(2026, 11, 23, tzinfo=UTC)
    for night in range(12):
        delta = write_nightly_delta(settings.raw_dir, tmp_path / f"drop-{night}", start + timedelta(days=night))
        assert set(delta.changed) == {f"{system}/{name}" for system, name, *_ in CHANGED}
        assert set(delta.new) == {f"{system}/{name}" for system, name, _ in NEW}
        assert all(rows >= 1 for rows in (*delta.changed.values(), *delta.new.values())), (night, delta)
