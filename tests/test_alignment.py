"""alignment.yml: typed, validated before any data moves, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestration.alignment import Alignment, AlignmentError, definitions_version, load_alignment
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT

DEFAULTS = yaml.safe_load((PROJECT_ROOT / "alignment.yml").read_text())


def write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "alignment.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def with_change(path: tuple[str, ...], value) -> dict:
    document = yaml.safe_load(yaml.safe_dump(DEFAULTS))
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


def test_repository_file_holds_spec_defaults():
    assert load_alignment(PROJECT_ROOT / "alignment.yml") == Alignment()


def test_dbt_project_vars_mirror_the_defaults():
    """dbt_project.yml's vars let dbt run on its own; they must not drift from alignment.yml."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"] == Alignment().dbt_vars()


@pytest.mark.parametrize(
    ("change", "expected_key"),
    [
        ((("mql", "score_treshold"), 50), "mql.score_treshold: unknown key"),
        ((("sla", "response_minutes"), "an hour"), "sla.response_minutes"),
        ((("mql", "score_threshold"), -5), "mql.score_threshold"),
        ((("attribution", "u_shaped"), {"first": 0.5, "last": 0.4, "middle": 0.2}), "attribution.u_shaped"),
        ((("attribution", "w_shaped"), {"first": 0.3, "lead": 0.3, "opportunity": 0.3, "middle": 0.2}),
         "attribution.w_shaped"),
        ((("mql", "points"), {"demo_request": 50, "webinar": 10}), "mql.points"),
        ((("timezone",), "Mars/Olympus"), "timezone"),
        ((("sla", "buckets_minutes"), [60, 5]), "sla.buckets_minutes"),
        ((("targets",), {"mqls": 100, "happiness": 1}), "targets"),
        ((("segments", "smb"), "zero"), "segments.smb"),
    ],
)
def test_malformed_file_names_the_key(tmp_path, change, expected_key):
    path = write(tmp_path, with_change(*change))
    with pytest.raises(AlignmentError) as error:
        load_alignment(path)
    assert str(path) in str(error.value)
    assert expected_key in str(error.value)


def test_weights_summing_to_one_message(tmp_path):
    path = write(tmp_path, with_change(("attribution", "u_shaped"), {"first": 0.5, "last": 0.4, "middle": 0.2}))
    with pytest.raises(AlignmentError, match="sum to 1"):
        load_alignment(path)


def test_unknown_top_level_key(tmp_path):
    document = dict(DEFAULTS, reporting_curency="EUR")
    with pytest.raises(AlignmentError, match="reporting_curency: unknown key"):
        load_alignment(write(tmp_path, document))


def test_custom_values_reach_dbt_vars(tmp_path):
    document = with_change(("mql", "score_threshold"), 70)
    document["targets"] = {"mqls": 120}
    alignment = load_alignment(write(tmp_path, document))
    variables = alignment.dbt_vars()
    assert variables["mql"]["score_threshold"] == 70
    assert variables["targets"] == {"mqls": 120}
    assert variables["response_bucket_labels"] == ["<5m", "5-60m", "1-24h", ">24h"]


def test_bucket_labels_follow_the_bounds():
    assert Alignment.model_validate({"sla": {"buckets_minutes": [15, 120, 2880]}}).sla.bucket_labels == [
        "<15m", "15-120m", "2-48h", ">48h"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(AlignmentError, match="not found"):
        load_alignment(tmp_path / "nope.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("mql: [unclosed")
    with pytest.raises(AlignmentError, match="not valid YAML"):
        load_alignment(broken)


def test_definitions_version_changes_with_the_file(tmp_path):
    path = write(tmp_path, DEFAULTS)
    before = definitions_version(path)
    path.write_text(path.read_text() + "\n# edited\n")
    assert definitions_version(path) != before
