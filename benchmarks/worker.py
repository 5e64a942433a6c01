"""One measured nightly run, in its own process (so peak memory belongs to that run alone).

`python -m benchmarks.worker <spec.json> <result.json>`; the spec says the warehouse and drop
folder, whether to drop a night's delta first (not timed: that is the export systems' work) and
whether it is a full refresh. The run extracts from the drop folder (the `files` source) through
publish. The result holds wall time, per-stage time and peak memory, and dbt's node timings.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks.measure import STEPS, MemorySampler, dbt_run_results, rusage_peaks_mb, step_windows
from orchestration.settings import Settings


def measure(spec: dict) -> dict:
    settings = Settings(warehouse_dir=Path(spec["warehouse_dir"]), source="files", drop_dir=Path(spec["drop_dir"]))
    from dagster import DagsterInstance

    from orchestration.pipeline import _settings_env, run_nightly

    started = time.perf_counter()
    os.environ.update(_settings_env(settings))
    import orchestration.definitions  # noqa: F401  (loading the code location is not part of a nightly run)
    result: dict = {"name": spec["name"], "load_definitions_seconds": round(time.perf_counter() - started, 2)}
    stages: dict[str, dict] = {}
    instance = DagsterInstance.ephemeral()
    if spec.get("drop_delta"):
        from benchmarks.delta import write_nightly_delta

        written = time.perf_counter()
        delta = write_nightly_delta(settings.raw_dir, settings.drop_dir)
        result["delta"] = asdict(delta) | {"rows": delta.rows,
                                           "written_seconds": round(time.perf_counter() - written, 2)}
    with MemorySampler() as sampler:
        run_started = time.perf_counter()
        nightly = run_nightly(settings, full_refresh=bool(spec.get("full_refresh")), instance=instance)
        result["wall_seconds"] = round(time.perf_counter() - run_started, 2)
    for step, (start, end, outcome) in step_windows(instance, nightly.run_id).items():
        stages[STEPS.get(step, step)] = {"seconds": round(end - start, 2), "peak_rss_mb": sampler.peak_mb(start, end),
                                         "outcome": outcome}
    result |= {
        "success": nightly.success,
        "run_id": nightly.run_id,
        "failures": nightly.failures[:10],
        "nothing_new_since": nightly.nothing_new_since,
        "skipped_steps": nightly.skipped_steps,
        "stages": stages,
        "peak_rss_mb": sampler.peak_mb(),
        **rusage_peaks_mb(),
        "rows_landed": sum(int(meta.get("rows_landed", 0)) for meta in nightly.extract_metadata.values()),
        "dbt": dbt_run_results(nightly.run_id),
    }
    return result


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("closedloop").setLevel(logging.INFO)
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    result = measure(json.loads(spec_path.read_text()))
    result_path.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
