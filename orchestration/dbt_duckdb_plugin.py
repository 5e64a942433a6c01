"""The dbt-duckdb plugin (profiles.yml `plugins`) that applies the nightly build's vacuum choice.

Read from the environment when dbt opens the warehouse, so the choice changes nothing dbt parses
(an env_var() in profiles.yml would make dbt re-parse the project whenever it changed).
See orchestration/vacuum.py.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from orchestration.vacuum import VACUUM_ENV


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        if os.environ.get(VACUUM_ENV) == "off":
            conn.execute("set max_vacuum_tasks = 0")
