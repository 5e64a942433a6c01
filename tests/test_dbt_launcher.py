"""closedloop-dbt, the dbt the pipeline runs: dbt's CLI, its exit code, and a closed warehouse."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestration.alignment import Alignment
from orchestration.dbt_cli import DBT_EXECUTABLE, dbt_env, run_dbt
from orchestration.duck import connect, rows
from orchestration.settings import DBT_PROJECT_DIR, Settings


def test_the_pipeline_runs_dbt_through_the_launcher():
    assert Path(DBT_EXECUTABLE).name == "closedloop-dbt"


def test_a_build_through_the_launcher_leaves_the_warehouse_checkpointed(tmp_path: Path):
    """The profile keeps a build's changes in DuckDB's WAL until the database closes; the launcher
    skips the interpreter's teardown but not the exit handler that closes it: no WAL is left."""
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    run_dbt(settings, Alignment(), "seed", target_path=tmp_path / "target")
    assert settings.warehouse_path.exists()
    assert not settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal").exists()
    con = connect(settings.warehouse_path, read_only=True)
    try:
        assert rows(con, "select count(*) from seeds.utm_medium_channels")[0][0] > 0
    finally:
        con.close()


def test_the_launcher_exits_with_dbts_code(tmp_path: Path):
    settings = Settings(warehouse_dir=tmp_path / "warehouse")
    command = ["run-operation", "no_such_macro", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")]
    codes = {
        Path(executable).name: subprocess.run([executable, *command], env=dbt_env(settings), capture_output=True,
                                              text=True).returncode
        for executable in (DBT_EXECUTABLE, str(Path(DBT_EXECUTABLE).with_name("dbt")))
    }
    assert codes["closedloop-dbt"] == codes["dbt"] != 0, codes
