"""The Dagster UI's server: it loads the code location, shows the lineage graph and runs a launched job.

Starts `dagster-webserver` on a free local port with workspace.yaml and a temporary DAGSTER_HOME,
asks its GraphQL API for the asset graph, launches the extract step of the nightly job the way
the UI's Materialize button does, and reads the run's status and materializations back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from orchestration.settings import PROJECT_ROOT

WEBSERVER = Path(sys.executable).parent / "dagster-webserver"
START_TIMEOUT_S = 90
RUN_TIMEOUT_S = 90

ASSET_NODES = """
{ assetNodes {
    assetKey { path }
    groupName
    kinds
    description
    owners { ... on TeamAssetOwner { team } }
    dependencyKeys { path }
} }
"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""

RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status assetMaterializations { assetKey { path } } }
  }
}
"""

RUNS = """
{ runsOrError { ... on Runs { results { runId status jobName } } } }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    # Launch runs at once: `dagster dev` (make ui) queues them for its daemon, which this test does not start.
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "CLOSEDLOOP_WAREHOUSE_DIR": str(root / "warehouse"),
           "CLOSEDLOOP_SOURCE": "demo", "CLOSEDLOOP_DEMO_PEOPLE": "40", "DAGSTER_TELEMETRY_DISABLED": "1"}
    env.pop("CLOSEDLOOP_ALERT_WEBHOOK_URL", None)
    log = (root / "webserver.log").open("w")
    server = subprocess.Popen(
        [str(WEBSERVER), "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, f"dagster-webserver exited:\n{(root / 'webserver.log').read_text()[-3000:]}"
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok and graphql(url, ASSET_NODES)[
                        "assetNodes"]:
                    break
            except (requests.ConnectionError, requests.Timeout, KeyError, AssertionError):
                pass
            assert time.monotonic() < deadline, f"no answer in {START_TIMEOUT_S}s:\n" \
                f"{(root / 'webserver.log').read_text()[-3000:]}"
            time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the code server / run it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def test_ui_shows_the_lineage_graph(webserver):
    nodes = {"/".join(node["assetKey"]["path"]): node for node in graphql(webserver, ASSET_NODES)["assetNodes"]}
    lead, contacts = nodes["salesforce/lead"], nodes["hubspot/contacts"]
    assert lead["groupName"] == "extract" and {"salesforce", "parquet"} <= set(lead["kinds"])
    assert contacts["groupName"] == "extract" and "hubspot" in contacts["kinds"]
    staging = nodes["staging/stg_salesforce__leads"]
    assert staging["groupName"] == "staging" and {"path": ["salesforce", "lead"]} in staging["dependencyKeys"]
    funnel = nodes["marts/fct_lead_funnel"]
    assert funnel["groupName"] == "marts" and {"dbt", "duckdb"} <= set(funnel["kinds"])
    assert funnel["owners"] == [{"team": "data-engineering"}] and funnel["description"]
    published = nodes["published_warehouse"]
    assert published["groupName"] == "publish"
    assert {"path": ["marts", "fct_attribution"]} in published["dependencyKeys"]
    assert {node["groupName"] for node in nodes.values()} >= {"extract", "staging", "intermediate", "marts",
                                                              "publish"}


def test_a_launched_run_succeeds_and_is_listed(webserver):
    nodes = graphql(webserver, ASSET_NODES)["assetNodes"]
    extract_keys = [{"path": node["assetKey"]["path"]} for node in nodes if node["groupName"] == "extract"]
    params = {
        "selector": {"repositoryLocationName": "closedloop", "repositoryName": "__repository__",
                     "pipelineName": "nightly", "assetSelection": extract_keys},
        "runConfigData": {},
        "mode": "default",
    }
    launched = graphql(webserver, LAUNCH, {"params": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        run = graphql(webserver, RUN, {"runId": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']} after {RUN_TIMEOUT_S}s"
        time.sleep(1)
    assert run["status"] == "SUCCESS"
    materialized = {"/".join(event["assetKey"]["path"]) for event in run["assetMaterializations"]}
    assert {"salesforce/lead", "hubspot/contacts", "quarantine/records"} <= materialized
    runs = graphql(webserver, RUNS)["runsOrError"]["results"]
    assert {"runId": run_id, "status": "SUCCESS", "jobName": "nightly"} in runs
