"""Raw landing: append-only Parquet batches under `<warehouse>/raw/<system>/<object>/`.

Every source mode (demo, files, api) lands through `land_batch`, so raw looks the same
whatever produced it: the source's own field names with text values, every registered field
present (null where the source lacks it), extra fields kept, plus lineage columns. A batch
file is written aside and renamed into place, so a reader never sees half a batch, and it is
never rewritten.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.duck import quote_identifier as _quote
from orchestration.raw_schema import (
    BATCH_ID,
    LOADED_AT,
    QUARANTINE,
    RAW_OBJECTS,
    SOURCE_FILE,
    SOURCE_ROW,
    RawObject,
)

_sequence = itertools.count()
_sequence_lock = threading.Lock()


def new_batch_id(source: str) -> str:
    """Sortable: batches landed later sort later (time first, then a per-process sequence)."""
    with _sequence_lock:
        sequence = next(_sequence)
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{sequence:06d}-{source}"


@dataclass(frozen=True)
class LandedBatch:
    object: RawObject
    batch_id: str
    path: Path | None  # None when there was nothing to land
    rows: int


def object_dir(raw_dir: Path, obj: RawObject) -> Path:
    return Path(raw_dir) / obj.system / obj.name


def land_batch(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    obj: RawObject,
    relation: duckdb.DuckDBPyRelation,
    batch_id: str,
    *,
    write_empty: bool = False,
) -> LandedBatch:
    """Write `relation` (the source's records, any column types) as one raw batch file.

    Registered fields missing from the relation become null; extra columns are kept; every
    source value is stored as text. `_source_file` / `_source_row` are kept when the relation
    carries them. Returns the batch with its row count; an empty relation writes nothing
    unless `write_empty` (used to give dbt a schema for objects a source never had).
    """
    present = {column.lower(): column for column in relation.columns}
    select = []
    for name in obj.fields:
        column = present.pop(name.lower(), None)
        select.append(f"cast({_quote(column)} as varchar) as {_quote(name)}" if column
                      else f"cast(null as varchar) as {_quote(name)}")
    source_file = present.pop(SOURCE_FILE.lower(), None)
    source_row = present.pop(SOURCE_ROW.lower(), None)
    for lineage in (LOADED_AT, BATCH_ID):
        present.pop(lineage.lower(), None)
    select += [f"cast({_quote(column)} as varchar) as {_quote(column)}" for column in present.values()]
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    select += [
        f"timestamp '{loaded_at.isoformat(sep=' ')}' as {LOADED_AT}",
        f"'{batch_id}' as {BATCH_ID}",
        f"cast({_quote(source_file)} as varchar) as {SOURCE_FILE}" if source_file
        else f"cast(null as varchar) as {SOURCE_FILE}",
        f"cast({_quote(source_row)} as bigint) as {SOURCE_ROW}" if source_row
        else f"cast(null as bigint) as {SOURCE_ROW}",
    ]
    view = f"_landing_{batch_id.replace('-', '_')}"
    con.register(view, relation)
    try:
        target_dir = object_dir(raw_dir, obj)
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{batch_id}.parquet"
        partial = target_dir / f".{batch_id}.parquet.partial"
        # COPY returns the rows it wrote: the relation (often a whole generated or parsed
        # object) is evaluated once, not once to count and again to write.
        (rows,) = con.execute(f"copy (select {', '.join(select)} from {view}) to '{partial}' "
                              "(format parquet, compression zstd)").fetchone()
        if rows == 0 and not write_empty:
            partial.unlink()
            return LandedBatch(obj, batch_id, None, 0)
        _fsync(partial)
        os.replace(partial, target)  # atomic: readers see the whole batch or none of it
        _fsync(target_dir)
        return LandedBatch(obj, batch_id, target, rows)
    finally:
        con.unregister(view)


def land_quarantine(con: duckdb.DuckDBPyConnection, raw_dir: Path, relation: duckdb.DuckDBPyRelation,
                    batch_id: str) -> LandedBatch:
    """Land unparseable records (columns: system, object, source_file, source_row, field, reason, record)."""
    return land_batch(con, raw_dir, QUARANTINE, relation, batch_id)


def ensure_every_object_has_a_schema(con: duckdb.DuckDBPyConnection, raw_dir: Path, source: str) -> None:
    """Give every raw folder at least one (possibly empty) batch, so dbt sources always resolve."""
    for obj in (*RAW_OBJECTS, QUARANTINE):
        folder = object_dir(raw_dir, obj)
        if not any(folder.glob("*.parquet")):
            empty = con.sql("select " + ", ".join(f"cast(null as varchar) as {_quote(n)}" for n in obj.fields)
                            + " where false")
            land_batch(con, raw_dir, obj, empty, new_batch_id(source), write_empty=True)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
