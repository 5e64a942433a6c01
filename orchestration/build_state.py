"""Whether a nightly run has anything new to build: the inputs of the last published build.

A nightly build is a function of its inputs: the raw batches (append-only files under
`<warehouse>/raw/`), the definitions (alignment.yml), the dbt project (models, macros, seeds,
tests, dbt_project.yml, profiles.yml) and the code (this package, the gate's expectations, the
versions of the engines). When none of them changed since the last run that built, passed the
gate and published, building again would publish the same tables: the nightly job skips the dbt
build, the gate and the publish instead.

The record lives in `<warehouse>/state/nightly_build.json` and moves through two states:

- `building`: written by the dbt step before it builds (so a run that fails anywhere after it,
  in dbt, in the gate or in publish, leaves a record that never matches: the next run builds);
- `published`: written by the publish step of the same run once the new file is in place, with
  the identity (size, modification time) of the published file and of the working warehouse, so
  a published file that went missing or was replaced, or a warehouse changed by hand, also builds.

The record also keeps a fingerprint per raw object (`salesforce/Lead`, `hubspot/contacts`, ...).
When the raw batches are all that changed since the last published build, the decision names the
objects whose batches are still those that build read: the dbt nodes reading nothing else need
no rebuild (orchestration.dbt_selection).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings

STATE_FILE = "nightly_build.json"
# Folders of dbt_project/ that are dbt's output, not its input.
DBT_OUTPUT_DIRS = ("target", "logs")
CODE_DIRS = (PROJECT_ROOT / "orchestration", PROJECT_ROOT / "expectations")
ENGINE_PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "dagster-dbt", "great_expectations")


def _digest(items: list[tuple[str, ...]]) -> str:
    return hashlib.sha256(json.dumps(items, separators=(",", ":")).encode()).hexdigest()[:16]


def _files(root: Path, *, skip_dirs: tuple[str, ...] = ()) -> list[Path]:
    """Every file under root except hidden ones, caches and the named top-level folders.

    Skipped folders are not walked into: dbt_project/target gains a folder of artifacts per
    nightly run (dagster-dbt's `dbt_models-<run id>-*`), so walking it made every run's
    fingerprint slower than the last (0.3 s with a hundred runs' folders)."""
    found = []
    for folder, subfolders, files in os.walk(root):
        top_level = Path(folder) == root
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name != "__pycache__"
                         and not (top_level and name in skip_dirs)]
        found += [path for path in (Path(folder, name) for name in files if not name.startswith("."))
                  if path.is_file()]  # not a broken link, socket or fifo
    return sorted(found)


def _content_hash(root: Path, files: list[Path]) -> str:
    return _digest(
        [(path.relative_to(root).as_posix(), hashlib.sha256(path.read_bytes()).hexdigest()) for path in files]
    )


def raw_object_fingerprints(raw_dir: Path) -> dict[str, str]:
    """Per raw object folder (`<system>/<Object>`, as dbt's sources read them): a digest of its batch
    files (append-only, never rewritten): name, size and modification time of each."""
    if not raw_dir.is_dir():
        return {}
    batches: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for path in _files(raw_dir):
        if path.suffix == ".parquet":
            relative = path.relative_to(raw_dir)
            stat = path.stat()
            batches["/".join(relative.parts[:2])].append(
                (relative.as_posix(), str(stat.st_size), str(stat.st_mtime_ns)))
    return {raw_object: _digest(files) for raw_object, files in sorted(batches.items())}


def raw_fingerprint(raw_dir: Path, raw_objects: Mapping[str, str] | None = None) -> str:
    """All raw batch files: one digest over the per-object fingerprints."""
    raw_objects = raw_object_fingerprints(raw_dir) if raw_objects is None else raw_objects
    return _digest(sorted(raw_objects.items())) if raw_objects else "none"


def dbt_project_fingerprint(project_dir: Path = DBT_PROJECT_DIR) -> str:
    return _content_hash(project_dir, _files(project_dir, skip_dirs=DBT_OUTPUT_DIRS))


def code_fingerprint() -> str:
    files = [path for folder in CODE_DIRS for path in _files(folder) if path.suffix == ".py"]
    versions = []
    for package in ENGINE_PACKAGES:
        try:
            versions.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            versions.append((package, "absent"))
    return _digest([("files", _content_hash(PROJECT_ROOT, files)), *versions])


def definitions_fingerprint(alignment_path: Path) -> str:
    return hashlib.sha256(Path(alignment_path).read_bytes()).hexdigest()[:16]


def build_inputs(settings: Settings, raw_objects: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a build depends on, one hash per kind of input (`raw_objects`: the raw folder's
    raw_object_fingerprints, when the caller already has them)."""
    return {
        "raw": raw_fingerprint(settings.raw_dir, raw_objects),
        "definitions": definitions_fingerprint(settings.alignment_path),
        "dbt_project": dbt_project_fingerprint(),
        "code": code_fingerprint(),
    }


def _identity(path: Path) -> dict[str, Any] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def state_path(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def read_state(settings: Settings) -> dict[str, Any] | None:
    path = state_path(settings)
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state if isinstance(state, dict) else None


def _write_state(settings: Settings, state: dict[str, Any]) -> None:
    """Write aside and rename into place: a crash leaves the old record or the new one."""
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(partial, path)


@dataclass(frozen=True)
class Decision:
    build: bool
    reason: str  # one line for the log
    since_run: str | None = None  # the run whose published tables still stand, when skipping
    # When only raw batches changed since the last published build: the raw objects whose batches
    # are still exactly those it built from. Empty when anything else may differ.
    unchanged_raw: frozenset[str] = frozenset()


def decide(settings: Settings, inputs: dict[str, str], *, full_refresh: bool = False,
           raw_objects: Mapping[str, str] | None = None) -> Decision:
    """Build, or skip because nothing changed since the last run that built, gated and published.

    `raw_objects` (raw_object_fingerprints now): when given and only raw batches changed, the
    decision also names the raw objects unchanged since that build.
    """
    if full_refresh:
        return Decision(True, "full refresh asked: building")
    state = read_state(settings)
    if state is None:
        return Decision(True, "no record of a published build in this warehouse: building")
    last = state.get("run_id", "?")
    if state.get("status") != "published":
        return Decision(True, f"the last build (run {last}) did not publish: building again")
    changed = [name for name, value in inputs.items() if state.get("inputs", {}).get(name) != value]
    files_changed = _files_changed(settings, state)
    if changed:
        unchanged_raw = frozenset()
        if changed == ["raw"] and files_changed is None and raw_objects is not None:
            before = state.get("raw_objects") or {}
            unchanged_raw = frozenset(name for name, digest in raw_objects.items() if before.get(name) == digest)
        return Decision(True, f"{', '.join(changed)} changed since run {last}: building", unchanged_raw=unchanged_raw)
    if files_changed is not None:
        return Decision(True, f"{files_changed}: building")
    return Decision(
        False,
        f"nothing new since run {last} (published {state.get('published_at', '?')}): raw "
        "batches, alignment.yml, dbt project and code unchanged; dbt build, gate and publish skipped",
        since_run=last,
    )


def _files_changed(settings: Settings, state: dict[str, Any]) -> str | None:
    """Why the published file or the working warehouse is not the one the record describes, or None."""
    last = state.get("run_id", "?")
    if not settings.published_file.exists():
        return f"the published file {settings.published_file} is missing"
    if _identity(settings.published_file) != state.get("published_file"):
        return f"the published file {settings.published_file} changed since run {last}"
    if _identity(settings.warehouse_path) != state.get("warehouse_file"):
        return f"the working warehouse changed since run {last}"
    return None


def mark_building(settings: Settings, run_id: str, inputs: dict[str, str],
                  raw_objects: Mapping[str, str] | None = None) -> None:
    """Before a build changes the warehouse: until this run publishes, no later run may skip."""
    _write_state(
        settings,
        {
            "status": "building",
            "run_id": run_id,
            "inputs": inputs,
            "raw_objects": dict(raw_objects or {}),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def mark_published(settings: Settings, run_id: str) -> bool:
    """After this run's publish: its inputs are what the published file holds. Returns whether recorded.

    A publish without a build of its own run (e.g. materialized alone from the UI) clears the
    record instead, so the next nightly run builds.
    """
    state = read_state(settings)
    if state is None or state.get("status") != "building" or state.get("run_id") != run_id:
        state_path(settings).unlink(missing_ok=True)
        return False
    _write_state(
        settings,
        {
            **state,
            "status": "published",
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "published_file": _identity(settings.published_file),
            "warehouse_file": _identity(settings.warehouse_path),
        },
    )
    return True


def forget(settings: Settings) -> None:
    """A build this record cannot describe (e.g. a subset of models) happened: the next run builds."""
    state_path(settings).unlink(missing_ok=True)
