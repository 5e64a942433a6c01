"""The metric marts on demo data: the real dbt project built once for the module, then every
mart checked against SPEC 4.1's guarantees and against the fact tables it summarises.

Unit tests in dbt_project/models/marts/_marts__models.yml check each formula on hand-computed
rows; these tests check that, on a realistic warehouse, the marts are filled, their rates are
shares and their totals reconcile with fct_lead_funnel, fct_attribution and the opportunities.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from orchestration.alignment import Alignment
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows, scalar
from orchestration.landing import ensure_every_object_has_a_schema
from orchestration.settings import Settings
from orchestration.sources import SYSTEMS, extractor_for

MARTS = (
    "mart_funnel_conversion",
    "mart_speed_to_lead",
    "mart_pipeline_velocity",
    "mart_attribution_by_channel",
    "mart_campaign_roi",
    "mart_lead_quality",
    "mart_content_by_stage",
    "mart_discount_friction",
    "mart_alignment_scorecard",
)
MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")
RATE_PREFIXES = ("win_rate", "mql_to_sql_rate_")
RATE_COLUMNS = {
    "lead_to_mql", "mql_to_sal", "sal_to_sql", "sql_to_opportunity", "opportunity_to_won", "sla_met_rate",
    "definition_agreement_rate", "sal_rate", "mql_to_opportunity_rate", "marketing_sourced_pipeline_share",
    "influenced_revenue_share",
}
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(warehouse_dir=Path(tmp_path_factory.mktemp("marts_warehouse")), demo_people=1500)
    alignment = Alignment()
    extractor_for("demo")(settings, alignment, SYSTEMS)
    ensure_every_object_has_a_schema(connect(), settings.raw_dir, "demo")
    # models first (a failing test elsewhere must not hide the marts), then the marts' own tests
    run_dbt(settings, alignment, "seed")
    run_dbt(settings, alignment, "run")
    run_dbt(settings, alignment, "test", "--select", "mart_*", "path:models/intermediate/marts_support")
    return settings


@pytest.fixture(scope="module")
def warehouse(built: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(built.warehouse_path, read_only=True)
    yield con
    con.close()


def test_dbt_tests_fail_on_a_rate_above_1_a_repeated_grain_and_a_null(built: Settings, tmp_path: Path) -> None:
    """The marts' generic tests catch bad rows: columns_are_rates a rate above 1, key_and_not_null a
    repeated key (mart_alignment_scorecard) and, on another mart, a null in a required column."""
    broken = Settings(warehouse_dir=tmp_path / "warehouse")
    broken.warehouse_dir.mkdir()
    shutil.copy(built.warehouse_path, broken.warehouse_path)
    con = connect(broken.warehouse_path)
    # mql_to_sql_rate_no_response is found by its prefix, not named in the yml
    con.execute("update marts.mart_speed_to_lead set mql_to_sql_rate_no_response = 1.5 "
                "where week = (select min(week) from marts.mart_speed_to_lead)")
    con.execute("insert into marts.mart_alignment_scorecard select * from marts.mart_alignment_scorecard limit 1")
    # the second required column of mart_speed_to_lead, not part of its key: one scan checks both rules
    con.execute("update marts.mart_speed_to_lead set mqls = null "
                "where week = (select max(week) from marts.mart_speed_to_lead)")
    con.close()
    result = run_dbt(broken, Alignment(), "test", "--select", "mart_speed_to_lead", "mart_alignment_scorecard",
                     "mart_pipeline_velocity", check=False)
    run_results = json.loads((broken.warehouse_dir / "dbt_target" / "run_results.json").read_text())
    failed = {node["unique_id"].split(".")[2] for node in run_results["results"] if node["status"] == "fail"}
    assert result.returncode != 0
    assert any(name.startswith("columns_are_rates_mart_speed_to_lead") for name in failed), failed
    assert any(name.startswith("key_and_not_null_mart_alignment_scorecard") for name in failed), failed
    assert any(name.startswith("key_and_not_null_mart_speed_to_lead") for name in failed), failed
    assert not any("mart_pipeline_velocity" in name for name in failed), failed


def _rate_columns(con: duckdb.DuckDBPyConnection, mart: str) -> list[str]:
    columns = [name for (name,) in rows(con, "select column_name from information_schema.columns "
                                             "where table_schema = 'marts' and table_name = ?", [mart])]
    return [c for c in columns if c in RATE_COLUMNS or c.startswith(RATE_PREFIXES)]


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_has_rows(warehouse: duckdb.DuckDBPyConnection, mart: str) -> None:
    assert scalar(warehouse, f"select count(*) from marts.{mart}") > 0


@pytest.mark.parametrize("mart", MARTS)
def test_rates_are_shares(warehouse: duckdb.DuckDBPyConnection, mart: str) -> None:
    columns = _rate_columns(warehouse, mart)
    assert columns or mart in ("mart_attribution_by_channel", "mart_campaign_roi")
    for column in columns:
        low, high = rows(warehouse, f"select min({column}), max({column}) from marts.{mart}")[0]
        assert low is None or low >= 0, (mart, column, low)
        assert high is None or high <= 1, (mart, column, high)


def test_funnel_counts_never_increase_where_spec_guarantees_it(warehouse: duckdb.DuckDBPyConnection) -> None:
    bad = rows(warehouse, """
        select * from marts.mart_funnel_conversion
        where mqls > leads or sals > mqls or sqls > leads or opportunities > sqls or won > opportunities
    """)
    assert bad == []
    assert scalar(warehouse, "select sum(mqls) from marts.mart_funnel_conversion") > 0


def test_funnel_people_match_the_lead_funnel(warehouse: duckdb.DuckDBPyConnection) -> None:
    mart = rows(warehouse, "select sum(leads), sum(mqls), sum(sals), sum(sqls), sum(opportunities), sum(won) "
                           "from marts.mart_funnel_conversion")[0]
    fact = rows(warehouse, """
        select count(*), count(mql_at), count(sal_at), count(sql_at), count(opportunity_at), count(won_at)
        from marts.fct_lead_funnel where lead_at is not null
    """)[0]
    assert mart == fact


def test_funnel_won_revenue_counts_each_won_opportunity_once(warehouse: duckdb.DuckDBPyConnection) -> None:
    expected = scalar(warehouse, """
        select coalesce(sum(amount_reporting), 0) from intermediate.int_opportunities
        where is_won and opportunity_id in (
            select opportunity_people.opportunity_id
            from intermediate.int_opportunity_people as opportunity_people
            inner join marts.fct_lead_funnel as lead_funnel on opportunity_people.person_id = lead_funnel.person_id
            where lead_funnel.lead_at is not null)
    """)
    published = scalar(warehouse, "select sum(won_revenue) from marts.mart_funnel_conversion")
    assert published == pytest.approx(expected, rel=TOLERANCE, abs=TOLERANCE)


@pytest.mark.parametrize("model", MODELS)
def test_attribution_by_channel_reconciles_with_pipeline_and_revenue(warehouse: duckdb.DuckDBPyConnection,
                                                                      model: str) -> None:
    pipeline, revenue, opportunities = rows(warehouse, """
        select sum(amount), sum(case when is_won then amount else 0 end), count(*)
        from (select distinct opportunity_id, amount, is_won from marts.fct_attribution)
    """)[0]
    published = rows(warehouse, "select sum(attributed_pipeline), sum(attributed_revenue) "
                                "from marts.mart_attribution_by_channel where model = ?", [model])[0]
    assert published[0] == pytest.approx(pipeline, rel=TOLERANCE)
    assert published[1] == pytest.approx(revenue, rel=TOLERANCE)
    assert opportunities == scalar(warehouse, "select count(*) from intermediate.int_opportunities")


def test_attribution_by_channel_counts_rows_with_weight(warehouse: duckdb.DuckDBPyConnection) -> None:
    for model in MODELS:
        touches = scalar(warehouse, f"select count(*) from marts.fct_attribution where weight_{model} > 0")
        published = scalar(warehouse, "select sum(touches) from marts.mart_attribution_by_channel where model = ?",
                           [model])
        assert published == touches


def test_speed_to_lead_buckets_partition_the_mqls(warehouse: duckdb.DuckDBPyConnection) -> None:
    labels = Alignment().sla.bucket_labels + ["no_response"]
    slugs = [label.replace("<", "under_").replace(">", "over_").replace("-", "_") for label in labels]
    total, in_buckets, responded = rows(warehouse, f"""
        select sum(mqls), sum({' + '.join('mqls_' + slug for slug in slugs)}), sum(responded)
        from marts.mart_speed_to_lead
    """)[0]
    assert total == scalar(warehouse, "select count(mql_at) from marts.fct_lead_funnel")
    assert in_buckets == total
    assert responded == total - scalar(warehouse, "select sum(mqls_no_response) from marts.mart_speed_to_lead")


def test_pipeline_velocity_covers_every_opportunity(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert scalar(warehouse, "select sum(opportunities) from marts.mart_pipeline_velocity") == scalar(
        warehouse, "select count(*) from intermediate.int_opportunities")
    segments = {s for (s,) in rows(warehouse, "select distinct segment from marts.mart_pipeline_velocity")}
    assert segments <= {*Alignment().segments, "unknown"}
    bad = rows(warehouse, """
        select * from marts.mart_pipeline_velocity
        where velocity_per_day is not null
          and abs(velocity_per_day - opportunities * win_rate * avg_won_amount / avg_cycle_days)
              > 1e-6 * abs(velocity_per_day)
    """)
    assert bad == []


def test_campaign_roi_has_every_campaign_and_model(warehouse: duckdb.DuckDBPyConnection) -> None:
    campaigns = scalar(warehouse, "select count(*) from staging.stg_salesforce__campaigns "
                                  "where not coalesce(is_deleted, false)")
    assert scalar(warehouse, "select count(*) from marts.mart_campaign_roi") == campaigns * len(MODELS)
    for model in MODELS:
        attributed = scalar(warehouse, f"select coalesce(sum(weight_{model} * amount), 0) from marts.fct_attribution "
                                       "where campaign_id in (select campaign_id from marts.mart_campaign_roi)")
        published = scalar(warehouse, "select sum(attributed_pipeline) from marts.mart_campaign_roi where model = ?",
                           [model])
        assert published == pytest.approx(attributed, rel=TOLERANCE, abs=TOLERANCE)
    bad = rows(warehouse, """
        select * from marts.mart_campaign_roi
        where (cost = 0 and roi is not null) or (people = 0 and cost_per_lead is not null)
           or (mqls_first_touch = 0 and cost_per_mql is not null)
           or (won_weight = 0 and cost_per_won is not null)
    """)
    assert bad == []


def test_lead_quality_matches_the_lead_funnel(warehouse: duckdb.DuckDBPyConnection) -> None:
    published = rows(warehouse, "select sum(leads), sum(mqls), sum(accepted), sum(disqualified) "
                                "from marts.mart_lead_quality")[0]
    fact = rows(warehouse, "select count(*), count(mql_at), count(sal_at), count(disqualified_at) "
                           "from marts.fct_lead_funnel where lead_at is not null")[0]
    assert published == fact


def test_content_by_stage_only_holds_content_campaign_touches(warehouse: duckdb.DuckDBPyConnection) -> None:
    touches = scalar(warehouse, """
        select count(*) from intermediate.int_touchpoints
        where channel = 'content' and campaign_id is not null
    """)
    assert scalar(warehouse, "select sum(touches) from marts.mart_content_by_stage") == touches


def test_discount_friction_counts_closed_deals_with_line_items(warehouse: duckdb.DuckDBPyConnection) -> None:
    deals = scalar(warehouse, """
        select count(*) from intermediate.int_opportunities
        where is_closed and opportunity_id in (
            select opportunity_id from staging.stg_salesforce__opportunity_line_items
            where not coalesce(is_deleted, false))
    """)
    assert scalar(warehouse, "select sum(deals) from marts.mart_discount_friction") == deals


def test_scorecard_matches_the_facts(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert scalar(warehouse, "select sum(mqls) from marts.mart_alignment_scorecard") == scalar(
        warehouse, "select count(mql_at) from marts.fct_lead_funnel")
    assert scalar(warehouse, "select sum(won) from marts.mart_alignment_scorecard") == scalar(
        warehouse, "select count(*) from intermediate.int_opportunities where is_won")
    assert scalar(warehouse, "select sum(opportunities_created) from marts.mart_alignment_scorecard") == scalar(
        warehouse, "select count(*) from intermediate.int_opportunities")
