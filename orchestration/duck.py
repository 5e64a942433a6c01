"""Small DuckDB helpers.

DuckDB 2.0's Python API keeps an `execute()` result open until it is read to the end, and
relations no longer have `fetchone()`; these helpers always read results whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

# Bounded memory and spilling, so large runs degrade to disk instead of failing.
DEFAULT_MEMORY_LIMIT = "8GB"


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set timezone = 'UTC'").fetchall()
    if not read_only:
        con.execute(f"set memory_limit = '{DEFAULT_MEMORY_LIMIT}'").fetchall()
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any] | None = None) -> Any:
    """The single value a query returns (None for no rows)."""
    rows = con.execute(sql, parameters).fetchall()
    return rows[0][0] if rows else None


def rows(con: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any] | None = None) -> list[tuple]:
    return con.execute(sql, parameters).fetchall()


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"
