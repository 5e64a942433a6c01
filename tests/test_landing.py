"""Raw landing: append-only Parquet batches, every registered field present, extras kept."""

from __future__ import annotations

from orchestration.duck import connect, rows, scalar
from orchestration.landing import ensure_every_object_has_a_schema, land_batch, new_batch_id
from orchestration.raw_schema import RAW_OBJECTS, raw_object


def test_batch_holds_registered_fields_extras_and_lineage(tmp_path):
    con = connect()
    lead = raw_object("salesforce", "Lead")
    relation = con.sql("select 'L1' as id, 'a@x.com' as Email, 7 as Score__c, 'Lead.csv' as _source_file, "
                       "2 as _source_row")
    batch = land_batch(con, tmp_path, lead, relation, new_batch_id("test"))
    assert batch.rows == 1 and batch.path.parent == tmp_path / "salesforce" / "Lead"
    columns = [row[0] for row in rows(con, f"describe select * from '{batch.path}'")]
    assert columns[: len(lead.fields)] == list(lead.fields)  # registry spelling, case-insensitive match
    assert {"Score__c", "_loaded_at", "_batch_id", "_source_file", "_source_row"} <= set(columns)
    assert rows(con, f"select Id, Email, Score__c, Company, _source_row from '{batch.path}'") == [
        ("L1", "a@x.com", "7", None, 2)]


def test_batches_append_and_sort_in_landing_order(tmp_path):
    con = connect()
    lead = raw_object("salesforce", "Lead")
    first = land_batch(con, tmp_path, lead, con.sql("select 'L1' as Id"), new_batch_id("test"))
    second = land_batch(con, tmp_path, lead, con.sql("select 'L1' as Id"), new_batch_id("test"))
    assert first.path != second.path and first.path.exists() and second.path.exists()
    assert first.batch_id < second.batch_id
    assert scalar(con, f"select count(*) from read_parquet('{tmp_path}/salesforce/Lead/*.parquet')") == 2
    assert not list((tmp_path / "salesforce" / "Lead").glob(".*partial"))


def test_empty_relation_lands_nothing_but_schema_files_cover_every_object(tmp_path):
    con = connect()
    lead = raw_object("salesforce", "Lead")
    empty = land_batch(con, tmp_path, lead, con.sql("select 'x' as Id where false"), new_batch_id("test"))
    assert empty.path is None and empty.rows == 0
    ensure_every_object_has_a_schema(con, tmp_path, "test")
    for obj in RAW_OBJECTS:
        files = list((tmp_path / obj.system / obj.name).glob("*.parquet"))
        assert len(files) == 1, obj.folder
        described = [row[0] for row in rows(con, f"describe select * from '{files[0]}'")]
        assert set(obj.fields) <= set(described)
