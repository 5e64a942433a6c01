"""The `files` source mode: a drop folder of exports laid out as in SPEC 1.2.

    <drop>/salesforce/<Object>.csv, <Object>-<anything>.csv   Salesforce Data Export CSVs
    <drop>/hubspot/<object>.jsonl, <object>-<anything>.jsonl  HubSpot API records, one a line
    <drop>/spend/ad_spend.csv, ad_spend-<anything>.csv         daily ad spend

Each file lands as one raw batch: the plain `<Object>.csv` first, then `<Object>-*.csv` in
file-name order, so later names are later batches. All reading and checking is DuckDB SQL
over the whole file:

- a CSV is parsed by DuckDB's reader (UTF-8 with or without BOM, quoted fields with
  newlines); every record keeps the line it starts on (header = line 1): its position when the
  file has as many lines as records (counted while the file is hashed), else from the file's
  text lines, which quarantine also reads for a record's raw text;
- a JSON-lines file of long lines whose every line is one JSON object is parsed once by DuckDB's
  JSON reader (a record's line is its position); any other is read as text lines and parsed with
  DuckDB's json functions, which name the lines that are not JSON objects.

A record with a value that does not parse by the rules staging types with (the dbt macros
in `dbt_project/macros/staging/parse_values.sql`), an empty required value, or a line that is
not CSV / not a JSON object goes to quarantine with file, line, field and reason; the rest of
the file lands. A missing required column fails the run before anything lands, naming file
and column. Files already landed (manifest under `<warehouse>/state/files_landed.json`: size,
modification time and content digest of each) are skipped on the next run: a file with the recorded size
and time without being read, a rewritten one when its content hashes the same.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.alignment import Alignment
from orchestration.duck import connect, quote_identifier, quote_literal, rows, scalar
from orchestration.landing import ensure_every_object_has_a_schema, land_batch, land_quarantine, new_batch_id
from orchestration.raw_schema import LINEAGE_COLUMNS, RAW_OBJECTS, Kind, RawObject, with_custom_fields
from orchestration.settings import Settings
from orchestration.sources import ExtractReport

log = logging.getLogger("closedloop.files")

FILE_SUFFIX = {"salesforce": ".csv", "spend": ".csv", "hubspot": ".jsonl"}
# HubSpot contact properties staging reads as times: a value that is no time quarantines the contact.
HUBSPOT_CONTACT_TIME_PROPERTIES = (
    "createdate", "lastmodifieddate", "hs_analytics_first_timestamp", "hs_lifecyclestage_marketingqualifiedlead_date",
)
CONTACT_TIMES = "_contact_times"
# Content digests the manifest of landed files records, the one written first: blake2b reads about
# twice as fast as SHA-256 on CPUs without SHA instructions (2.2 GB of exports at a million people).
DIGESTS = ("blake2b", "sha256")
# JSON-lines files whose lines average at least this many bytes are parsed by DuckDB's JSON reader
# (see _parse_objects), shorter ones line by line.
OBJECT_READ_MIN_LINE_BYTES = 256
# How a reason names what a value should have been.
KIND_NAMES = {
    Kind.BOOLEAN: "a boolean (true/false/1/0)",
    Kind.INTEGER: "an integer",
    Kind.NUMBER: "a number",
    Kind.DATE: "a date (YYYY-MM-DD)",
    Kind.DATETIME: "a datetime",
    Kind.EPOCH_OR_ISO: "a time (epoch milliseconds or ISO 8601)",
    Kind.JSON: "a JSON value",
}


class DropFolderError(ValueError):
    """The drop folder cannot be read as SPEC 1.2 lays it out; the message names file and column."""


# --- value checks: SQL mirroring the dbt staging macros (a value staging could not type is quarantined) ---

def _text(value: str) -> str:
    return f"nullif(trim({value}), '')"


def _iso_timestamp(value: str) -> str:
    text = _text(value)
    return (f"(case when regexp_matches({text}, '\\d:\\d\\d.*(Z|[+-]\\d\\d(:?\\d\\d)?)$') "
            f"then try_cast({text} as timestamptz) at time zone 'UTC' else try_cast({text} as timestamp) end)")


def _typed(kind: Kind, value: str) -> str:
    """SQL typing text `value` as `kind` the way staging does: null when it does not parse."""
    text = _text(value)
    return {
        Kind.BOOLEAN: f"(case lower({text}) when 'true' then true when '1' then true when 'false' then false "
                      f"when '0' then false end)",
        Kind.INTEGER: f"try_cast({text} as bigint)",
        Kind.NUMBER: f"try_cast({text} as double)",
        Kind.DATE: f"try_strptime({text}, '%Y-%m-%d')",
        Kind.DATETIME: f"coalesce(try_strptime({text}, '%Y-%m-%dT%H:%M:%S.%g%z') at time zone 'UTC', "
                       f"try_strptime({text}, '%Y-%m-%dT%H:%M:%SZ'), try_strptime({text}, '%Y-%m-%d %H:%M:%S'), "
                       f"{_iso_timestamp(value)})",
        Kind.EPOCH_OR_ISO: f"(case when regexp_full_match({text}, '\\d+') "
                           f"then try(epoch_ms(try_cast({text} as bigint))) else {_iso_timestamp(value)} end)",
        Kind.JSON: f"(case when json_valid({text}) then true end)",
    }[kind]


def _bad_value_reason(label: str, kind: Kind, value: str, typed: str | None = None) -> str:
    """SQL: "<label>: '<value>' is not <a kind>" when non-empty `value` does not parse (`typed`, by
    default `value` typed the way staging types it, is null), else null."""
    quote = "''''"  # a SQL literal holding one single quote
    return (f"case when {_text(value)} is not null and {typed or _typed(kind, value)} is null then "
            f"{quote_literal(label + ': ')} || {quote} || {value} || {quote} || "
            f"{quote_literal(' is not ' + KIND_NAMES[kind])} end")


def _with_contact_times(obj: RawObject, table: str) -> str:
    """`table`, and for HubSpot contacts the time properties the checks read, as one list column: one
    parse of `properties` per record (each check reads its value three times)."""
    if not (obj.system == "hubspot" and obj.name == "contacts"):
        return table
    paths = ", ".join(quote_literal(f"$.{prop}") for prop in HUBSPOT_CONTACT_TIME_PROPERTIES)
    return f"(select *, try(json_extract_string(properties, [{paths}])) as {CONTACT_TIMES} from {table})"


def _checks(obj: RawObject, present: set[str]) -> list[tuple[str, str]]:
    """(field, SQL giving the reason or null) for every check a record of `obj` must pass."""
    checks = [(name, f"case when {_text(quote_identifier(name))} is null then "
                     f"{quote_literal(name + ': required value is empty')} end") for name in obj.required]
    contacts = obj.system == "hubspot" and obj.name == "contacts"
    for name, kind in obj.fields.items():
        if kind is not Kind.TEXT and name.lower() in present:
            # A contact's properties are parsed once, by _with_contact_times, which gives null exactly
            # when they are not JSON: the same check as Kind.JSON's without a second parse.
            typed = f"(case when {CONTACT_TIMES} is not null then true end)" if contacts and name == "properties" \
                else None
            checks.append((name, _bad_value_reason(name, kind, quote_identifier(name), typed)))
    if contacts:
        for index, prop in enumerate(HUBSPOT_CONTACT_TIME_PROPERTIES, 1):
            value = f"{CONTACT_TIMES}[{index}]"  # see _with_contact_times
            checks.append((f"properties.{prop}", _bad_value_reason(f"properties.{prop}", Kind.EPOCH_OR_ISO, value)))
    if obj.system == "hubspot" and obj.name == "forms":
        checks.append(("guid", f"case when {_text('guid')} is null and {_text('id')} is null then "
                               f"'guid: a form needs its guid (v2) or id (v3)' end"))
    return checks


# --- reading one file into temp table `incoming` (fields as text, _source_row, _line_end) + `rejected` ---

@dataclass
class _Read:
    columns: list[str]  # the file's own columns, in `incoming`
    present: set[str]  # lower-case names of the columns the file has
    note: str | None = None
    lines_loaded: bool = False  # temp table `lines` holds this file's text


def _drop_scratch(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Drop the previous file's temp tables and views of these names."""
    for name, is_view in rows(con, "select table_name, table_type = 'VIEW' from information_schema.tables "
                                   "where table_catalog = 'temp' and list_contains(?, table_name)", [list(names)]):
        con.execute(f"drop {'view' if is_view else 'table'} {quote_identifier(name)}").fetchall()


def _nothing_rejected(con: duckdb.DuckDBPyConnection) -> None:
    """An empty temp table `rejected`: the reader refused no line of the file."""
    con.execute("create temp table rejected (line_no bigint, line_end bigint, error varchar)").fetchall()


def _load_lines(con: duckdb.DuckDBPyConnection, path: Path, relative: str) -> None:
    """Temp table `lines`: every physical line of the file with its 1-based number (BOM and CR removed)."""
    _drop_scratch(con, "lines")
    try:
        con.execute(
            f"create temp table lines as with content as (select string_split(content, chr(10)) as parts "
            f"from read_text({quote_literal(str(path))})) "
            f"select n as line_no, "
            f"regexp_replace(case when n = 1 then ltrim(parts[n], chr(65279)) else parts[n] end, '\\r$', '') as line "
            f"from content, range(1, len(parts) + 1) as r(n)"
        ).fetchall()
    except duckdb.InvalidInputException as error:
        raise DropFolderError(f"{relative}: cannot be read as UTF-8 text ({error}); export it as UTF-8") from None


def _csv_header(path: Path, relative: str) -> list[str]:
    """The header record of a CSV (BOM dropped), checked for names a table can hold."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            header = next(csv.reader(stream), [])
    except UnicodeDecodeError as error:
        raise DropFolderError(f"{relative}: the header is not UTF-8 ({error}); export the file as UTF-8") from None
    if not any(name.strip() for name in header):
        raise DropFolderError(f"{relative}: the first line must be the header of Salesforce API field names")
    seen: set[str] = set()
    for name in header:
        if name.lower() in seen:
            raise DropFolderError(f"{relative}: column {name!r} appears twice in the header "
                                  f"(names are matched case-insensitively); keep one")
        seen.add(name.lower())
    return header


def _check_required_columns(obj: RawObject, header: list[str], relative: str) -> None:
    present = {name.lower() for name in header}
    for required in obj.required:
        if required.lower() not in present:
            raise DropFolderError(f"{relative}: missing required column {required!r} for {obj.folder} "
                                  f"(the header has: {', '.join(header)}); add the column to the export")


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, relative: str, header: list[str],
              physical_lines: int) -> _Read:
    _drop_scratch(con, "parsed", "rejected_errors", "rejected_scans", "row_starts", "rejected", "candidates",
                  "incoming")
    columns = "{" + ", ".join(f"{quote_literal(name)}: 'VARCHAR'" for name in header) + "}"
    con.execute(  # a table keeps the file's row order (DuckDB preserves insertion order)
        f"create temp table parsed as select * "
        f"from read_csv({quote_literal(str(path))}, columns = {columns}, header = true, auto_detect = false, "
        f"delim = ',', quote = '\"', escape = '\"', encoding = 'utf-8', ignore_errors = true, "
        f"store_rejects = true, rejects_table = 'rejected_errors', rejects_scan = 'rejected_scans')"
    ).fetchall()
    read = _Read(header, {name.lower() for name in header})
    if (scalar(con, "select count(*) from rejected_errors") == 0
            and scalar(con, "select count(*) from parsed") + 1 == physical_lines):
        # As many records as lines (header included): every record is one line, in order, so the
        # record's line is its position; the file's text is only read if a record is quarantined.
        _nothing_rejected(con)
        con.execute("create temp view incoming as select *, rowid + 2 as _source_row, rowid + 2 as _line_end, "
                    "cast(null as varchar) as _record from parsed").fetchall()
        return read
    read.lines_loaded = True
    _load_lines(con, path, relative)
    # Rows from the text lines: a line starts a new CSV row when the quotes before it are balanced. DuckDB
    # numbers rows the same way (header = row 1, blank lines counted), so rejected rows match by number.
    con.execute(
        "create temp table row_starts as "
        "with counted as (select line_no, line = '' as blank, "
        "length(line) - length(replace(line, '\"', '')) as quotes from lines), "
        "starts as (select line_no, blank, (sum(quotes) over (order by line_no) - quotes) % 2 = 0 as is_start "
        "from counted) "
        "select row_number() over (order by line_no) as row_no, line_no, "
        "coalesce(lead(line_no) over (order by line_no) - 1, line_no) as line_end, blank "
        "from starts where is_start order by line_no"
    ).fetchall()
    con.execute(
        "create temp table rejected as "
        "select e.line as row_no, coalesce(r.line_no, e.line) as line_no, coalesce(r.line_end, e.line) as line_end, "
        "e.error_type || ': ' || e.error_message as error "
        "from (select line, first(error_type order by column_idx) as error_type, "
        "first(error_message order by column_idx) as error_message from rejected_errors group by line) e "
        "left join row_starts r on r.row_no = e.line"
    ).fetchall()
    con.execute("create temp table candidates as select line_no, line_end from row_starts "
                "where row_no > 1 and not blank and row_no not in (select row_no from rejected) "
                "order by row_no").fetchall()
    if scalar(con, "select count(*) from parsed") == scalar(con, "select count(*) from candidates"):
        con.execute("create temp table incoming as select p.*, c.line_no as _source_row, c.line_end as _line_end, "
                    "cast(null as varchar) as _record from parsed p positional join candidates c").fetchall()
    else:  # quotes inside unquoted values: lines cannot be told apart from rows, so number the rows instead
        read.note = ("stray quote characters make CSV rows and lines disagree; "
                     "_source_row holds the data row number + 1, not the line")
        record = "to_json(struct_pack(" + ", ".join(f"{quote_identifier(n)} := {quote_identifier(n)}"
                                                    for n in header) + "))"
        con.execute(f"create temp table incoming as select *, row_number() over () + 1 as _source_row, "
                    f"cast(null as bigint) as _line_end, cast({record} as varchar) as _record "
                    f"from parsed").fetchall()
    return read


def _parse_objects(con: duckdb.DuckDBPyConnection, path: Path, physical_lines: int) -> bool:
    """Temp table `objects`: each line's JSON object as a map of key -> JSON value, in file order, when
    every line of the file is one JSON object. False, leaving no `objects`, when some line is not
    (blank, not JSON, not an object, a key twice, a byte order mark): then the file is read line by
    line to say which.

    DuckDB's JSON reader parses each line once, in parallel; its values are written as the JSON
    functions write them (the same parser), so both readings land the same text. Building a map costs
    per key, the line-by-line reading per byte (three parses), so only files of long lines are read
    this way (at a million people: contacts 9.4 -> 5.6 s, form submissions 5.5 -> 2.9 s; email
    events, ~130 bytes a line, 3.4 -> 3.7 s).
    """
    _drop_scratch(con, "objects")
    if physical_lines == 0 or path.stat().st_size / physical_lines < OBJECT_READ_MIN_LINE_BYTES:
        return False
    try:
        con.execute(f"create temp table objects as select object from read_json({quote_literal(str(path))}, "
                    f"format = 'newline_delimited', records = false, "
                    f"columns = {{'object': 'MAP(VARCHAR, JSON)'}})").fetchall()
    except duckdb.Error:
        return False
    # a blank line is skipped and a `null` line is a null map: either leaves a line without an object
    if scalar(con, "select count(object) from objects") != physical_lines:
        _drop_scratch(con, "objects")
        return False
    return True


def _read_jsonl(con: duckdb.DuckDBPyConnection, obj: RawObject, path: Path, relative: str,
                physical_lines: int) -> _Read:
    """JSON lines: registry fields (and any other top-level keys) as text; bad lines to `rejected`."""
    _drop_scratch(con, "line_keys", "rejected", "incoming")
    if _parse_objects(con, path, physical_lines):
        # Every line is an object: a record's line is its position (as for a CSV of one-line records),
        # and the file's text is only read if a record is quarantined.
        _nothing_rejected(con)
        keys = [key for (key,) in rows(con, "select distinct unnest(map_keys(object)) as key from objects "
                                            "order by key")]
        columns, plain, nested = _jsonl_columns(obj, keys)
        selected = [f"json_extract_string(object[{quote_literal(name)}], '$') as {quote_identifier(name)}"
                    for name in plain]
        selected += [f"nullif(cast(object[{quote_literal(name)}] as varchar), 'null') as {quote_identifier(name)}"
                     for name in nested]  # a JSON null is no value, like a missing key
        con.execute(f"create temp table incoming as select {', '.join(selected)}, rowid + 1 as _source_row, "
                    f"rowid + 1 as _line_end, cast(null as varchar) as _record from objects").fetchall()
        _drop_scratch(con, "objects")
        return _Read(columns, {name.lower() for name in obj.fields})
    _load_lines(con, path, relative)
    # One parse of each line answers three questions: is it JSON, is it an object, which keys it has
    # (a line that is not JSON has no keys; one without keys is typed again, to name what it is).
    con.execute("create temp table line_keys as select line_no, try(json_keys(line)) as keys "
                "from lines where trim(line) <> ''").fetchall()
    con.execute(
        "create temp table rejected as select line_no, line_no as line_end, error from ("
        "select k.line_no, case when k.keys is null then 'not valid JSON' "
        "when json_type(l.line) <> 'OBJECT' then 'not a JSON object (a ' || lower(json_type(l.line)) || ')' "
        "end as error from line_keys k join lines l using (line_no) where k.keys is null or len(k.keys) = 0) "
        "where error is not null order by line_no"
    ).fetchall()
    keys = [key for (key,) in rows(con, "select distinct unnest(keys) as key from line_keys order by key")]
    columns, plain, nested = _jsonl_columns(obj, keys)
    # Nested values are kept as JSON text, other values as their text. Each list of paths is read
    # with one parse of the line (a json_extract per field would parse the line once per field).
    selected = [f"plain_values[{index}] as {quote_identifier(name)}" for index, name in enumerate(plain, 1)]
    # a JSON null is no value, like a missing key
    selected += [f"nullif(cast(nested_values[{index}] as varchar), 'null') as {quote_identifier(name)}"
                 for index, name in enumerate(nested, 1)]

    def paths(names: list[str]) -> str:
        return "[" + ", ".join(quote_literal("$." + json.dumps(name)) for name in names) + "]"

    extracted = [f"json_extract_string(line, {paths(plain)}) as plain_values"] if plain else []
    extracted += [f"json_extract(line, {paths(nested)}) as nested_values"] if nested else []
    kept = _not_in(con, "line_no", "rejected")
    con.execute(f"create temp table incoming as select {', '.join(selected)}, line_no as _source_row, "
                f"line_no as _line_end, cast(null as varchar) as _record "
                f"from (select line_no, {', '.join(extracted)} from lines where trim(line) <> '' and {kept.where}"
                f"{kept.order_by})").fetchall()
    return _Read(columns, {name.lower() for name in obj.fields}, lines_loaded=True)


def _jsonl_columns(obj: RawObject, keys: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The columns a JSON-lines file lands (registry fields, then the file's other top-level keys),
    split into those kept as text and those kept as JSON text (the registry's nested fields)."""
    registered = {name.lower() for name in obj.fields}
    reserved = {name.lower() for name in LINEAGE_COLUMNS} | {"_line_end", "_record", CONTACT_TIMES}
    extras = [key for key in keys if key.lower() not in registered | reserved]
    columns = list(obj.fields) + extras
    nested = [name for name in columns if obj.fields.get(name) is Kind.JSON]
    return columns, [name for name in columns if name not in nested], nested


@dataclass(frozen=True)
class _Kept:
    where: str  # a filter keeping the rows
    order_by: str  # the clause that puts them back in file order, when needed
    any_excluded: bool


def _not_in(con: duckdb.DuckDBPyConnection, key: str, excluded: str) -> _Kept:
    """The rows whose `key` is not in temp table `excluded`, in file order. With nothing excluded the
    filter is `true`, which keeps the table's (the file's) order; the anti-join a `not in` becomes
    need not, so only then are the rows sorted by `key` again."""
    if not scalar(con, f"select count(*) from {excluded}"):
        return _Kept("true", "", any_excluded=False)
    return _Kept(f"{key} not in (select {key} from {excluded})", f" order by {key}", any_excluded=True)


# --- landing one file ---

@dataclass
class _FileResult:
    landed: int
    quarantined: int
    without_email: int = 0


def _land_file(con: duckdb.DuckDBPyConnection, raw_dir: Path, obj: RawObject, path: Path, relative: str,
               physical_lines: int, report: ExtractReport) -> _FileResult:
    if path.suffix.lower() == ".csv":
        read = _read_csv(con, path, relative, _csv_header(path, relative), physical_lines)
        rejected = "select line_no, line_end, 'malformed CSV row: ' || error as reason from rejected"
    else:
        read = _read_jsonl(con, obj, path, relative, physical_lines)
        rejected = "select line_no, line_end, error as reason from rejected"
    if read.note:
        report.notes.append(f"{relative}: {read.note}")
    checks = _checks(obj, read.present)
    reason = "concat_ws('; ', " + ", ".join(sql for _, sql in checks) + ")" if checks else "''"
    field = ("coalesce(" + ", ".join(f"case when ({sql}) is not null then {quote_literal(name)} end"
                                      for name, sql in checks) + ")") if checks else "null"
    _drop_scratch(con, "problems", "failed")
    # Each record's problem into a narrow table, then the few failing records aside; the rest land
    # straight from `incoming`. (A filter on the problem itself would make DuckDB inline the checks
    # into the filter and evaluate shared parts, such as the contact's parsed properties, once per use.)
    con.execute(f"create temp table problems as select _source_row, nullif({reason}, '') as _problem "
                f"from {_with_contact_times(obj, 'incoming')}").fetchall()
    failing = ("(select i.*, p._problem from incoming i join (select * from problems where _problem is not null) p "
               "using (_source_row))")  # the checks' inputs again (for the field named) for these records only
    con.execute(f"create temp table failed as select * from {_with_contact_times(obj, failing)}").fetchall()
    passed = _not_in(con, "_source_row", "failed")

    source_file = quote_literal(relative)
    columns = ", ".join(quote_identifier(name) for name in read.columns)
    good = con.sql(f"select {columns}, {source_file} as _source_file, _source_row "
                   f"from incoming where {passed.where}{passed.order_by}")
    landed = land_batch(con, raw_dir, obj, good, new_batch_id("files"))
    report.batches.append(landed)

    if not read.lines_loaded:  # the raw text of the records quarantined, if any
        if passed.any_excluded:
            _load_lines(con, path, relative)
        else:
            _drop_scratch(con, "lines")
            con.execute("create temp table lines (line_no bigint, line varchar)").fetchall()
    bad = con.sql(  # a quarantined record carries its raw text: the lines it spans in the file
        f"with bad as (select _source_row as source_row, _line_end, {field} as field, _problem as reason, "
        f"_record from failed "
        f"union all select line_no, line_end, null, reason, null from ({rejected})) "
        f"select {quote_literal(obj.system)} as system, {quote_literal(obj.name)} as object, "
        f"{source_file} as source_file, source_row, field, reason, coalesce(_record, (select string_agg("
        f"line, chr(10) order by line_no) from lines where line_no between source_row and _line_end)) as record "
        f"from bad order by source_row"
    )
    quarantined = land_quarantine(con, raw_dir, bad, new_batch_id("files"))
    if quarantined.rows:
        report.batches.append(quarantined)
        report.quarantined[obj.folder] = report.quarantined.get(obj.folder, 0) + quarantined.rows
        for line, reason_text in rows(con, f"select source_row, reason from '{quarantined.path}' "
                                           f"order by source_row limit 3"):
            log.warning("%s line %s quarantined: %s", relative, line, reason_text)

    without_email = 0
    if obj.system == "hubspot" and obj.name == "form_submissions":
        # The same reading as stg_hubspot__form_submissions: the first value named email (any case), trimmed.
        without_email = scalar(
            con, f"select count(*) from incoming where {passed.where} and nullif(trim(list_filter("
                 "try(from_json(\"values\", '[{\"name\": \"VARCHAR\", \"value\": \"VARCHAR\"}]')), "
                 "lambda entry: lower(trim(entry.name)) = 'email')[1].value), '') is null")
    log.info("%s: %d rows landed as %s/%s, %d quarantined", relative, landed.rows, obj.folder, landed.batch_id,
             quarantined.rows)
    return _FileResult(landed.rows, quarantined.rows, without_email)


# --- the drop folder and the manifest of landed files ---

def _files_for(drop: Path, obj: RawObject) -> list[Path]:
    """`<Object>.<ext>` first, then `<Object>-<anything>.<ext>` in file-name order (names matched in any case)."""
    folder = drop / obj.system
    if not folder.is_dir():
        return []
    name, suffix = obj.name.lower(), FILE_SUFFIX[obj.system]
    matches = [path for path in folder.iterdir() if path.is_file() and path.suffix.lower() == suffix
               and (path.stem.lower() == name or path.stem.lower().startswith(name + "-"))]
    return sorted(matches, key=lambda path: (path.stem.lower() != name, path.name))


def _manifest_path(settings: Settings) -> Path:
    return settings.state_dir / "files_landed.json"


def _load_manifest(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DropFolderError(f"{path}: the manifest of landed files is not valid JSON ({error}); delete it "
                              f"to land every drop file again") from None
    return {relative: _fingerprint_entry(entry) for relative, entry in manifest.items()}


def _fingerprint_entry(entry: dict | str) -> dict:
    if isinstance(entry, str):  # an earlier manifest wrote "size:sha256"
        size, _, sha256 = entry.partition(":")
        return {"size": int(size), "sha256": sha256}
    return {key: entry[key] for key in ("size", *DIGESTS, "mtime_ns") if key in entry}


def _same_content(recorded: dict | None, fingerprint: dict) -> bool:
    return recorded is not None and recorded["size"] == fingerprint["size"] and any(
        recorded.get(digest) == fingerprint[digest] for digest in DIGESTS if digest in fingerprint)


def _untouched(recorded: dict | None, path: Path) -> bool:
    """Same size and modification time as when it was landed: unchanged without reading it (as git's index
    does; hashing every export each night would read the whole folder, gigabytes at a million people)."""
    if recorded is None or "mtime_ns" not in recorded:
        return False
    stat = path.stat()
    return (recorded["size"], recorded["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)


def _save_manifest(path: Path, manifest: dict[str, dict]) -> None:
    """Write aside and rename into place, so a crash leaves the old manifest or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w") as stream:
        json.dump(manifest, stream, indent=1, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, path)


@dataclass
class _Scan:
    fingerprint: dict  # the manifest entry: size, modification time, content digest
    physical_lines: int  # newline-separated lines, the last one with or without its newline


def _scan(path: Path, digest: str = DIGESTS[0]) -> _Scan:
    """One read of the file: its fingerprint and its number of lines (which tells a CSV whose records
    are one line each, see _read_csv)."""
    stat = path.stat()
    hasher = hashlib.new(digest)
    newlines, last_byte = 0, b"\n"
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(8 << 20), b""):
            hasher.update(chunk)
            newlines += chunk.count(b"\n")
            last_byte = chunk[-1:]
    fingerprint = {"size": stat.st_size, digest: hasher.hexdigest(), "mtime_ns": stat.st_mtime_ns}
    return _Scan(fingerprint, newlines + (last_byte != b"\n"))


def _unknown_files(drop: Path, systems: Collection[str], known: set[Path]) -> list[str]:
    notes = []
    for system in sorted(systems):
        folder = drop / system
        if not folder.is_dir():
            notes.append(f"{system}: no {system}/ folder in the drop folder {drop}, nothing read")
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path not in known and not path.name.startswith("."):
                notes.append(f"{path.relative_to(drop)}: not a known {system} object file "
                             f"(expected <Object>{FILE_SUFFIX[system]} or <Object>-<anything>{FILE_SUFFIX[system]}), "
                             f"ignored")
    return notes


def extract(settings: Settings, alignment: Alignment, systems: Collection[str]) -> ExtractReport:
    """Land every new or changed drop-folder file of `systems` as one raw batch each (SPEC 1.2)."""
    if settings.drop_dir is None or not Path(settings.drop_dir).is_dir():
        raise DropFolderError(f"drop folder {settings.drop_dir} does not exist (set CLOSEDLOOP_DROP_DIR)")
    drop = Path(settings.drop_dir)
    report = ExtractReport()
    manifest_path = _manifest_path(settings)
    manifest = _load_manifest(manifest_path)
    reason_field = alignment.crm.disqualification_reason_field
    objects = [with_custom_fields(obj, [reason_field]) if reason_field and obj.folder == "salesforce/Lead" else obj
               for obj in RAW_OBJECTS if obj.system in systems]
    plan = [(obj, path) for obj in objects for path in _files_for(drop, obj)]
    without_email = 0
    con = connect()
    try:
        for obj, path in plan:  # every header first: a missing required column fails before anything lands
            if path.suffix.lower() == ".csv":
                relative = path.relative_to(drop).as_posix()
                _check_required_columns(obj, _csv_header(path, relative), relative)
        for obj, path in plan:
            relative = path.relative_to(drop).as_posix()
            recorded = manifest.get(relative)
            if _untouched(recorded, path):
                log.info("%s: unchanged since it was landed (size and modification time), skipped", relative)
                continue
            # an entry from before blake2b is compared by the digest it has
            scan = _scan(path, next((digest for digest in DIGESTS if recorded and digest in recorded), DIGESTS[0]))
            if _same_content(recorded, scan.fingerprint):
                log.info("%s: rewritten with the content it was landed with, skipped", relative)
                manifest[relative] = scan.fingerprint  # its new time, so the next run need not read it
                _save_manifest(manifest_path, manifest)
                continue
            result = _land_file(con, settings.raw_dir, obj, path, relative, scan.physical_lines, report)
            without_email += result.without_email
            manifest[relative] = scan.fingerprint
            _save_manifest(manifest_path, manifest)  # only once the file's batches are in place
        report.notes += _unknown_files(drop, systems, {path for _, path in plan})
        if without_email:
            report.notes.append(f"{without_email} form submissions have no email value: counted as unmatched")
        ensure_every_object_has_a_schema(con, settings.raw_dir, "files")
    finally:
        con.close()
    return report
