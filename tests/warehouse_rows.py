"""Reading a built warehouse's tables for comparisons between two builds."""

from __future__ import annotations

from pathlib import Path

from orchestration.duck import connect, rows

BUILT_SCHEMAS = ("staging", "intermediate", "marts")


def normalized(value):
    """Floats to 10 significant digits: DuckDB's parallel sums may differ in the last bits between two builds."""
    return float(f"{value:.10g}") if isinstance(value, float) else value


def table_rows(warehouse_path: Path, schemas: tuple[str, ...] = BUILT_SCHEMAS) -> dict[str, list[tuple]]:
    """Sorted, normalized rows of every table in `schemas`, by `schema.table`."""
    con = connect(warehouse_path, read_only=True)
    try:
        names = rows(
            con,
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in {tuple(schemas)} and table_type = 'BASE TABLE' order by all",
        )
        return {
            f"{schema}.{name}": sorted(
                (tuple(normalized(v) for v in row) for row in rows(con, f'select * from "{schema}"."{name}"')),
                key=repr,
            )
            for schema, name in names
        }
    finally:
        con.close()
