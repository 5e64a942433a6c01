"""Measuring one run: a memory sampler over the process tree, Dagster step timings, dbt node timings."""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from pathlib import Path

from orchestration.dbt_cli import run_target_files

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
# The nightly job's steps, in order, under the names the report uses.
STEPS = {"extract_sources": "extract", "dbt_models": "dbt", "quality_gate": "gate", "published_warehouse": "publish"}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants (dbt runs as a child process), in MB."""
    tree, pending, total_pages = _children(), [root], 0
    while pending:
        pid = pending.pop()
        pending += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total_pages += int(statm.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_pages * PAGE_KB / 1024


class MemorySampler:
    """Samples the process tree's RSS every `interval` seconds in a thread: (monotonic, wall clock, MB)."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-memory")

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), time.time(), tree_rss_mb(pid)))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, start: float | None = None, end: float | None = None) -> float:
        """Peak sampled RSS between two wall-clock times (the whole run when omitted)."""
        values = [mb for _, wall, mb in self.samples
                  if (start is None or wall >= start) and (end is None or wall <= end)]
        if not values and self.samples:  # a stage shorter than the interval: the last sample before its end
            before = [mb for _, wall, mb in self.samples if end is None or wall <= end]
            values = before[-1:] or [self.samples[0][2]]
        return round(max(values, default=0.0), 1)


def rusage_peaks_mb() -> dict[str, float]:
    """Exact kernel peaks: this process, and the largest waited-for child (the dbt process)."""
    return {
        "self_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children_maxrss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def step_windows(instance, run_id: str) -> dict[str, tuple[float, float, str]]:
    """Wall-clock (start, end, outcome) of each step of a run, from the Dagster event log."""
    windows: dict[str, list] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            windows[event.step_key] = [record.timestamp, None, "running"]
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in windows:
            windows[event.step_key][1] = record.timestamp
            windows[event.step_key][2] = "success" if kind == "STEP_SUCCESS" else "failure"
    return {key: (start, end, outcome) for key, (start, end, outcome) in windows.items() if end is not None}


def dbt_run_results(run_id: str, top: int = 12) -> dict:
    """Timings from the run_results.json dagster-dbt wrote for this run (in its run target folder)."""
    paths = run_target_files(run_id, "run_results.json")
    if not paths:
        return {}
    path: Path = paths[-1]
    data = json.loads(path.read_text())
    nodes = [
        {"node": result["unique_id"], "seconds": round(result.get("execution_time") or 0.0, 2),
         "status": result.get("status")}
        for result in data.get("results", [])
    ]
    by_type: dict[str, dict] = {}
    for node in nodes:
        kind = node["node"].split(".", 1)[0]
        layer = kind
        if kind == "model":
            name = node["node"].rsplit(".", 1)[1]
            layer = {"stg": "model:staging", "int": "model:intermediate"}.get(name.split("_", 1)[0], "model:marts")
        entry = by_type.setdefault(layer, {"nodes": 0, "seconds": 0.0})
        entry["nodes"] += 1
        entry["seconds"] = round(entry["seconds"] + node["seconds"], 2)
    slowest = sorted(nodes, key=lambda node: -node["seconds"])
    return {
        "run_results": str(path),
        "elapsed_seconds": round(data.get("elapsed_time") or 0.0, 2),
        # dbt's worker threads (profiles.yml `threads`), as the nodes report them
        "threads": len({result.get("thread_id") for result in data.get("results", [])} - {None}),
        "node_seconds_by_kind": by_type,
        "slowest_models": [node for node in slowest if node["node"].startswith("model.")][:top],
        "slowest_tests": [node for node in slowest if node["node"].startswith("test.")][:5],
    }
