"""The one Dagster resource: Closed Loop's settings, read from the environment (SPEC 6).

Every setting keeps its environment name everywhere (CLOSEDLOOP_*). Run config may
override the source mode for one run; secrets (API tokens) are never fields here: the API
extractor reads them from the environment itself, so they never reach run config or logs.
"""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from orchestration.alignment import Alignment, load_alignment
from orchestration.settings import Settings


class ClosedLoopResource(ConfigurableResource):
    """Settings for one run; empty fields fall back to the CLOSEDLOOP_* environment variables."""

    source: str | None = None
    drop_dir: str | None = None
    warehouse_dir: str | None = None

    def settings(self) -> Settings:
        overrides = {
            "CLOSEDLOOP_SOURCE": self.source,
            "CLOSEDLOOP_DROP_DIR": self.drop_dir,
            "CLOSEDLOOP_WAREHOUSE_DIR": self.warehouse_dir,
        }
        env = dict(os.environ)
        env.update({name: value for name, value in overrides.items() if value})
        return Settings.from_env(env)

    def alignment(self) -> Alignment:
        return load_alignment(self.settings().alignment_path)
