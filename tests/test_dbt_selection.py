"""orchestration.dbt_selection: the dbt nodes a nightly build leaves out read no changed raw object."""

from __future__ import annotations

import json

from expectations.checks import ATTRIBUTION_MODELS, CONTENT_STAGES, GRAINS, is_rate_column
from orchestration.assets.dbt import MANIFEST_PATH
from orchestration.dbt_selection import GATE_REPEATED_SINGULAR_TESTS, gate_repeated_tests, unchanged_nodes
from orchestration.publish import DATA_TABLES, PUBLISHED_TABLES

# the staging models' key tests, by dbt's generated names
LEADS_KEY_TEST = "key_and_not_null_stg_salesforce__leads_batches__lead_id__lead_id__is_deleted"
TASKS_KEY_TEST = "key_and_not_null_stg_salesforce__tasks_task_id__task_id__is_deleted"


def _source(system: str, name: str, identifier: str) -> tuple[str, dict]:
    return f"source.p.{system}.{name}", {"source_name": system, "name": name, "identifier": identifier}


def _node(kind: str, name: str, *parents: str) -> tuple[str, dict]:
    return f"{kind}.p.{name}", {"resource_type": kind, "name": name, "depends_on": {"nodes": list(parents)}}


MANIFEST = {
    "sources": dict([_source("salesforce", "task", "Task"), _source("salesforce", "leadhistory", "LeadHistory")]),
    "nodes": dict([
        _node("model", "stg_tasks", "source.p.salesforce.task"),
        _node("model", "stg_history", "source.p.salesforce.leadhistory"),
        _node("test", "unique_stg_history_id", "model.p.stg_history"),
        ("seed.p.channels", {"resource_type": "seed", "name": "channels", "depends_on": {"macros": []}}),
        _node("model", "int_history", "model.p.stg_history", "seed.p.channels"),
        _node("model", "int_both", "model.p.stg_tasks", "model.p.int_history"),
        _node("test", "relationships_int_both_history", "model.p.int_both", "model.p.int_history"),
        _node("model", "mart_history", "model.p.int_history"),
        _node("test", "not_null_mart_history", "model.p.mart_history"),
        _node("model", "int_unknown_input", "model.p.not_in_the_manifest"),
        _node("analysis", "an_analysis", "model.p.stg_history"),
        ("model.p.int_tasks_view", {"resource_type": "model", "name": "int_tasks_view",
                                    "config": {"materialized": "view"},
                                    "depends_on": {"nodes": ["model.p.stg_tasks"]}}),
        _node("test", "not_null_int_tasks_view", "model.p.int_tasks_view"),
        _node("model", "int_from_the_view", "model.p.int_tasks_view"),
    ]),
}
ONLY_TASKS_CHANGED = {"salesforce/LeadHistory"}


def test_nodes_reading_only_unchanged_raw_objects_are_left_out():
    assert unchanged_nodes(MANIFEST, ONLY_TASKS_CHANGED) == [
        "channels", "int_history", "int_tasks_view", "mart_history", "not_null_mart_history", "stg_history",
        "unique_stg_history_id"]


def test_a_node_reading_any_changed_object_is_built_with_its_tests():
    left_out = set(unchanged_nodes(MANIFEST, ONLY_TASKS_CHANGED))
    assert not {"stg_tasks", "int_both", "relationships_int_both_history"} & left_out


def test_a_view_is_left_out_though_it_reads_a_changed_object_but_its_tests_and_tables_are_built():
    left_out = set(unchanged_nodes(MANIFEST, ONLY_TASKS_CHANGED))
    assert "int_tasks_view" in left_out
    assert not {"not_null_int_tasks_view", "int_from_the_view"} & left_out


def test_the_published_tables_and_their_tests_are_always_built():
    left_out = unchanged_nodes(MANIFEST, ONLY_TASKS_CHANGED, always_built={"mart_history"})
    assert "mart_history" not in left_out and "not_null_mart_history" not in left_out
    assert "int_history" in left_out  # what it reads stays as the last build left it


def test_an_input_the_manifest_does_not_describe_counts_as_changed():
    everything_unchanged = {"salesforce/Task", "salesforce/LeadHistory"}
    assert "int_unknown_input" not in unchanged_nodes(MANIFEST, everything_unchanged)
    assert "int_both" in unchanged_nodes(MANIFEST, everything_unchanged)
    assert "stg_history" not in unchanged_nodes(MANIFEST, set())  # no object known unchanged: all built


def test_on_the_project_a_night_of_tasks_leaves_out_what_reads_no_tasks():
    manifest = json.loads(MANIFEST_PATH.read_text())
    raw_objects = {f"{s['source_name']}/{s['identifier']}" for s in manifest["sources"].values()}
    assert "salesforce/Task" in raw_objects and "salesforce/LeadHistory" in raw_objects
    left_out = set(unchanged_nodes(manifest, raw_objects - {"salesforce/Task"}, always_built=PUBLISHED_TABLES))
    assert {"stg_salesforce__leads", "stg_salesforce__lead_history", LEADS_KEY_TEST,
            "utm_medium_channels"} <= left_out
    assert not {"stg_salesforce__tasks", TASKS_KEY_TEST, "int_funnel__sales_activities",
                "fct_lead_funnel"} & left_out
    assert not set(PUBLISHED_TABLES) & left_out


def test_on_the_project_a_night_of_email_events_leaves_out_the_view_of_email_touches_only():
    manifest = json.loads(MANIFEST_PATH.read_text())
    raw_objects = {f"{s['source_name']}/{s['identifier']}" for s in manifest["sources"].values()}
    left_out = set(unchanged_nodes(manifest, raw_objects - {"hubspot/email_events"}, always_built=PUBLISHED_TABLES))
    views = {node["name"] for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node["config"]["materialized"] == "view"}
    assert "int_touchpoints__hubspot_email_events" in views
    assert views <= left_out
    assert not {"stg_hubspot__email_events", "int_touchpoints", "fct_attribution"} & left_out


def test_the_gate_checks_every_rule_of_the_generic_tests_the_nightly_build_leaves_to_it():
    manifest = json.loads(MANIFEST_PATH.read_text())
    left = set(gate_repeated_tests(manifest, DATA_TABLES)) - set(GATE_REPEATED_SINGULAR_TESTS)
    tests = [node for node in manifest["nodes"].values() if node["name"] in left]
    # a key test per published table, seven rate tests, three value sets
    assert len(tests) == len(left) == 21
    for test in tests:
        kind, arguments = test["test_metadata"]["name"], test["test_metadata"]["kwargs"]
        mart = manifest["nodes"][test["depends_on"]["nodes"][0]]["name"]
        keys, not_null = GRAINS[mart]
        if kind == "key_and_not_null":
            assert set(arguments["key"]) == set(keys), test["name"]
            assert set(arguments.get("not_null", [])) <= set(not_null), test["name"]
        elif kind == "columns_are_rates":
            named = [*arguments.get("columns", []), *(f"{prefix}5-60m" for prefix in arguments.get("prefixes", []))]
            assert named and all(is_rate_column(column) for column in named), test["name"]
        else:  # accepted_values: the gate's value sets on the key columns model and stage
            column, values = arguments["column_name"], set(arguments["values"])
            assert column in keys, test["name"]
            assert values == {"model": set(ATTRIBUTION_MODELS), "stage": set(CONTENT_STAGES)}[column], test["name"]
    # a test between two tables is the gate's only where it says so: fct_attribution's
    # relationships test still runs in the nightly build
    assert {name for name in left if name.startswith("key_and_not_null_fct_")} and not any(
        name.startswith("relationships_") for name in left)


def test_the_singular_tests_left_to_the_gate_are_the_projects():
    manifest = json.loads(MANIFEST_PATH.read_text())
    singular = {node["name"] for node in manifest["nodes"].values()
                if node["resource_type"] == "test" and "test_metadata" not in node}
    left = set(gate_repeated_tests(manifest, []))
    # a renamed test would quietly run again in every nightly build: the names must still match
    assert left == set(GATE_REPEATED_SINGULAR_TESTS) and left <= singular
    # the monthly reconciliation of attribution by channel still runs
    assert "assert_mart_attribution_by_channel_reconciles" in singular - left


def test_only_single_mart_generic_tests_are_left_to_the_gate():
    manifest = {"nodes": dict([
        _node("model", "mart_a"), _node("model", "fct_b"),
        ("test.p.key_a", {"resource_type": "test", "name": "key_a", "test_metadata": {"name": "key_and_not_null"},
                          "depends_on": {"nodes": ["model.p.mart_a"]}}),
        ("test.p.key_b", {"resource_type": "test", "name": "key_b", "test_metadata": {"name": "key_and_not_null"},
                          "depends_on": {"nodes": ["model.p.fct_b"]}}),
        ("test.p.rel_ab", {"resource_type": "test", "name": "rel_ab", "test_metadata": {"name": "relationships"},
                           "depends_on": {"nodes": ["model.p.mart_a"]}}),
        _node("test", "assert_a_singular", "model.p.mart_a"),
    ])}
    assert gate_repeated_tests(manifest, ["mart_a"]) == ["key_a"]
