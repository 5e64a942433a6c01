"""One night of new and changed records, written to the drop folder as one more export file per object.

The demo org is written to the drop folder once (benchmarks/drop.py), so a second nightly run finds
nothing new. To time an honest incremental night we drop, next to the demo exports, what one more
day in the CRM and marketing tools would add (`<Object>-night-<UTC time>.csv` / `.jsonl`, which the
nightly run's extract lands like any new export):

- changed records: `CHANGED_SHARE` (0.1%) of the current Leads, Contacts, Accounts,
  Opportunities and HubSpot contacts, re-landed with a newer SystemModstamp / updatedAt
  (and one harmless field edited, e.g. Lead.Title), as a re-extract would bring them;
- new records: one day's worth (1/730 of the two-year demo span) of new touches and
  activities: HubSpot email events, Salesforce campaign members and tasks, copies of
  existing rows under new ids (so keys stay unique and every foreign key still resolves).

Everything is DuckDB SQL over the raw Parquet already landed; no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.drop import write_drop_file
from orchestration.duck import connect, quote_identifier, scalar
from orchestration.landing import object_dir
from orchestration.raw_schema import raw_object

CHANGED_SHARE = 0.001
NEW_DAY_SHARE = 1 / 730  # the demo spans two years: one day of activity
SF_STAMP = "%Y-%m-%dT%H:%M:%S.000+0000"

# (system, object, key, field edited -> new value SQL or None)
CHANGED = [
    ("salesforce", "Lead", "Id", ("Title", "'Director of Revenue Operations'")),
    ("salesforce", "Contact", "Id", ("Title", "'Director of Revenue Operations'")),
    ("salesforce", "Account", "Id", ("Website", "Website || '/about'")),
    ("salesforce", "Opportunity", "Id", ("Name", "Name || ' (renewal terms)'")),
    ("hubspot", "contacts", "id", None),
]
# (system, object, the new id as SQL over the copied row)
NEW = [
    # Salesforce ids are a 3-character prefix and a zero-padded number: a 'B' in the 4th place is unused.
    ("salesforce", "CampaignMember", "substr(Id, 1, 3) || 'B' || substr(Id, 5)"),
    ("salesforce", "Task", "substr(Id, 1, 3) || 'B' || substr(Id, 5)"),
    ("hubspot", "email_events", "(3000000000000 + id::bigint)::varchar"),
]


@dataclass(frozen=True)
class Delta:
    changed: dict[str, int]
    new: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.changed.values()) + sum(self.new.values())


def _files(raw_dir: Path, system: str, name: str) -> str:
    return f"'{object_dir(raw_dir, raw_object(system, name))}/*.parquet'"


def _sample(share: float, key_sql: str, salt: str, raw: str) -> str:
    """SQL: the rows of `raw` whose key hashes into `share`, and always the one whose key hashes lowest,
    so that a small org's night still has a record of each kind (at 200 people the shares alone
    gave an empty night about one time in twelve)."""
    hashed = f"hash({key_sql}, '{salt}')"
    return (f"({hashed} % 1000000 < {int(share * 1_000_000)} "
            f"or {hashed} = (select min({hashed}) from {raw}))")


def write_nightly_delta(raw_dir: Path, drop_dir: Path, now: datetime | None = None) -> Delta:
    """Drop one night of changed and new records (drawn from what `raw_dir` holds) into `drop_dir`;
    returns the records written per object."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    part = now.strftime("night-%Y%m%dT%H%M%S")
    sf_stamp = now.strftime(SF_STAMP)
    iso_stamp = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    con = connect()
    changed: dict[str, int] = {}
    new: dict[str, int] = {}
    try:
        for system, name, key, edit in CHANGED:
            obj = raw_object(system, name)
            raw = f"read_parquet({_files(raw_dir, system, name)}, union_by_name = true)"
            latest = (f"select * exclude (_loaded_at, _batch_id, _source_file, _source_row) from {raw} "
                      f"where {_sample(CHANGED_SHARE, key, f'changed {now.isoformat()}', raw)} "
                      f"qualify row_number() over (partition by {key} order by _batch_id desc) = 1")
            if system == "salesforce":
                column, value = edit
                replace = f"{value} as {quote_identifier(column)}, '{sf_stamp}' as SystemModstamp"
            else:
                replace = (f"json_merge_patch(properties, json_object('lastmodifieddate', '{iso_stamp}'))::varchar "
                           f"as properties, '{iso_stamp}' as updatedAt")
            relation = con.sql(f"select * replace ({replace}) from ({latest})")
            changed[obj.folder] = write_drop_file(con, drop_dir, obj, relation, part).rows
        for system, name, new_id in NEW:
            obj = raw_object(system, name)
            key = obj.key[0]
            raw = f"read_parquet({_files(raw_dir, system, name)}, union_by_name = true)"
            relation = con.sql(f"select * exclude (_loaded_at, _batch_id, _source_file, _source_row) "
                               f"replace ({new_id} as {key}) from {raw} "
                               f"where {_sample(NEW_DAY_SHARE, key, f'new {now.isoformat()}', raw)}")
            new[obj.folder] = write_drop_file(con, drop_dir, obj, relation, part).rows
    finally:
        con.close()
    return Delta(changed, new)


def raw_row_count(raw_dir: Path) -> int:
    """Rows in every raw Parquet file (from the files' metadata)."""
    con = connect()
    try:
        files = f"'{raw_dir}/*/*/*.parquet'"
        return int(scalar(con, f"select coalesce(sum(num_rows), 0) from parquet_file_metadata({files})") or 0)
    finally:
        con.close()
