"""The quality gate on real DuckDB files and real Great Expectations.

A small, valid warehouse passes; each family of expectations is then broken on purpose and
the specific check must fail with its failing examples.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from expectations import GateResult, run_gate
from expectations.checks import STAGE_RULES, is_rate_column, mql_people_sql, mql_rule_version
from orchestration.alignment import Alignment
from orchestration.publish import GateVerdict

ALIGNMENT = Alignment()

VALID_WAREHOUSE = """
create schema marts;
create schema intermediate;

create table intermediate.int_touchpoints as
select touchpoint_id, person_id, cast(touched_at as timestamp) as touched_at, touch_type, channel, campaign_id,
       cast(points as double) as points
from (values
    ('hs_visit:1',   'p1', '2024-01-01 10:00:00', 'page_visit',       'organic_search', null,  1),
    ('hs_form:d1',   'p1', '2024-01-02 10:00:00', 'demo_request',     'paid_search',    null, 50),
    ('hs_email:9',   'p2', '2024-01-03 08:00:00', 'email_click',      'email',          'c1',  5),
    ('hs_form:d3',   'p3', '2024-01-04 08:00:00', 'demo_request',     'paid_search',    null, 50),
    ('hs_form:b',    'p4', '2024-01-05 09:00:00', 'form_submission',  'paid_social',    null, 20),
    ('hs_form:a',    'p4', '2024-01-05 09:00:00', 'demo_request',     'paid_social',    null, 50),
    ('sf_cm:1',      'p5', '2024-01-06 09:00:00', 'content_download', 'content',        'c2', 10),
    ('sf_cm:2',      'p5', '2024-01-07 09:00:00', 'content_download', 'content',        'c2', 10),
    ('sf_cm:3',      'p5', '2024-01-08 09:00:00', 'webinar_attended', 'webinar',        'c3', 15),
    ('sf_cm:4',      'p5', '2024-01-09 09:00:00', 'email_open',       'email',          'c1',  0),
    ('sf_cm:5',      'p5', '2024-01-10 09:00:00', 'webinar_attended', 'webinar',        'c3', 15),
    ('sf_cm:6',      'p5', '2024-01-11 09:00:00', 'content_download', 'content',        'c2', 10)
) as t(touchpoint_id, person_id, touched_at, touch_type, channel, campaign_id, points);

create table intermediate.int_opportunities as
select opportunity_id, cast(amount_reporting as double) as amount_reporting, is_won, is_lost,
       cast(created_at as timestamp) as created_at, cast(close_at as timestamp) as close_at
from (values
    ('o1', 1000.0, true,  false, '2024-01-05 00:00:00', '2024-02-01 00:00:00'),
    ('o2',  500.0, false, true,  '2024-01-06 00:00:00', '2024-03-01 00:00:00'),
    ('o3',   null, true,  false, '2024-01-07 00:00:00', '2024-03-02 00:00:00')
) as t(opportunity_id, amount_reporting, is_won, is_lost, created_at, close_at);

create table marts.fct_lead_funnel as
select person_id, account_id,
       cast(lead_at as timestamp) as lead_at, cast(mql_at as timestamp) as mql_at,
       cast(first_response_at as timestamp) as first_response_at, cast(sal_at as timestamp) as sal_at,
       cast(sql_at as timestamp) as sql_at, cast(opportunity_at as timestamp) as opportunity_at,
       cast(won_at as timestamp) as won_at, cast(lost_at as timestamp) as lost_at,
       cast(null as timestamp) as disqualified_at, cast(null as varchar) as disqualification_reason,
       cast(0 as bigint) as recycled_count, first_channel, lead_source, owner_id, is_fit,
       cast(score as double) as score, cast(response_minutes as double) as response_minutes, response_bucket,
       sla_met, is_marketing_sourced, opportunity_id, cast(won_amount as double) as won_amount, mql_touchpoint_id
from (values
    ('p1', 'a1', '2024-01-01 10:00:00', '2024-01-02 10:00:00', '2024-01-02 10:30:00', '2024-01-02 10:30:00',
     '2024-01-05 00:00:00', '2024-01-05 00:00:00', '2024-02-01 00:00:00', null,
     'organic_search', null, 'u1', true, 51, 30, '5-60m', true, true, 'o1', 1000, 'hs_form:d1'),
    ('p2', null, '2024-01-03 08:00:00', null, null, null, null, null, null, null,
     'email', null, 'u1', true, 5, null, null, null, true, null, null, null),
    ('p3', null, '2024-01-04 08:00:00', null, null, null, null, null, null, null,
     'paid_search', null, 'u2', false, 50, null, null, null, true, null, null, null),
    ('p4', 'a2', '2024-01-05 09:00:00', '2024-01-05 09:00:00', null, null,
     '2024-01-06 00:00:00', '2024-01-06 00:00:00', null, '2024-03-01 00:00:00',
     'paid_social', 'Web', 'u2', true, 70, null, 'no_response', false, true, 'o2', null, 'hs_form:a'),
    ('p5', null, '2024-01-06 09:00:00', '2024-01-10 09:00:00', '2024-01-10 10:00:00', '2024-01-10 10:00:00',
     null, null, null, null, 'content', null, 'u1', true, 60, 60, '5-60m', true, true, null, null, 'sf_cm:5'),
    ('p6', 'a3', '2024-01-07 00:00:00', null, null, null,
     '2024-01-07 00:00:00', '2024-01-07 00:00:00', '2024-03-02 00:00:00', null,
     'no_touch', 'Outbound', 'u2', true, 0, null, null, null, false, 'o3', 0, null)
) as t(person_id, account_id, lead_at, mql_at, first_response_at, sal_at, sql_at, opportunity_at, won_at, lost_at,
       first_channel, lead_source, owner_id, is_fit, score, response_minutes, response_bucket, sla_met,
       is_marketing_sourced, opportunity_id, won_amount, mql_touchpoint_id);

create table marts.fct_attribution as
select opportunity_id || '|' || coalesce(touchpoint_id, 'unattributed') as attribution_id,
       opportunity_id, touchpoint_id, person_id, campaign_id, channel, touch_type,
       cast(touched_at as timestamp) as touched_at, position, touch_count,
       cast(weight_first_touch as double) as weight_first_touch, cast(weight_last_touch as double) as weight_last_touch,
       cast(weight_linear as double) as weight_linear, cast(weight_u_shaped as double) as weight_u_shaped,
       cast(weight_w_shaped as double) as weight_w_shaped, cast(weight_time_decay as double) as weight_time_decay,
       cast(amount as double) as amount, is_won, is_lost
from (values
    ('o1', 'hs_visit:1', 'p1', null, 'organic_search', 'page_visit', '2024-01-01 10:00:00', 1, 2,
     1.0, 0.0, 0.5, 0.5, 1.0 / 3, 0.4, 1000.0, true, false),
    ('o1', 'hs_form:d1', 'p1', null, 'paid_search', 'demo_request', '2024-01-02 10:00:00', 2, 2,
     0.0, 1.0, 0.5, 0.5, 2.0 / 3, 0.6, 1000.0, true, false),
    ('o2', null, null, null, 'unattributed', 'unattributed', null, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 500.0, false,
     true),
    ('o3', null, null, null, 'unattributed', 'unattributed', null, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, true, false)
) as t(opportunity_id, touchpoint_id, person_id, campaign_id, channel, touch_type, touched_at, position,
       touch_count, weight_first_touch, weight_last_touch, weight_linear, weight_u_shaped, weight_w_shaped,
       weight_time_decay, amount, is_won, is_lost);

create table marts.mart_funnel_conversion as
select cast(cohort_month as date) as cohort_month, first_channel, leads, mqls, sals, sqls, opportunities, won,
       cast(won_revenue as double) as won_revenue, lead_to_mql, mql_to_sal, sal_to_sql, sql_to_opportunity,
       opportunity_to_won, median_days_lead_to_mql
from (values
    ('2024-01-01', 'organic_search', 1, 1, 1, 1, 1, 1, 1000, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    ('2024-01-01', 'email',          1, 0, 0, 0, 0, 0,    0, 0.0, null, null, null, null, null),
    ('2024-01-01', 'paid_social',    1, 1, 0, 1, 1, 0,    0, 1.0, 0.0, null, 1.0, 0.0, 0.0),
    ('2024-01-01', 'content',        1, 1, 1, 0, 0, 0,    0, 1.0, 1.0, 0.0, null, null, 5.0),
    ('2024-01-01', 'no_touch',       1, 0, 0, 1, 1, 1,    0, 0.0, null, null, 1.0, 1.0, null)
) as t(cohort_month, first_channel, leads, mqls, sals, sqls, opportunities, won, won_revenue, lead_to_mql,
       mql_to_sal, sal_to_sql, sql_to_opportunity, opportunity_to_won, median_days_lead_to_mql);

create table marts.mart_speed_to_lead as
select date '2024-01-01' as week, 'u1' as owner_id, 2 as mqls, 2 as responded, 45.0 as median_response_minutes,
       57.0 as p90_response_minutes, 1.0 as sla_met_rate, 0 as "count_<5m", 2 as "count_5-60m",
       0.5 as "mql_to_sql_rate_5-60m";

create table marts.mart_pipeline_velocity as
select date '2024-01-01' as month, 'smb' as segment, 3 as opportunities, 2 as won, 2.0 / 3 as win_rate,
       500.0 as avg_won_amount, 40.0 as avg_cycle_days, 16.6 as velocity_per_day;

create table marts.mart_attribution_by_channel as
select date '2024-01-01' as month, channel, model, 100.0 as attributed_pipeline, 50.0 as attributed_revenue,
       1 as opportunities, 1 as touches
from (values ('paid_search'), ('unattributed')) as c(channel),
     (values ('first_touch'), ('last_touch'), ('linear'), ('u_shaped'), ('w_shaped'), ('time_decay')) as m(model);

create table marts.mart_campaign_roi as
select 'c2' as campaign_id, 'Guide' as campaign_name, model, 100.0 as cost, 4 as touches, 1 as people,
       1 as mqls_first_touch, 900.0 as attributed_pipeline, 600.0 as attributed_revenue, 5.0 as roi,
       100.0 as cost_per_lead, 100.0 as cost_per_mql, 200.0 as cost_per_opportunity, 300.0 as cost_per_won
from (values ('first_touch'), ('last_touch'), ('linear'), ('u_shaped'), ('w_shaped'), ('time_decay')) as m(model);

create table marts.mart_lead_quality as
select date '2024-01-01' as month, 'content' as first_channel, 1 as mqls, 1 as accepted, 0 as disqualified,
       cast(null as varchar) as top_reasons, 0 as recycled, 0.5 as definition_agreement_rate;

create table marts.mart_content_by_stage as
select 'c2' as campaign_id, 'Guide' as campaign_name, stage, 2 as touches, 1 as people,
       1 as opportunities_influenced, 0.5 as win_rate
from (values ('lead'), ('mql')) as s(stage);

create table marts.mart_discount_friction as
select date '2024-02-01' as month, 'u1' as owner_id, 3 as deals, 25.0 as avg_discount_pct,
       1 as deals_over_guideline, 1.0 as win_rate_up_to_10, null::double as win_rate_10_to_max,
       0.0 as win_rate_over_max;

create table marts.mart_alignment_scorecard as
select date '2024-01-01' as month, 3 as mqls, 2.0 / 3 as sal_rate, 2.0 / 3 as sla_met_rate,
       1.0 / 3 as mql_to_opportunity_rate, 0.6 as marketing_sourced_pipeline_share,
       0.7 as influenced_revenue_share, 0.5 as win_rate, 30.0 as cycle_days, 150.0 as cost_per_won,
       16.6 as velocity_per_day, 100.0 as target_mqls;
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "closedloop.duckdb"
    con = duckdb.connect(str(path))
    con.execute(VALID_WAREHOUSE).fetchall()
    con.close()
    return path


def alter(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path))
    con.execute(sql).fetchall()
    con.close()


def gate(path: Path, **options) -> GateResult:
    return run_gate(path, ALIGNMENT, **options)


def failed(result: GateResult) -> set[tuple[str, str]]:
    return {(check.table, check.name) for check in result.checks if not check.success}


def check(result: GateResult, table: str, name: str):
    matches = [c for c in result.checks if c.table == table and c.name == name]
    assert len(matches) == 1, f"{table}.{name} not found once in {[(c.table, c.name) for c in result.checks]}"
    return matches[0]


def assert_only_failure(result: GateResult, table: str, name: str):
    assert not result.success
    assert failed(result) == {(table, name)}, failed(result)
    return check(result, table, name)


def test_valid_warehouse_passes_and_writes_data_docs(warehouse: Path, tmp_path: Path):
    docs = tmp_path / "data_docs"
    result = gate(warehouse, docs_dir=docs)
    assert result.success, [(c.table, c.name, c.observed, c.examples) for c in result.checks if not c.success]
    names = {(c.table, c.name) for c in result.checks}
    for expected in [
        ("fct_lead_funnel", "key_unique"), ("fct_attribution", "key_not_null"),
        ("fct_lead_funnel", "stage_order_sql_opportunity"), ("fct_lead_funnel", "mql_at_not_threshold_touch"),
        ("fct_lead_funnel", "response_bucket_matches_minutes"), ("fct_attribution", "weights_sum_to_1"),
        ("fct_attribution", "attributed_revenue_equals_won_revenue"),
        ("mart_funnel_conversion", "funnel_counts_never_increase"), ("mart_discount_friction", "rates_between_0_and_1"),
        ("mart_campaign_roi", "model_in_set"), ("mart_speed_to_lead", "key_unique"),
    ]:
        assert expected in names
    assert all(check.blocking for check in result.checks)
    # GX's own site and the summary page
    assert (docs / "index.html").exists()
    assert list((docs / "validations").rglob("*.html"))
    summary = (docs / "gate_summary.html").read_text()
    assert "PASSED" in summary and "weights_sum_to_1" in summary
    stored = GateResult.from_dict(json.loads((docs / "gate_result.json").read_text()))
    assert stored.success and len(stored.checks) == len(result.checks)


def test_rate_columns_are_recognised():
    for column in ("lead_to_mql", "opportunity_to_won", "win_rate", "sla_met_rate", "mql_to_sql_rate_5-60m",
                   "win_rate_10_to_max", "marketing_sourced_pipeline_share", "definition_agreement_rate"):
        assert is_rate_column(column), column
    for column in ("median_days_lead_to_mql", "avg_discount_pct", "roi", "target_win_rate", "cost_per_won",
                   "velocity_per_day", "mqls"):
        assert not is_rate_column(column), column


def test_weight_set_off_fails_sum_check(warehouse: Path):
    alter(warehouse, "update marts.fct_attribution set weight_linear = 0.6 where touchpoint_id = 'hs_visit:1'")
    result = gate(warehouse)
    # the extra 0.1 x 1000 also breaks the linear model's reconciliation, nothing else fails
    assert failed(result) == {("fct_attribution", "weights_sum_to_1"),
                              ("fct_attribution", "attributed_pipeline_equals_pipeline"),
                              ("fct_attribution", "attributed_revenue_equals_won_revenue")}
    failure = check(result, "fct_attribution", "weights_sum_to_1")
    assert failure.examples == [{"model": "linear", "opportunity_id": "o1", "weight_sum": pytest.approx(1.1)}]
    assert failure.observed == pytest.approx(0.1)
    # checked by the largest difference over the models: the examples are the rows out of bounds
    reconciliation = check(result, "fct_attribution", "attributed_pipeline_equals_pipeline")
    assert [example["model"] for example in reconciliation.examples] == ["linear"]
    assert reconciliation.observed == pytest.approx(100 / 1500)


def test_weight_out_of_range_fails(warehouse: Path):
    # -0.5 and 1.5 still sum to 1: only the range check can catch them
    alter(warehouse, "update marts.fct_attribution set weight_u_shaped = case when position = 1 then -0.5 "
                     "else 1.5 end where opportunity_id = 'o1'")
    result = gate(warehouse)
    failure = assert_only_failure(result, "fct_attribution", "weights_between_0_and_1")
    assert failure.examples[0]["opportunity_id"] == "o1" and failure.examples[0]["model"] == "u_shaped"


def test_stage_out_of_order_fails(warehouse: Path):
    alter(warehouse, "update marts.fct_lead_funnel set won_at = timestamp '2024-01-04 00:00:00' where person_id = 'p1'")
    result = gate(warehouse)
    assert failed(result) == {("fct_lead_funnel", "stage_order_opportunity_won"),
                              ("fct_lead_funnel", "stage_order_sql_won")}
    failure = check(result, "fct_lead_funnel", "stage_order_opportunity_won")
    assert failure.observed == 1
    assert failure.examples == [{"person_id": "p1", "opportunity_at": "2024-01-05T00:00:00",
                                 "won_at": "2024-01-04T00:00:00"}]


def test_skipped_stage_still_ordered(warehouse: Path):
    # p5 has no sql_at/opportunity_at: a lost_at before lead_at must still be caught (nulls skipped, not the pair)
    alter(warehouse, "update marts.fct_lead_funnel set sal_at = timestamp '2023-12-01' where person_id = 'p5'")
    result = gate(warehouse)
    assert ("fct_lead_funnel", "stage_order_lead_sal") in failed(result)
    assert ("fct_lead_funnel", "stage_order_mql_sal") in failed(result)


def test_mql_below_threshold_fails(warehouse: Path):
    # p2 (5 points) made an MQL: below threshold, and not at a threshold touch
    alter(warehouse, "update marts.fct_lead_funnel set mql_at = lead_at, response_bucket = 'no_response', "
                     "sla_met = false where person_id = 'p2'")
    result = gate(warehouse)
    assert failed(result) == {("fct_lead_funnel", "mql_below_threshold"),
                              ("fct_lead_funnel", "mql_at_not_threshold_touch")}
    assert check(result, "fct_lead_funnel", "mql_below_threshold").examples[0]["person_id"] == "p2"


def test_mql_at_wrong_touch_fails(warehouse: Path):
    # p5 reaches 50 points at its 5th touch (sf_cm:5; the email open counts 0); claiming the 6th is wrong
    alter(warehouse, "update marts.fct_lead_funnel set mql_at = timestamp '2024-01-11 09:00:00', "
                     "first_response_at = timestamp '2024-01-11 10:00:00', sal_at = timestamp '2024-01-11 10:00:00' "
                     "where person_id = 'p5'")
    failure = assert_only_failure(gate(warehouse), "fct_lead_funnel", "mql_at_not_threshold_touch")
    assert failure.examples[0]["expected_mql_at"] == "2024-01-10T09:00:00"


@pytest.mark.parametrize("threshold", [50, 20, 0])
def test_mql_rule_by_sums_gives_the_reference_verdicts(tmp_path: Path, threshold: float):
    """The gate checks the MQL rule with sums per person (no window over every touch): on random
    touches (ties in time, zero-point opens, no touches) and random claims (the right touch's time,
    another touch's, none, a duplicated row), it flags exactly the rows the rule in touch order does."""
    import random

    rng = random.Random(threshold)
    alignment = Alignment.model_validate({"mql": {"score_threshold": threshold}})
    kinds = list(alignment.mql.points)
    touches, claims = [], []
    for person in range(400):
        times = [f"2024-01-{rng.randint(1, 6):02d} 0{rng.randint(0, 2)}:00:00" for _ in range(rng.randint(0, 6))]
        for number, touched_at in enumerate(times):
            touches.append((f"t{person}_{number}", f"p{person}", touched_at, rng.choice(kinds)))
        mql_at = rng.choice([None, None, *times, "2024-01-03 01:30:00"])
        claims.append((f"p{person}", rng.choice([True, True, False, None]), mql_at))
        if rng.random() < 0.05:
            claims.append(claims[-1])
    path = tmp_path / "random.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema intermediate")
    con.execute("create table intermediate.int_touchpoints "
                "(touchpoint_id varchar, person_id varchar, touched_at timestamp, touch_type varchar)")
    con.executemany("insert into intermediate.int_touchpoints values (?, ?, ?, ?)", touches)
    con.execute("create table marts.fct_lead_funnel (person_id varchar, is_fit boolean, mql_at timestamp, "
                "score double)")
    con.executemany("insert into marts.fct_lead_funnel values (?, ?, ?, 0)", claims)
    checked, reference = mql_people_sql(alignment)
    by_sums = con.execute(f"{checked} select person_id, mql_at, mql_at_wrong, expected_score from people "
                          "order by all").fetchall()
    in_order = con.execute(f"{reference} select person_id, mql_at, mql_at is distinct from expected_mql_at, "
                           "expected_score from people order by all").fetchall()
    con.close()
    assert by_sums == in_order
    wrong = sum(row[2] for row in in_order)
    assert 0 < wrong < len(in_order)  # both verdicts occur


def test_mql_for_unfit_person_fails(warehouse: Path):
    alter(warehouse, "update marts.fct_lead_funnel set is_fit = false where person_id = 'p1'")
    result = gate(warehouse)
    assert ("fct_lead_funnel", "mql_not_fit") in failed(result)


def test_threshold_comes_from_alignment(warehouse: Path):
    stricter = Alignment.model_validate({"mql": {"score_threshold": 60}})
    result = run_gate(warehouse, stricter)
    assert ("fct_lead_funnel", "mql_below_threshold") in failed(result)
    assert {e["person_id"] for e in check(result, "fct_lead_funnel", "mql_below_threshold").examples} == {"p1"}


def test_wrong_bucket_fails(warehouse: Path):
    # 60 minutes is a bound: it belongs to the lower bucket 5-60m, not 1-24h
    alter(warehouse, "update marts.fct_lead_funnel set response_bucket = '1-24h' where person_id = 'p5'")
    failure = assert_only_failure(gate(warehouse), "fct_lead_funnel", "response_bucket_matches_minutes")
    assert failure.examples[0]["person_id"] == "p5" and failure.examples[0]["expected_bucket"] == "5-60m"


def test_unknown_bucket_label_and_sla_fail(warehouse: Path):
    alter(warehouse, "update marts.fct_lead_funnel set response_bucket = 'soon', sla_met = null where person_id = 'p4'")
    result = gate(warehouse)
    assert failed(result) == {("fct_lead_funnel", "response_bucket_matches_minutes"),
                              ("fct_lead_funnel", "response_bucket_in_labels"),
                              ("fct_lead_funnel", "sla_met_matches_minutes")}
    assert check(result, "fct_lead_funnel", "response_bucket_in_labels").examples == [{"response_bucket": "soon"}]


def test_rate_above_one_fails(warehouse: Path):
    alter(warehouse, "update marts.mart_funnel_conversion set mql_to_sal = 1.5 where first_channel = 'content'")
    failure = assert_only_failure(gate(warehouse), "mart_funnel_conversion", "rates_between_0_and_1")
    assert len(failure.examples) == 1
    assert failure.examples == [{"cohort_month": "2024-01-01", "first_channel": "content",
                                 "rate_column": "mql_to_sal", "rate_value": 1.5}]


def test_a_frame_that_cannot_be_computed_fails_its_checks_and_the_others_still_run(warehouse: Path):
    alter(warehouse, "alter table marts.mart_pipeline_velocity drop column segment")  # a key column
    result = gate(warehouse)
    assert failed(result) == {("mart_pipeline_velocity", "key_unique"), ("mart_pipeline_velocity", "key_not_null")}
    observed = check(result, "mart_pipeline_velocity", "key_unique").observed
    assert observed.startswith("error: Binder Error") and "segment" in observed
    assert check(result, "mart_pipeline_velocity", "rates_between_0_and_1").success


def test_a_null_in_a_never_null_column_beyond_the_key_fails(warehouse: Path):
    alter(warehouse, "update marts.mart_campaign_roi set cost = null where model = 'linear'")
    failure = assert_only_failure(gate(warehouse), "mart_campaign_roi", "key_not_null")
    assert failure.observed == 1 and failure.examples[0]["model"] == "linear"


def test_negative_rate_fails(warehouse: Path):
    # one row of several: the column's largest value is still in range
    alter(warehouse, "update marts.mart_funnel_conversion set mql_to_sal = -0.5 where first_channel = 'content'")
    failure = assert_only_failure(gate(warehouse), "mart_funnel_conversion", "rates_between_0_and_1")
    assert [(row["first_channel"], row["rate_column"], row["rate_value"]) for row in failure.examples] == [
        ("content", "mql_to_sal", -0.5)]


def test_nan_rate_fails(warehouse: Path):
    # 0/0 in double arithmetic is NaN, which pandas would treat as missing: must still fail
    alter(warehouse, "alter table marts.mart_alignment_scorecard alter win_rate type double")
    alter(warehouse, "update marts.mart_alignment_scorecard set win_rate = cast(0 as double) / cast(0 as double)")
    assert_only_failure(gate(warehouse), "mart_alignment_scorecard", "rates_between_0_and_1")


def test_funnel_count_increase_fails(warehouse: Path):
    alter(warehouse, "update marts.mart_funnel_conversion set won = 2 where first_channel = 'organic_search'")
    failure = assert_only_failure(gate(warehouse), "mart_funnel_conversion", "funnel_counts_never_increase")
    assert [e["first_channel"] for e in failure.examples] == ["organic_search"]


def test_duplicate_keys_fail(warehouse: Path):
    alter(warehouse, "insert into marts.fct_lead_funnel select * from marts.fct_lead_funnel where person_id = 'p3'")
    failure = assert_only_failure(gate(warehouse), "fct_lead_funnel", "key_unique")
    assert failure.examples == [{"person_id": "p3", "copies": 2}]
    assert failure.observed == 1


def test_duplicate_mart_grain_fails(warehouse: Path):
    alter(warehouse, "insert into marts.mart_campaign_roi select * from marts.mart_campaign_roi where model = 'linear'")
    failure = assert_only_failure(gate(warehouse), "mart_campaign_roi", "key_unique")
    assert failure.examples == [{"campaign_id": "c2", "model": "linear", "copies": 2}]


def test_null_attribution_key_and_second_unattributed_row_fail(warehouse: Path):
    alter(warehouse, "update marts.fct_attribution set touchpoint_id = null where touchpoint_id = 'hs_visit:1'")
    result = gate(warehouse)
    assert ("fct_attribution", "key_not_null") in failed(result)
    assert check(result, "fct_attribution", "key_not_null").examples[0]["opportunity_id"] == "o1"


@pytest.mark.parametrize(("table", "change"), [
    ("fct_lead_funnel", "update marts.fct_lead_funnel set recycled_count = null where person_id = 'p2'"),
    ("fct_attribution", "update marts.fct_attribution set is_lost = null where opportunity_id = 'o2'"),
])
def test_a_null_in_a_required_fact_column_fails(warehouse: Path, table: str, change: str):
    """The facts' not-null columns are the dbt project's (left to the gate by the nightly build)."""
    alter(warehouse, change)
    assert_only_failure(gate(warehouse), table, "key_not_null")


def test_a_repeated_or_mismatched_attribution_id_fails(warehouse: Path):
    # a second row for o1's first touch under another touchpoint: the id repeats and no longer says its touch
    alter(warehouse, "insert into marts.fct_attribution select * replace ('hs_visit:2' as touchpoint_id) "
                     "from marts.fct_attribution where touchpoint_id = 'hs_visit:1'")
    result = gate(warehouse)
    assert {("fct_attribution", "key_unique"),
            ("fct_attribution", "attribution_id_is_opportunity_and_touchpoint")} <= failed(result)
    assert check(result, "fct_attribution", "attribution_id_is_opportunity_and_touchpoint").examples == [
        {"attribution_id": "o1|hs_visit:1", "opportunity_id": "o1", "touchpoint_id": "hs_visit:2"}]


def test_totals_not_reconciling_fail(warehouse: Path):
    # an opportunity that fct_attribution lost: attributed pipeline and won revenue fall short
    alter(warehouse, "insert into intermediate.int_opportunities values "
                     "('o4', 250.0, true, false, timestamp '2024-01-08', timestamp '2024-02-08')")
    result = gate(warehouse)
    assert failed(result) == {("fct_attribution", "attributed_pipeline_equals_pipeline"),
                              ("fct_attribution", "attributed_revenue_equals_won_revenue"),
                              ("fct_attribution", "every_opportunity_attributed")}
    failure = check(result, "fct_attribution", "attributed_revenue_equals_won_revenue")
    assert len(failure.examples) == 6
    assert {e["attributed_revenue"] for e in failure.examples} == {1000.0}
    assert {e["won_revenue_total"] for e in failure.examples} == {1250.0}


def test_an_opportunity_without_attribution_rows_fails(warehouse: Path):
    # amount 0: the totals still reconcile, only the coverage check sees it
    alter(warehouse, "insert into intermediate.int_opportunities values "
                     "('o4', 0.0, false, false, timestamp '2024-01-08', null)")
    failure = assert_only_failure(gate(warehouse), "fct_attribution", "every_opportunity_attributed")
    assert failure.observed == 1 and failure.examples == [{"opportunity_id": "o4"}]


def test_attribution_of_an_unknown_opportunity_fails(warehouse: Path):
    # o3 has no amount: without it the totals still reconcile
    alter(warehouse, "delete from intermediate.int_opportunities where opportunity_id = 'o3'")
    failure = assert_only_failure(gate(warehouse), "fct_attribution", "opportunities_known")
    assert failure.examples == [{"opportunity_id": "o3"}]


def test_nan_weight_fails(warehouse: Path):
    # NaN is the largest double to DuckDB but missing to pandas: counted with the nulls, not ranged
    alter(warehouse, "update marts.fct_attribution set weight_linear = cast('NaN' as double) "
                     "where touchpoint_id = 'hs_visit:1'")
    result = gate(warehouse)
    assert ("fct_attribution", "weights_between_0_and_1") in failed(result)
    failure = check(result, "fct_attribution", "weights_between_0_and_1")
    assert [(row["opportunity_id"], row["model"], row["null_or_nan_weights"]) for row in failure.examples] == [
        ("o1", "linear", 1)]


@pytest.mark.parametrize(("rule", "change"), [
    ("first_response_before_mql", "first_response_at = timestamp '2024-01-10 08:00:00' where person_id = 'p5'"),
    ("sal_without_mql", "sal_at = timestamp '2024-01-04 00:00:00' where person_id = 'p2'"),
    ("won_and_lost", "won_at = timestamp '2024-03-01 00:00:00' where person_id = 'p4'"),
    ("closed_without_opportunity", "lost_at = timestamp '2024-01-05 00:00:00' where person_id = 'p2'"),
    ("stage_without_lead", "lead_at = null where person_id = 'p6'"),
])
def test_stage_rules_beyond_the_order_of_pairs_fail(warehouse: Path, rule: str, change: str):
    alter(warehouse, f"update marts.fct_lead_funnel set {change}")
    result = gate(warehouse)
    stage_failures = {name for table, name in failed(result) if name in STAGE_RULES or name.startswith("stage_order")}
    assert stage_failures == {rule}
    failure = check(result, "fct_lead_funnel", rule)
    assert failure.observed == 1 and [row["person_id"] for row in failure.examples] == [change.split("'")[-2]]


def test_amount_changing_within_opportunity_fails(warehouse: Path):
    alter(warehouse, "update marts.fct_attribution set amount = 900 where touchpoint_id = 'hs_form:d1'")
    result = gate(warehouse)
    assert ("fct_attribution", "amount_constant_per_opportunity") in failed(result)
    assert ("fct_attribution", "attributed_pipeline_equals_pipeline") in failed(result)


def write_previous_publish(path: Path, counts: dict[str, int], gate_result: dict | None = None) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create or replace table publish_log (run_id varchar, published_at timestamp, "
                "definitions_version varchar, row_counts varchar, gate_result varchar)").fetchall()
    con.execute("insert into publish_log values ('old', timestamp '2024-01-01', 'v0', '{}', '{}'), "
                "('prev', timestamp '2024-02-01', 'v0', ?, ?)",
                [json.dumps(counts), json.dumps(gate_result or {})]).fetchall()
    con.close()
    return path


MQL_BROKEN = {("fct_lead_funnel", "mql_below_threshold"), ("fct_lead_funnel", "mql_at_not_threshold_touch")}


def test_mql_rule_is_checked_for_the_people_rebuilt_since_the_last_publish(warehouse: Path, tmp_path: Path):
    funnel_log, touches_log = "marts.fct_lead_funnel__state_replaced", "intermediate.int_touchpoints__state_replaced"
    # the replaced-partitions logs as dbt's builds leave them: a full build (null: every person) at build 1
    alter(warehouse, f"create table {funnel_log} (partition_key varchar, build bigint); "
                     f"create table {touches_log} (partition_key varchar, build bigint); "
                     f"insert into {funnel_log} values (null, 1); insert into {touches_log} values (null, 1)")
    first = gate(warehouse)
    assert first.success
    assert first.checked_through == {"fct_lead_funnel": 1, "int_touchpoints": 1,
                                     "mql_rule": mql_rule_version(ALIGNMENT)}
    stamped = GateVerdict.of(first).summary()  # what publish stamps into publish_log.gate_result
    assert stamped["checked_through"] == first.checked_through
    previous = write_previous_publish(tmp_path / "published.duckdb", {}, gate_result=stamped)
    # p2 (5 points) made an MQL, but no build since the last publish replaced p2: its verdict stands
    alter(warehouse, "update marts.fct_lead_funnel set mql_at = lead_at, response_bucket = 'no_response', "
                     "sla_met = false where person_id = 'p2'")
    assert gate(warehouse).failures  # (checked by a gate without a last publish)
    unchanged = gate(warehouse, previous_published_path=previous)
    assert unchanged.success
    assert "rebuilt since the last publish" in check(unchanged, "fct_lead_funnel", "mql_below_threshold").description
    # a build that replaced p2's funnel row or touches logs p2: checked, and failing
    for log in (funnel_log, touches_log):
        alter(warehouse, f"insert into {log} values ('p3', 2), ('p2', 2)")
        result = gate(warehouse, previous_published_path=previous)
        assert failed(result) == MQL_BROKEN
        assert [e["person_id"] for e in check(result, "fct_lead_funnel", "mql_below_threshold").examples] == ["p2"]
        assert result.checked_through[log.split(".")[1].removesuffix("__state_replaced")] == 2
        alter(warehouse, f"delete from {log} where build = 2")
    # every person again: a null row after the mark (a full build, or builds the log forgot) ...
    alter(warehouse, f"insert into {touches_log} values (null, 2)")
    assert failed(gate(warehouse, previous_published_path=previous)) == MQL_BROKEN
    alter(warehouse, f"delete from {touches_log} where build = 2")
    # ... another MQL rule since the last publish, or no marks recorded by it
    for recorded in ({**first.checked_through, "mql_rule": "an older rule"}, {}):
        previous = write_previous_publish(previous, {}, gate_result={**stamped, "checked_through": recorded})
        assert failed(gate(warehouse, previous_published_path=previous)) == MQL_BROKEN


def test_collapsed_table_vs_previous_publish_fails(warehouse: Path, tmp_path: Path):
    previous = write_previous_publish(tmp_path / "published.duckdb",
                                      {"fct_attribution": 1000, "fct_lead_funnel": 50, "mart_lead_quality": 1})
    result = gate(warehouse, previous_published_path=previous)
    failure = assert_only_failure(result, "fct_attribution", "row_count_vs_last_publish")
    assert failure.observed == pytest.approx(0.004)
    assert failure.examples == [{"previous_rows": 1000, "current_rows": 4, "ratio": pytest.approx(0.004)}]
    # under 100 rows last time: skipped, not failed
    assert check(result, "fct_lead_funnel", "row_count_vs_last_publish").observed.startswith("skipped")
    # an intended change: accepted for this run, reported but not blocking
    accepted = gate(warehouse, previous_published_path=previous, accept_volume_change=True)
    assert accepted.success
    assert [(c.table, c.name) for c in accepted.warnings] == [("fct_attribution", "row_count_vs_last_publish")]


def test_volume_within_ratio_passes_and_first_publish_skips(warehouse: Path, tmp_path: Path):
    previous = write_previous_publish(tmp_path / "published.duckdb", {"fct_attribution": 100})
    assert not gate(warehouse, previous_published_path=previous, volume_ratio=(0.001, 2.0)).failures
    first = gate(warehouse, previous_published_path=tmp_path / "missing.duckdb")
    assert check(first, "fct_attribution", "row_count_vs_last_publish").observed.startswith("skipped: first publish")


def test_missing_mart_is_a_failed_check_not_a_crash(warehouse: Path):
    alter(warehouse, "drop table marts.mart_content_by_stage")
    result = gate(warehouse)
    assert not result.success
    assert failed(result) == {("mart_content_by_stage", "table_exists")}
    assert "marts.mart_content_by_stage" in check(result, "mart_content_by_stage", "table_exists").observed


def test_missing_column_is_a_failed_check(warehouse: Path):
    alter(warehouse, "alter table marts.fct_attribution drop column weight_time_decay")
    result = gate(warehouse)
    failure = check(result, "fct_attribution", "weights_sum_to_1")
    assert not failure.success and "weight_time_decay" in failure.observed


def test_failure_report_lists_examples(warehouse: Path, tmp_path: Path):
    alter(warehouse, "update marts.fct_attribution set weight_linear = 0.6 where touchpoint_id = 'hs_visit:1'")
    docs = tmp_path / "docs"
    result = gate(warehouse, docs_dir=docs)
    assert not result.success
    summary = (docs / "gate_summary.html").read_text()
    assert "FAILED" in summary and "weights_sum_to_1" in summary and "o1" in summary


def test_preloading_imports_great_expectations_off_the_calling_thread():
    # A fresh interpreter: the suite's own process may have imported GX already.
    script = (
        "import sys, threading\n"
        "from expectations import preload_great_expectations\n"
        "assert 'great_expectations' not in sys.modules\n"
        "thread = preload_great_expectations()\n"
        "assert thread is not threading.current_thread() and thread.daemon\n"
        "thread.join(120)\n"
        "assert 'great_expectations.expectations' in sys.modules, sorted(sys.modules)[:5]\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               cwd=Path(__file__).resolve().parents[1])
    assert completed.returncode == 0, completed.stderr[-2000:]
