"""Materialization metadata read from the warehouse after dbt: row counts, column schemas, previews.

One information_schema query for every built table's columns, one `union all` of the tables'
counts (not the views': counting a view runs it), and a five-row preview for the marts: cheap on
DuckDB, and read only after dbt has closed the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import MetadataValue, TableColumn, TableSchema

from orchestration.duck import connect, quote_identifier, quote_literal, rows

PREVIEW_ROWS = 5
PREVIEW_CELL_CHARS = 40


@dataclass(frozen=True)
class Relation:
    schema: str
    table: str

    @property
    def sql(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.table)}"


def markdown_table(columns: list[str], records: Iterable[tuple]) -> str:
    """A GitHub-flavoured markdown table; long cells are cut, pipes and newlines escaped."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "…"

    lines = ["| " + " | ".join(cell(name) for name in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in record) + " |" for record in records]
    return "\n".join(lines)


def table_metadata(warehouse_path: Path, relations: Iterable[Relation], preview: Iterable[Relation] = (),
                   column_docs: Mapping[Relation, Mapping[str, str]] | None = None) -> dict[Relation, dict[str, Any]]:
    """Dagster metadata per relation that exists in the warehouse: dagster/row_count,
    dagster/column_schema (the warehouse's names and types, with `column_docs` descriptions) and,
    for `preview` relations, a markdown preview of the first rows."""
    column_docs = column_docs or {}
    wanted = set(relations)
    if not wanted or not warehouse_path.exists():
        return {}
    con = connect(warehouse_path, read_only=True)
    try:
        in_schemas = ", ".join(sorted({quote_literal(relation.schema) for relation in wanted}))
        columns: dict[Relation, list[TableColumn]] = {}
        for schema, table, column, data_type in rows(con, f"""
                select table_schema, table_name, column_name, data_type from information_schema.columns
                where table_schema in ({in_schemas}) order by table_schema, table_name, ordinal_position"""):
            relation = Relation(schema, table)
            if relation in wanted:
                description = column_docs.get(relation, {}).get(column) or None
                columns.setdefault(relation, []).append(
                    TableColumn(name=column, type=data_type.lower(), description=description))
        existing = sorted(columns, key=lambda relation: (relation.schema, relation.table))
        if not existing:
            return {}
        # A view's count would run its whole query (seconds for a view over millions of touches):
        # views get their schema only.
        views = {Relation(schema, table) for schema, table in rows(con, f"""
                select table_schema, table_name from information_schema.tables
                where table_type = 'VIEW' and table_schema in ({in_schemas})""")}
        counted = [relation for relation in existing if relation not in views]
        counts = dict(rows(con, " union all ".join(
            f"select {index}, count(*) from {relation.sql}" for index, relation in enumerate(counted)))) \
            if counted else {}
        result: dict[Relation, dict[str, Any]] = {}
        for relation in existing:
            result[relation] = {
                "dagster/column_schema": MetadataValue.table_schema(TableSchema(columns=columns[relation])),
            }
        for index, relation in enumerate(counted):
            result[relation]["dagster/row_count"] = MetadataValue.int(counts[index])
        for relation in set(preview) & set(existing):
            cursor = con.execute(f"select * from {relation.sql} limit {PREVIEW_ROWS}")
            names = [description[0] for description in cursor.description]
            result[relation]["preview"] = MetadataValue.md(markdown_table(names, cursor.fetchall()))
        return result
    finally:
        con.close()
