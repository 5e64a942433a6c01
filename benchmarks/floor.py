"""The floor: DuckDB reading every raw Parquet file once, every column, nothing else."""

from __future__ import annotations

import time
from pathlib import Path

from orchestration.duck import connect, quote_identifier, rows


def scan_floor(raw_dir: Path) -> dict:
    """Read every column of every raw batch (hashing each row so no column is skipped); time it."""
    con = connect()
    try:
        folders = sorted({path.parent for path in Path(raw_dir).glob("*/*/*.parquet")})
        started = time.perf_counter()
        total = 0
        for folder in folders:
            source = f"read_parquet('{folder}/*.parquet', union_by_name = true)"
            columns = [name for name, *_ in rows(con, f"describe select * from {source}")]
            hashed = ", ".join(quote_identifier(name) for name in columns)
            count, _ = rows(con, f"select count(*), bit_xor(hash({hashed})) from {source}")[0]
            total += count
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return {"seconds": round(seconds, 2), "rows": total, "objects": len(folders),
            "rows_per_second": round(total / seconds) if seconds else None}
