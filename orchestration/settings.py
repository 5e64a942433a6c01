"""Run settings, read from environment variables (SPEC section 6).

One name per setting everywhere: the Dagster resources, the CLI and the tests all read
them through `Settings.from_env()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SOURCE_MODES = ("demo", "files", "api")


@dataclass(frozen=True)
class Settings:
    source: str = "demo"
    drop_dir: Path | None = None
    alignment_path: Path = PROJECT_ROOT / "alignment.yml"
    warehouse_dir: Path = PROJECT_ROOT / "warehouse"
    published_path: Path | None = None
    demo_people: int = 3000
    demo_seed: int = 42

    @property
    def raw_dir(self) -> Path:
        return self.warehouse_dir / "raw"

    @property
    def warehouse_path(self) -> Path:
        """The working DuckDB file dbt builds into (one writer at a time)."""
        return self.warehouse_dir / "closedloop.duckdb"

    @property
    def published_file(self) -> Path:
        return self.published_path or self.warehouse_dir / "published.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.warehouse_dir / "reports"

    @property
    def state_dir(self) -> Path:
        """What the pipeline keeps between runs: build records, landed-file manifests, watermarks."""
        return self.warehouse_dir / "state"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def path(name: str) -> Path | None:
            value = env.get(name, "").strip()
            return Path(value).expanduser().resolve() if value else None

        def integer(name: str, default: int) -> int:
            value = env.get(name, "").strip()
            if not value:
                return default
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, got {value!r}") from None

        source = env.get("CLOSEDLOOP_SOURCE", "demo").strip().lower() or "demo"
        if source not in SOURCE_MODES:
            raise ValueError(f"CLOSEDLOOP_SOURCE must be one of {', '.join(SOURCE_MODES)}, got {source!r}")
        drop_dir = path("CLOSEDLOOP_DROP_DIR")
        if source == "files" and drop_dir is None:
            raise ValueError("CLOSEDLOOP_SOURCE=files needs CLOSEDLOOP_DROP_DIR (the drop folder)")
        return cls(
            source=source,
            drop_dir=drop_dir,
            alignment_path=path("CLOSEDLOOP_ALIGNMENT") or PROJECT_ROOT / "alignment.yml",
            warehouse_dir=path("CLOSEDLOOP_WAREHOUSE_DIR") or PROJECT_ROOT / "warehouse",
            published_path=path("CLOSEDLOOP_PUBLISHED_PATH"),
            demo_people=integer("CLOSEDLOOP_DEMO_PEOPLE", 3000),
            demo_seed=integer("CLOSEDLOOP_DEMO_SEED", 42),
        )
