"""Which dbt nodes a nightly build can leave as they are: those that read no changed raw object.

A node's table is a function of its SQL, the vars and the tables it reads. When nothing but raw
batches changed since the last published build (orchestration.build_state), a node none of whose
upstream sources gained or lost a batch would rebuild to the same table, and its tests would pass
or fail as they did: the nightly build excludes them. A night that lands Tasks and email events
then leaves LeadHistory, OpportunityHistory, the seeds and everything reading only those alone.

The published tables are always built (with their tests): the quality gate and the publish
follow them, so every night that builds also gates and publishes. The generic tests of the
published tables (keys and not-null columns, rates, value sets) are left to that gate, which checks
the same rules on the same tables right after every build (expectations/checks.py), and so are
the singular tests of the facts' stage order, weights and totals and of the funnel counts
(GATE_REPEATED_SINGULAR_TESTS). fct_attribution's relationships test and the monthly
reconciliation of mart_attribution_by_channel still run.

A view is left out on such a night whatever it reads: building one writes its definition, not
rows, and with the code and vars unchanged that definition is the one already in the warehouse
(none of the project's views runs a query while compiling). Its tests and the tables built
from it still follow the raw objects it reads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

BUILT_RESOURCE_TYPES = ("model", "seed", "snapshot", "test")
GATE_REPEATS = ("key_and_not_null", "columns_are_rates", "accepted_values")  # generic tests the gate repeats
# Singular tests every rule of which the gate checks too (its stage order, weights, totals,
# opportunity coverage and funnel count checks; tests/test_gate.py breaks each rule)
GATE_REPEATED_SINGULAR_TESTS = ("assert_funnel_stage_order", "assert_attribution_weights_between_0_and_1",
                                "assert_attribution_weights_sum_to_1", "assert_attribution_totals_reconcile",
                                "assert_mart_funnel_counts_never_increase")


def source_raw_object(source: Mapping[str, Any]) -> str:
    """The raw folder a dbt source reads (`<warehouse>/raw/<source_name>/<identifier>/`)."""
    return f"{source['source_name']}/{source['identifier']}"


def unchanged_nodes(manifest: Mapping[str, Any], unchanged_raw: Collection[str],
                    always_built: Collection[str] = ()) -> list[str]:
    """Names of the manifest's models, seeds, snapshots and tests that read no changed raw object.

    `unchanged_raw`: raw objects (`salesforce/Lead`) whose batches did not change; every other
    source counts as changed, and so does any input the manifest does not describe. Views are
    listed too (see the module's docstring).
    `always_built`: model names built regardless (the published tables), with their tests.
    """
    sources = {unique_id: source_raw_object(source) for unique_id, source in manifest["sources"].items()}
    nodes = {unique_id: node for unique_id, node in manifest["nodes"].items()
             if node["resource_type"] in BUILT_RESOURCE_TYPES}
    forced = {unique_id for unique_id, node in nodes.items()
              if node["resource_type"] == "model" and node["name"] in always_built}

    def parents(unique_id: str) -> list[str]:
        return nodes[unique_id].get("depends_on", {}).get("nodes", [])  # a seed has none

    @cache
    def reads_changed(unique_id: str) -> bool:
        if unique_id in sources:
            return sources[unique_id] not in unchanged_raw
        if unique_id not in nodes:
            return True
        return any(reads_changed(parent) for parent in parents(unique_id))

    def is_view(unique_id: str) -> bool:
        return nodes[unique_id].get("config", {}).get("materialized") == "view"

    def rebuilt(unique_id: str) -> bool:
        tests_a_forced_model = nodes[unique_id]["resource_type"] == "test" and any(
            parent in forced for parent in parents(unique_id))
        return unique_id in forced or tests_a_forced_model or (reads_changed(unique_id) and not is_view(unique_id))

    return sorted(node["name"] for unique_id, node in nodes.items() if not rebuilt(unique_id))


def gate_repeated_tests(manifest: Mapping[str, Any], gated: Collection[str]) -> list[str]:
    """Names of the GATE_REPEATS tests of exactly one of the `gated` tables (model names), and of
    the manifest's GATE_REPEATED_SINGULAR_TESTS."""
    models = {unique_id: node["name"] for unique_id, node in manifest["nodes"].items()
              if node["resource_type"] == "model"}
    left = [node["name"] for node in manifest["nodes"].values()
            if node["resource_type"] == "test" and node["name"] in GATE_REPEATED_SINGULAR_TESTS]
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or (node.get("test_metadata") or {}).get("name") not in GATE_REPEATS:
            continue
        parents = node.get("depends_on", {}).get("nodes", [])
        if len(parents) == 1 and models.get(parents[0]) in gated:
            left.append(node["name"])
    return sorted(left)
