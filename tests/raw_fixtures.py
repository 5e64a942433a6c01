"""Landing hand-written raw records the way the extractors land them, for tests that build dbt
models from a small fixture instead of the demo generator."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from orchestration.duck import connect
from orchestration.landing import ensure_every_object_has_a_schema, land_batch, new_batch_id
from orchestration.raw_schema import raw_object

Records = list[dict[str, str | None]]


def text_relation(con, records: Records):
    """The records as an all-text relation (raw keeps API text); a column is present when any record has it."""
    columns = list(dict.fromkeys(name for record in records for name in record))
    table = pa.table({name: pa.array([record.get(name) for record in records], pa.string()) for name in columns})
    return con.from_arrow(table)


def land_records(raw_dir: Path, batches: dict[tuple[str, str], list[Records]]) -> None:
    """Land each (system, object)'s batches in order, one raw batch each, and give every other raw
    object an empty schema so every dbt source exists."""
    con = connect()
    try:
        ensure_every_object_has_a_schema(con, raw_dir, "test")
        for (system, name), object_batches in batches.items():
            for records in object_batches:
                land_batch(con, raw_dir, raw_object(system, name), text_relation(con, records), new_batch_id("test"))
    finally:
        con.close()
