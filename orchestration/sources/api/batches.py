"""From API pages to raw batches: text values, Arrow tables, land, then move the watermark.

A `BatchWriter` collects the records of whole pages and lands them every `pages_per_batch`
pages (and at the end). Only after `land_batch` has renamed the Parquet file into place does
it call the stream's `on_landed` hook, which is where watermarks advance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.landing import LandedBatch, land_batch, new_batch_id
from orchestration.raw_schema import SOURCE_FILE, SOURCE_ROW, RawObject

BATCH_SOURCE = "api"


def as_text(value: Any) -> str | None:
    """An API value as raw text: booleans true/false, numbers as sent, nested values as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_number)
    return str(value)


def _json_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def records_table(obj: RawObject, rows: list[dict[str, Any]]) -> pa.Table:
    """Registered fields first, then any extra fields the API returned, all as strings."""
    columns: dict[str, None] = dict.fromkeys(obj.fields)
    for row in rows:
        for name in row:
            columns.setdefault(name, None)
    return pa.table({name: pa.array([as_text(row.get(name)) for row in rows], pa.string()) for name in columns})


class BatchWriter:
    def __init__(self, con: duckdb.DuckDBPyConnection, raw_dir: Path, obj: RawObject, pages_per_batch: int,
                 on_landed: Callable[[], None] | None = None):
        self.con = con
        self.raw_dir = raw_dir
        self.obj = obj
        self.pages_per_batch = pages_per_batch
        self.on_landed = on_landed
        self.landed: list[LandedBatch] = []
        self._rows: list[dict[str, Any]] = []
        self._pages = 0

    def add_page(self, records: Iterable[dict[str, Any]], source: str) -> None:
        """Add one complete, validated page; `source` (request path) goes to `_source_file`."""
        for position, record in enumerate(records, start=1):
            self._rows.append({**record, SOURCE_FILE: source, SOURCE_ROW: position})
        self._pages += 1
        if self._pages >= self.pages_per_batch:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            table = records_table(self.obj, self._rows)
            relation = self.con.from_arrow(table)
            batch = land_batch(self.con, self.raw_dir, self.obj, relation, new_batch_id(BATCH_SOURCE))
            self.landed.append(batch)
        self._rows, self._pages = [], 0
        if self.on_landed:
            self.on_landed()

    @property
    def rows(self) -> int:
        return sum(batch.rows for batch in self.landed)
