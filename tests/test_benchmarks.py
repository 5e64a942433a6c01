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
    assert scale["runs"]["incremental"]["delta"]["rows"] > 0  # one night of new and changed records landed
    assert scale["runs"]["incremental"]["raw_rows"] > scale["runs"]["full_refresh"]["raw_rows"]
    assert scale["runs"]["nothing_new"]["rows_landed"] == 0
    # nothing new since the incremental run: dbt build, gate and publish skipped
    assert scale["runs"]["nothing_new"]["nothing_new_since"] == scale["runs"]["incremental"]["run_id"]
    assert {"quality_gate", "published_warehouse"} <= set(scale["runs"]["nothing_new"]["skipped_steps"])
    assert scale["runs"]["incremental"]["nothing_new_since"] is None
    assert scale["runs"]["full_refresh"]["dbt"]["slowest_models"]
    assert not (tmp_path / "data" / "T").exists()  # warehouses are removed unless --keep

    markdown = (out / "RESULTS.md").read_text()
    assert "| T | full refresh |" in markdown and "| T | floor (scan raw) |" in markdown
    assert "2 cores" in markdown or f"{results['machine']['cores']} cores" in markdown
