"""Which nightly builds let DuckDB vacuum the working warehouse: one in VACUUM_EVERY_BUILDS.

At a checkpoint DuckDB vacuums the tables a transaction changed: it merges adjacent row groups
whose rows now fit in fewer (a night's appended rows with the row group before them, row groups
thinned by deletes) and rewrites them. A nightly build deletes and inserts a little in many large
incremental tables, so every night rewrote their tail row groups: the checkpoint when dbt closes
the warehouse took 0.7-1.0 s at 1M people, 0.2 s without vacuuming. So the nightly build runs dbt
with vacuuming off (CLOSEDLOOP_DUCKDB_VACUUM=off, applied by orchestration/dbt_duckdb_plugin.py)
and with it on one build in VACUUM_EVERY_BUILDS, which merges the small row groups the builds
between left. dbt run any other way (by hand, `run_dbt`) vacuums as DuckDB always does.
"""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.settings import Settings

VACUUM_ENV = "CLOSEDLOOP_DUCKDB_VACUUM"  # "off": max_vacuum_tasks = 0 on dbt's connection
VACUUM_EVERY_BUILDS = 7
STATE_FILE = "vacuum.json"


def _state_path(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def builds_without_vacuum(settings: Settings) -> int:
    """Nightly builds since the last one that vacuumed (0 when none is recorded)."""
    try:
        return int(json.loads(_state_path(settings).read_text())["builds_without_vacuum"])
    except (FileNotFoundError, KeyError, ValueError, TypeError):
        return 0


def vacuum_due(builds_since: int) -> bool:
    """Whether this build lets DuckDB vacuum: after VACUUM_EVERY_BUILDS - 1 builds without
    (`builds_since`, as builds_without_vacuum reads it)."""
    return builds_since >= VACUUM_EVERY_BUILDS - 1


def record_build(settings: Settings, *, builds_since: int, vacuumed: bool) -> None:
    """Count a build that ran (its changes were checkpointed, vacuumed or not) after `builds_since`
    without (as builds_without_vacuum read it before the build); `vacuumed` (or a full refresh,
    whose tables are all written anew) starts the count again."""
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0 if vacuumed else builds_since + 1
    path.write_text(json.dumps({"builds_without_vacuum": count}))
