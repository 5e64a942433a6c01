"""Running the dbt project with the right warehouse, vars and executable.

The nightly job runs dbt through dagster-dbt; tests and the CLI that need plain dbt use
`run_dbt`. Both take the environment and `--vars` from here, so dbt always sees the same
warehouse folder and the same alignment.yml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orchestration.alignment import Alignment
from orchestration.settings import DBT_PROJECT_DIR, Settings

# dbt beside the running interpreter (works from the virtualenv without activating it): our
# closedloop-dbt (orchestration/dbt_launcher.py, dbt's CLI without the interpreter's teardown) once
# the project is installed, else dbt's own script.
_LAUNCHERS = (Path(sys.executable).with_name("closedloop-dbt"), Path(sys.executable).with_name("dbt"))
DBT_EXECUTABLE = str(next((path for path in _LAUNCHERS if path.exists()), _LAUNCHERS[-1]))


# The nightly job's dbt invocations each write to a target folder of their own, named as
# dagster-dbt names them after the dbt asset's op: `dbt_models-<run id[:7]>-<random>`.
RUN_TARGET_PREFIX = "dbt_models-"


def run_targets_root() -> Path:
    """The folder holding the run target folders: DBT_TARGET_PATH, else the project's target/."""
    target = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return target if target.is_absolute() else DBT_PROJECT_DIR / target


def run_target_files(run_id: str, name: str) -> list[Path]:
    """The file `name` (run_results.json, dbt.log, ...) of each target folder of the nightly run
    `run_id` that has one, by folder name."""
    folders = sorted(path for path in run_targets_root().glob(f"{RUN_TARGET_PREFIX}{run_id[:7]}-*") if path.is_dir())
    return [folder / name for folder in folders if (folder / name).exists()]


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for a dbt process: the warehouse folder it reads raw from and builds into."""
    env = dict(os.environ)
    env["CLOSEDLOOP_WAREHOUSE_DIR"] = str(settings.warehouse_dir)
    env.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    # A selected subset runs only the tests whose parents are all selected, so a test of a
    # downstream mart never runs against a table this invocation did not build.
    env.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    return env


def dbt_vars_json(alignment: Alignment) -> str:
    return json.dumps(alignment.dbt_vars())


def run_dbt(settings: Settings, alignment: Alignment, *args: str, check: bool = True,
            target_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `dbt <args> --vars <alignment>` against the settings' warehouse; output captured."""
    command = [DBT_EXECUTABLE, *args, "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--vars", dbt_vars_json(alignment)]
    env = dbt_env(settings)
    # Each warehouse gets its own dbt target/ so concurrent runs (tests, CI) never share state.
    env["DBT_TARGET_PATH"] = str(target_path or settings.warehouse_dir / "dbt_target")
    env["DBT_LOG_PATH"] = str(settings.warehouse_dir / "dbt_logs")
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout[-6000:]}"
                           f"\n{result.stderr[-2000:]}")
    return result
