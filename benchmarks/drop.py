"""The drop folder the benchmark extracts from: the demo org written as export files (SPEC 1.2).

Issue 9 times the nightly run "from the drop folder through publish", as a company runs it on its
exports. So, once per scale and untimed, the demo generator's objects are written in the layout
the `files` source reads: Salesforce Data Export CSVs, HubSpot API records as JSON lines (the
`properties` / `values` maps as nested JSON, as the API returns them) and the ad-spend CSV. An
object the demo extracts in two batches (older versions, then the reissued records' current
versions) and a large object (more than ROWS_PER_FILE records, as export tools split them) come as
several files, `<Object>-<batch>-<part>`, which the files source lands in that (name) order. A
night's delta (benchmarks/delta.py) adds one more file per object it touches.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import duckdb

from orchestration.alignment import Alignment
from orchestration.duck import connect, quote_identifier, quote_literal
from orchestration.raw_schema import Kind, RawObject
from orchestration.sources import demo
from orchestration.sources.files import FILE_SUFFIX

# Export files of at most this many records (the files source reads a file's text at once).
ROWS_PER_FILE = 1_000_000


class DropFile(NamedTuple):
    path: Path
    rows: int


def write_drop_file(con: duckdb.DuckDBPyConnection, drop_dir: Path, obj: RawObject,
                    relation: duckdb.DuckDBPyRelation, part: str | None = None) -> DropFile:
    """Write `relation` (an object's raw columns) as `<drop>/<system>/<Object>[-<part>].<ext>`;
    returns the file and its record count."""
    folder = Path(drop_dir) / obj.system
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{obj.name}{'' if part is None else f'-{part}'}{FILE_SUFFIX[obj.system]}"
    view = f"_drop_{obj.system}_{obj.name}"
    con.register(view, relation)
    try:
        if FILE_SUFFIX[obj.system] == ".jsonl":
            columns = ", ".join(f"json({quote_identifier(column)}) as {quote_identifier(column)}"
                                if obj.fields.get(column) == Kind.JSON else quote_identifier(column)
                                for column in relation.columns)
            copy = f"copy (select {columns} from {view}) to {quote_literal(str(path))} (format json)"
        else:
            copy = f"copy (select * from {view}) to {quote_literal(str(path))} (header, delimiter ',')"
        ((rows,),) = con.execute(copy).fetchall()
    finally:
        con.unregister(view)
    return DropFile(path, rows)


def write_demo_drop(drop_dir: Path, people: int, seed: int, alignment: Alignment) -> list[Path]:
    """The demo org of `people` (the same records `make run` lands) as drop-folder files."""
    con = connect()
    try:
        demo.generate(con, people, seed, alignment)
        batches: Counter[str] = Counter()
        written = []
        for obj, relation in demo.object_batches(con):
            batches[obj.folder] += 1
            con.register("_drop_batch_relation", relation)
            con.execute("create or replace temp table _drop_batch as "
                        "select row_number() over () as _drop_row, * from _drop_batch_relation").fetchall()
            con.unregister("_drop_batch_relation")
            ((count,),) = con.execute("select count(*) from _drop_batch").fetchall()
            for part in range(max(1, math.ceil(count / ROWS_PER_FILE))):
                chunk = con.sql(f"select * exclude (_drop_row) from _drop_batch where _drop_row > "
                                f"{part * ROWS_PER_FILE} and _drop_row <= {(part + 1) * ROWS_PER_FILE} "
                                f"order by _drop_row")
                name = f"{batches[obj.folder]}-{part + 1:04d}"
                written.append(write_drop_file(con, drop_dir, obj, chunk, name).path)
        return written
    finally:
        con.close()
