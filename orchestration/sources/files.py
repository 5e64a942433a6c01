"""The `files` source mode: a drop folder of exports laid out as in SPEC 1.2.

    <drop>/salesforce/<Object>.csv, <Object>-<anything>.csv   Salesforce Data Export CSVs
    <drop>/hubspot/<object>.jsonl, <object>-<anything>.jsonl  HubSpot API records, one a line
    <drop>/spend/ad_spend.csv, ad_spend-<anything>.csv         daily ad spend

Each file lands as one raw batch (files in name order, so later names are later batches).
All reading and checking is DuckDB SQL over the whole file. A record whose value cannot be
parsed (by the same rules staging types with) goes to quarantine with file, row, field and
reason; the rest of the file lands. A missing required column fails the run naming file and
column. Files already landed with the same content are skipped on the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Collection
from pathlib import Path

import duckdb

from orchestration.alignment import Alignment
from orchestration.duck import connect, quote_identifier, quote_literal, rows, scalar
from orchestration.landing import ensure_every_object_has_a_schema, land_batch, land_quarantine, new_batch_id
from orchestration.raw_schema import RAW_OBJECTS, Kind, RawObject, with_custom_fields
from orchestration.settings import Settings
from orchestration.sources import ExtractReport

log = logging.getLogger("closedloop.files")
HUBSPOT_CONTACT_TIME_PROPERTIES = (
    "createdate", "lastmodifieddate", "hs_analytics_first_timestamp", "hs_lifecyclestage_marketingqualifiedlead_date",
)


class DropFolderError(ValueError):
    """The drop folder cannot be read as SPEC 1.2 lays it out; the message names file and column."""


def _value_is_valid(kind: Kind, value: str) -> str:
    """SQL that is true when non-empty text `value` parses as `kind` (mirrors dbt's staging macros)."""
    text = f"trim({value})"
    iso = (f"(case when regexp_matches({text}, '\\d:\\d\\d.*(Z|[+-]\\d\\d(:?\\d\\d)?)$') "
           f"then try_cast({text} as timestamptz) is not null else try_cast({text} as timestamp) is not null end)")
    return {
        Kind.TEXT: "true",
        Kind.BOOLEAN: f"lower({text}) in ('true', 'false', '1', '0')",
        Kind.INTEGER: f"try_cast({text} as bigint) is not null",
        Kind.NUMBER: f"try_cast({text} as double) is not null",
        Kind.DATE: f"try_strptime({text}, '%Y-%m-%d') is not null",
        Kind.DATETIME: f"(try_strptime({text}, '%Y-%m-%dT%H:%M:%S.%g%z') is not null "
                       f"or try_strptime({text}, '%Y-%m-%dT%H:%M:%SZ') is not null "
                       f"or try_strptime({text}, '%Y-%m-%d %H:%M:%S') is not null or {iso})",
        Kind.EPOCH_OR_ISO: f"(regexp_full_match({text}, '\\d+') or {iso})",
        Kind.JSON: f"json_valid({text})",
    }[kind]


def _quoted(value: str) -> str:
    """SQL text of `value` wrapped in single quotes, for error messages."""
    quote = "''''"  # a SQL literal holding one single quote
    return f"{quote} || {value} || {quote}"


def _problem_checks(obj: RawObject, present: set[str]) -> list[tuple[str, str]]:
    """(field, SQL yielding a reason or null) for every check a record of `obj` must pass."""
    checks = []
    for name in obj.required:
        column = quote_identifier(name)
        checks.append((name, f"case when nullif(trim({column}), '') is null then 'required value is empty' end"))
    for name, kind in obj.fields.items():
        if kind is Kind.TEXT or name.lower() not in present:
            continue
        column = quote_identifier(name)
        valid = _value_is_valid(kind, column)
        reason = f"{quote_literal(name + ': ')} || {_quoted(column)} || ' is not a valid {kind.value}'"
        checks.append((name, f"case when nullif(trim({column}), '') is not null and not ({valid}) then {reason} end"))
    if obj.system == "hubspot" and obj.name == "contacts":
        for prop in HUBSPOT_CONTACT_TIME_PROPERTIES:
            value = f"json_extract_string(properties, '$.{prop}')"
            checks.append((f"properties.{prop}",
                           f"case when nullif(trim({value}), '') is not null "
                           f"and not ({_value_is_valid(Kind.EPOCH_OR_ISO, value)}) "
                           f"then 'properties.{prop}: ' || {_quoted(value)} || ' is not a valid time' end"))
    return checks


def _files_for(drop: Path, obj: RawObject) -> list[Path]:
    folder = drop / obj.system
    suffix = ".csv" if obj.system in ("salesforce", "spend") else ".jsonl"
    if not folder.is_dir():
        return []
    name = obj.name.lower()
    matches = [path for path in folder.iterdir() if path.is_file() and path.suffix.lower() == suffix
               and (path.stem.lower() == name or path.stem.lower().startswith(name + "-"))]
    # The plain <Object> file first, then <Object>-<anything> files in name order: later = later batch.
    return sorted(matches, key=lambda path: (path.stem.lower() != name, path.name))


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, obj: RawObject, relative: str) -> list[str]:
    """Load a CSV into temp table `incoming` (+ `_source_row`) and its malformed lines into `rejected`."""
    con.execute("drop table if exists incoming").fetchall()
    con.execute("drop table if exists rejected").fetchall()
    con.execute("drop table if exists rejected_scan").fetchall()
    con.execute(
        f"create temp table incoming as select *, row_number() over () + 1 as _source_row "
        f"from read_csv({quote_literal(str(path))}, all_varchar = true, header = true, ignore_errors = true, "
        f"store_rejects = true, rejects_table = 'rejected', rejects_scan = 'rejected_scan')"
    ).fetchall()
    return [name for name, *_ in rows(con, "describe incoming") if name != "_source_row"]


def _check_csv_header(con: duckdb.DuckDBPyConnection, path: Path, obj: RawObject, relative: str) -> None:
    """Fail before anything lands when a CSV lacks a required column."""
    header = [name for name, *_ in rows(
        con, f"describe select * from read_csv({quote_literal(str(path))}, all_varchar = true, header = true, "
             f"ignore_errors = true)")]
    present = {name.lower() for name in header}
    for required in obj.required:
        if required.lower() not in present:
            raise DropFolderError(f"{relative}: missing required column {required!r} for object {obj.name} "
                                  f"(header has: {', '.join(header)})")


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, obj: RawObject) -> None:
    """Load JSON lines into temp table `incoming` (registry fields as text) and broken lines into `rejected`."""
    con.execute("drop table if exists lines").fetchall()
    con.execute(
        f"create temp table lines as select row_number() over () as _source_row, line "
        f"from read_csv({quote_literal(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, "
        f"delim = chr(31), quote = '', escape = '', all_varchar = true)"
    ).fetchall()
    fields = []
    for name, kind in obj.fields.items():
        pointer = quote_literal(f'$."{name}"')
        fields.append(f"cast(json_extract(line, {pointer}) as varchar) as {quote_identifier(name)}" if kind is Kind.JSON
                      else f"json_extract_string(line, {pointer}) as {quote_identifier(name)}")
    is_object = "(json_valid(line) and try(json_type(line)) = 'OBJECT')"
    con.execute("drop table if exists incoming").fetchall()
    con.execute(f"create temp table incoming as select {', '.join(fields)}, _source_row, line as _line "
                f"from lines where line is not null and {is_object}").fetchall()
    con.execute("drop table if exists rejected").fetchall()
    con.execute(f"create temp table rejected as select _source_row as line, line as csv_line, "
                f"'not a JSON object: the line is not valid JSON' as error_message from lines "
                f"where line is not null and trim(line) <> '' and not {is_object}").fetchall()


def _land_file(con: duckdb.DuckDBPyConnection, raw_dir: Path, obj: RawObject, path: Path, relative: str,
               report: ExtractReport) -> None:
    if path.suffix.lower() == ".csv":
        header = _read_csv(con, path, obj, relative)
        present = {name.lower() for name in header}
        record = "to_json(struct_pack(" + ", ".join(f"{quote_identifier(n)} := {quote_identifier(n)}"
                                                    for n in header) + "))"
    else:
        _read_jsonl(con, path, obj)
        present = {name.lower() for name in obj.fields}
        header = list(obj.fields)
        record = "_line"
    checks = _problem_checks(obj, present)
    reason = "coalesce(" + ", ".join(sql for _, sql in checks) + ")" if checks else "null"
    field = ("coalesce(" + ", ".join(f"case when ({sql}) is not null then {quote_literal(name)} end"
                                      for name, sql in checks) + ")") if checks else "null"
    con.execute("drop table if exists checked").fetchall()
    con.execute(f"create temp table checked as select *, {reason} as _problem, {field} as _problem_field "
                f"from incoming").fetchall()
    columns = ", ".join(quote_identifier(name) for name in header)
    batch_id = new_batch_id("files")
    good = con.sql(f"select {columns}, {quote_literal(relative)} as _source_file, _source_row "
                   f"from checked where _problem is null")
    landed = land_batch(con, raw_dir, obj, good, batch_id)
    report.batches.append(landed)
    bad_records = con.sql(
        f"select '{obj.system}' as system, '{obj.name}' as object, {quote_literal(relative)} as source_file, "
        f"_source_row as source_row, _problem_field as field, {quote_literal(relative + ': ')} || 'row ' || "
        f"_source_row || ': ' || _problem as reason, cast({record} as varchar) as record "
        f"from checked where _problem is not null "
        f"union all "
        f"select '{obj.system}', '{obj.name}', {quote_literal(relative)}, line, null, "
        f"{quote_literal(relative + ': ')} || 'line ' || line || ': ' || error_message, csv_line from rejected"
    )
    quarantined = land_quarantine(con, raw_dir, bad_records, new_batch_id("files"))
    if quarantined.rows:
        report.batches.append(quarantined)
        report.quarantined[obj.folder] = report.quarantined.get(obj.folder, 0) + quarantined.rows
        for (reason_text,) in rows(con, f"select reason from '{quarantined.path}' limit 3"):
            log.warning("quarantined: %s", reason_text)
    if obj.system == "hubspot" and obj.name == "form_submissions":
        without_email = scalar(con, "select count(*) from checked where _problem is null and not coalesce("
                                    "list_contains(json_extract_string(\"values\", '$[*].name'), 'email'),"
                                    " false)")
        if without_email:
            report.notes.append(f"{without_email} form submissions in {relative} have no email value: "
                                "counted as unmatched")
    log.info("%s: %d rows landed, %d quarantined", relative, landed.rows, quarantined.rows)


def _manifest_path(settings: Settings) -> Path:
    return settings.warehouse_dir / "state" / "files_landed.json"


def _save_manifest(path: Path, manifest: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(partial, path)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            sha.update(chunk)
    return f"{path.stat().st_size}:{sha.hexdigest()}"


def extract(settings: Settings, alignment: Alignment, systems: Collection[str]) -> ExtractReport:
    drop = settings.drop_dir
    if drop is None or not Path(drop).is_dir():
        raise DropFolderError(f"drop folder {drop} does not exist (set CLOSEDLOOP_DROP_DIR)")
    drop = Path(drop)
    report = ExtractReport()
    manifest_path = _manifest_path(settings)
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    custom = [alignment.crm.disqualification_reason_field] if alignment.crm.disqualification_reason_field else []
    known = set()
    con = connect()
    try:
        objects = [obj for obj in RAW_OBJECTS if obj.system in systems]
        for obj in objects:  # every header first: a missing required column fails before anything lands
            for path in _files_for(drop, obj):
                if path.suffix.lower() == ".csv":
                    _check_csv_header(con, path, obj, str(path.relative_to(drop)))
        for obj in objects:
            target = with_custom_fields(obj, custom) if obj.name == "Lead" else obj
            for path in _files_for(drop, obj):
                relative = str(path.relative_to(drop))
                known.add(relative)
                digest = _digest(path)
                if manifest.get(relative) == digest:
                    log.info("%s: unchanged since it was landed, skipped", relative)
                    continue
                _land_file(con, settings.raw_dir, target, path, relative, report)
                manifest[relative] = digest
                _save_manifest(manifest_path, manifest)  # only after the batch is durably in place
        for system in systems:
            folder = drop / system
            for path in sorted(folder.glob("*")) if folder.is_dir() else []:
                relative = str(path.relative_to(drop))
                if path.is_file() and relative not in known:
                    report.notes.append(f"{relative}: not a known {system} object file, ignored")
        ensure_every_object_has_a_schema(con, settings.raw_dir, "files")
    finally:
        con.close()
    return report
