"""The gate's checks, derived from alignment.yml (SPEC 5).

Each check pairs a small *check frame*, computed in DuckDB SQL over the built tables
(violation counts, sums per opportunity and model, totals, row counts, or a mart's own rows,
which are small by construction), with the Great Expectations expectations that frame must
meet, and an optional SQL query for up to 20 failing rows. Fact tables never leave DuckDB:
only these frames reach pandas and GX.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from orchestration.alignment import WEIGHT_TOLERANCE, Alignment
from orchestration.duck import quote_identifier as qi
from orchestration.duck import quote_literal as ql

from .result import MAX_EXAMPLES

FUNNEL = "marts.fct_lead_funnel"
ATTRIBUTION = "marts.fct_attribution"
TOUCHPOINTS = "intermediate.int_touchpoints"
OPPORTUNITIES = "intermediate.int_opportunities"
# The replaced-partitions logs (partition_key = person_id, build; a null partition_key: every
# person) of the two tables the MQL rule reads. The rule reads every touch of every person it
# checks (10M touches at 1M people), so a gate checks it for the people whose funnel row or
# touches a build replaced since the last publish's gate (runner.mql_scope); everyone else keeps
# the verdict that gate gave, on the same rows.
MQL_LOGS = {"fct_lead_funnel": "marts.fct_lead_funnel__state_replaced",
            "int_touchpoints": "intermediate.int_touchpoints__state_replaced"}
MQL_CHANGED_PEOPLE = "the people whose funnel row or touches were rebuilt since the last publish"

ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")
FUNNEL_STAGES = ("lead", "mql", "sal", "sql", "opportunity", "won")
CONTENT_STAGES = ("lead", "mql", "sal", "sql", "opportunity", "customer")
# Relative tolerance for attributed totals vs pipeline/revenue totals (float sums over many rows).
TOTALS_TOLERANCE = 1e-9
DEFAULT_VOLUME_RATIO = (0.5, 2.0)
VOLUME_MIN_PREVIOUS_ROWS = 100

# Grain of every published table: (key columns, columns that may never be null). These are the
# dbt project's key_and_not_null tests of the published tables too, which the nightly build leaves
# to the gate (orchestration/dbt_selection.py; tests/test_dbt_selection.py keeps the two in step).
GRAINS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fct_lead_funnel": (("person_id",), ("person_id", "recycled_count", "first_channel", "is_fit", "score",
                                         "is_marketing_sourced")),
    # attribution_id: opportunity_id | touchpoint_id ('unattributed' on an opportunity's one row
    # without touches)
    "fct_attribution": (("attribution_id",), ("attribution_id", "opportunity_id", "channel", "touch_type", "position",
                                              "touch_count", *(f"weight_{model}" for model in ATTRIBUTION_MODELS),
                                              "amount", "is_won", "is_lost")),
    "mart_funnel_conversion": (("cohort_month", "first_channel"), ("cohort_month", "first_channel", "leads",
                                                                  "won_revenue")),
    "mart_speed_to_lead": (("week", "owner_id"), ("week", "mqls")),
    "mart_pipeline_velocity": (("month", "segment"), ("month", "segment", "opportunities")),
    "mart_attribution_by_channel": (("month", "channel", "model"), ("month", "channel", "model", "attributed_pipeline",
                                                                   "attributed_revenue")),
    "mart_campaign_roi": (("campaign_id", "model"), ("campaign_id", "model", "cost")),
    "mart_lead_quality": (("month", "first_channel"), ("month", "first_channel")),
    "mart_content_by_stage": (("campaign_id", "stage"), ("campaign_id", "stage")),
    "mart_discount_friction": (("month", "owner_id"), ("month", "deals")),
    "mart_alignment_scorecard": (("month",), ("month",)),
}
GATED_TABLES = tuple(GRAINS)

# Stage order (SPEC 3): every pair along each chain, nulls skipped, so skipped stages still order.
STAGE_CHAINS = (
    ("lead_at", "mql_at", "sal_at"),
    ("lead_at", "sql_at", "opportunity_at", "won_at"),
    ("lead_at", "sql_at", "opportunity_at", "lost_at"),
)
# Funnel counts that can never increase down the funnel, even when people skip stages.
FUNNEL_COUNT_PAIRS = (("leads", "mqls"), ("mqls", "sals"), ("leads", "sqls"), ("sqls", "opportunities"),
                      ("opportunities", "won"))


@dataclass(frozen=True)
class Expect:
    """One GX expectation, by class name and arguments (instantiated by the runner)."""

    kind: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Frame:
    name: str
    sql: str
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    name: str
    table: str
    description: str
    frame: str | None = None
    expectations: tuple[Expect, ...] = ()
    examples_sql: str | None = None
    blocking: bool = True
    requires: tuple[str, ...] = ()
    skipped: str | None = None  # a reason: the check passes without running (e.g. first publish)


@dataclass
class Plan:
    frames: dict[str, Frame] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def add_frame(self, name: str, sql: str, requires: tuple[str, ...]) -> str:
        self.frames[name] = Frame(name, sql, requires)
        return name


# A frame that always has rows is checked by its column's largest value: GX computes one metric for
# ExpectColumnMaxToBeBetween (about 1 ms an expectation) where ExpectColumnValuesToBeBetween's
# per-row results cost 5-6 ms. A frame that can be empty (grouped rows of a table with none) keeps
# the per-row expectation: the largest value of no rows is missing, and GX fails it.


def _bounds(min_value: float | None, max_value: float | None) -> dict[str, float]:
    return {name: value for name, value in (("min_value", min_value), ("max_value", max_value)) if value is not None}


def largest_between(column: str, min_value: float | None = None, max_value: float | None = None) -> Expect:
    """The largest value of `column`, in a frame that always has rows, lies in [min_value, max_value]
    (on a one-row frame: its value)."""
    return Expect("ExpectColumnMaxToBeBetween", {"column": column, **_bounds(min_value, max_value)})


def zero(column: str) -> Expect:
    """`column` of a frame that always has rows is 0 on every row (a violation count, never negative)."""
    return at_most(column, 0)


def at_most(column: str, value: float) -> Expect:
    """Every value of `column`, in a frame that always has rows, is at most `value`."""
    return largest_between(column, max_value=value)


def each_between(column: str, min_value: float | None = None, max_value: float | None = None) -> Expect:
    """Every non-null value of `column` lies in [min_value, max_value]; an empty frame passes."""
    return Expect("ExpectColumnValuesToBeBetween", {"column": column, **_bounds(min_value, max_value)})


def limit(sql: str) -> str:
    return f"{sql}\nlimit {MAX_EXAMPLES}"


# ---------------------------------------------------------------------------------------------
# keys


def key_checks(plan: Plan, table: str) -> None:
    keys, not_null = GRAINS[table]
    qualified = f"marts.{table}"
    key_list = ", ".join(qi(key) for key in keys)
    null_filters = {column: f"{qi(column)} is null" for column in not_null}
    if table == "fct_attribution":
        # unattributed rows are keyed by their opportunity alone: touchpoint_id null only there
        null_filters["touchpoint_id"] = "touchpoint_id is null and coalesce(touch_count, -1) <> 0"
    # one count for all the columns: one GX expectation a table, not one a column (~7 ms each)
    any_null = " or ".join(f"({condition})" for condition in null_filters.values())
    counts = [f"count(*) filter (where {any_null}) as rows_with_a_null"] if null_filters else []
    # attribution_id is its opportunity and touchpoint: unique ids then mean unique pairs too
    mismatched_id = ("attribution_id is distinct from opportunity_id || '|' || coalesce(touchpoint_id, 'unattributed')"
                     if table == "fct_attribution" else None)
    if mismatched_id:
        counts.append(f"count(*) filter (where {mismatched_id}) as mismatched_ids")
    frame = plan.add_frame(
        f"{table}__keys",
        f"""
        with duplicates as (
            select {key_list}, count(*) as copies from {qualified} group by all having count(*) > 1
        )
        select
            count(*) as row_count,
            (select coalesce(sum(copies - 1), 0) from duplicates) as duplicate_rows
            {''.join(', ' + count for count in counts)}
        from {qualified}
        """,
        (qualified,),
    )
    plan.checks.append(Check(
        name="key_unique",
        table=table,
        description=f"({', '.join(keys)}) identifies one row: no key appears twice",
        frame=frame,
        expectations=(zero("duplicate_rows"),),
        examples_sql=limit(f"select {key_list}, count(*) as copies from {qualified} group by all "
                           f"having count(*) > 1 order by copies desc, {key_list}"),
        requires=(qualified,),
    ))
    if null_filters:
        plan.checks.append(Check(
            name="key_not_null",
            table=table,
            description=f"{', '.join(null_filters)} are never null"
            + (" (touchpoint_id only on unattributed rows)" if table == "fct_attribution" else ""),
            frame=frame,
            expectations=(zero("rows_with_a_null"),),
            examples_sql=limit(f"select * from {qualified} where {any_null}"),
            requires=(qualified,),
        ))
    if mismatched_id:
        plan.checks.append(Check(
            name="attribution_id_is_opportunity_and_touchpoint",
            table=table,
            description="attribution_id is opportunity_id | touchpoint_id ('unattributed' on the row of an "
            "opportunity without touches)",
            frame=frame,
            expectations=(zero("mismatched_ids"),),
            examples_sql=limit(f"select attribution_id, opportunity_id, touchpoint_id from {qualified} "
                               f"where {mismatched_id} order by attribution_id"),
            requires=(qualified,),
        ))


# ---------------------------------------------------------------------------------------------
# fct_lead_funnel: stage order, MQL rule, speed to lead


def stage_pairs() -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for chain in STAGE_CHAINS:
        for i, earlier in enumerate(chain):
            for later in chain[i + 1:]:
                if (earlier, later) not in pairs:
                    pairs.append((earlier, later))
    return pairs


# Stage rules beyond the order of pairs (SPEC 3): name -> (a violating person, what must hold, columns shown).
STAGE_RULES = {
    "first_response_before_mql": ("first_response_at < mql_at", "first_response_at >= mql_at: the first "
                                  "response answers the MQL", ("mql_at", "first_response_at")),
    "sal_without_mql": ("sal_at is not null and mql_at is null", "no sal_at without mql_at", ("mql_at", "sal_at")),
    "won_and_lost": ("won_at is not null and lost_at is not null", "no person both won and lost",
                     ("won_at", "lost_at")),
    "closed_without_opportunity": ("(won_at is not null or lost_at is not null) and opportunity_at is null",
                                   "won_at and lost_at only with opportunity_at",
                                   ("opportunity_at", "won_at", "lost_at")),
    "stage_without_lead": ("lead_at is null and coalesce(mql_at, sal_at, sql_at, opportunity_at, won_at, lost_at) "
                           "is not null", "no later stage without lead_at",
                           ("lead_at", "mql_at", "sal_at", "sql_at", "opportunity_at", "won_at", "lost_at")),
}


def stage_order_checks(plan: Plan) -> None:
    # every rule as (check name, frame column, a violating person, what must hold, columns shown)
    rules = [(f"stage_order_{a.removesuffix('_at')}_{b.removesuffix('_at')}", f"{a}_after_{b}", f"{a} > {b}",
              f"{a} <= {b} for every person having both (a person may skip stages)", (a, b))
             for a, b in stage_pairs()]
    rules += [(name, name, condition, rule, shown) for name, (condition, rule, shown) in STAGE_RULES.items()]
    columns = ",\n".join(f"count(*) filter (where {condition}) as {qi(column)}" for _, column, condition, _, _ in rules)
    frame = plan.add_frame("fct_lead_funnel__stage_order", f"select {columns} from {FUNNEL}", (FUNNEL,))
    for name, column, condition, rule, shown in rules:
        plan.checks.append(Check(
            name=name,
            table="fct_lead_funnel",
            description=rule,
            frame=frame,
            expectations=(zero(column),),
            examples_sql=limit(f"select person_id, {', '.join(shown)} from {FUNNEL} where {condition} "
                               "order by person_id"),
            requires=(FUNNEL,),
        ))


def points_case(alignment: Alignment) -> str:
    whens = " ".join(f"when {ql(touch_type)} then cast({value!r} as decimal(18, 6))"
                     for touch_type, value in alignment.mql.points.items())
    return f"case touch_type {whens} else cast(0 as decimal(18, 6)) end"


def mql_people_sql(alignment: Alignment, people: str | None = None) -> tuple[str, str]:
    """Two `with ... people as (...)` preambles for the MQL rule, one row per fct_lead_funnel row:
    `checked` (column mql_at_wrong), run by every gate, and `reference` (column expected_mql_at),
    the rule as SPEC states it, run for a failing check's examples. Both give expected_score.
    `people`: a query whose first column holds the person_ids to check (None: every person)."""
    # the people checked: their funnel rows and all their touches, read through the person_id filter
    scope = "person_id in (select person_id from checked_people)" if people else None
    preamble = f"checked_people (person_id) as ({people})," if people else ""
    threshold = f"cast({alignment.mql.score_threshold!r} as decimal(18, 6))"
    # Points are never negative: with a positive threshold only touches with points can reach it
    # or add to a score, so the rule leaves out the rest (email opens score 0 by default: a third
    # of all touches).
    scoring = "where points > 0" if alignment.mql.score_threshold > 0 else ""
    touches = f"""
        touches as (
            select * from (
                select person_id, touchpoint_id, touched_at, {points_case(alignment)} as points
                from {TOUCHPOINTS}
                where person_id is not null and touched_at is not null{f" and {scope}" if scope else ""}
            ) as scored
            {scoring}
        )"""
    claim = "funnel.person_id, funnel.is_fit, funnel.score, funnel.mql_at"  # what each people row checks
    # The rule as SPEC states it, person by person in touch order: the reference, run for the
    # failing people's examples only.
    expected = f"""
        with {preamble}{touches},
        cumulative as (
            select
                *,
                sum(points) over (
                    partition by person_id order by touched_at, touchpoint_id
                    rows between unbounded preceding and current row
                ) as cumulative_points
            from touches
        ),
        expected as (
            select
                person_id,
                cast(sum(points) as double) as expected_score,
                -- points are never negative, so the first touch reaching the threshold is the earliest
                arg_min(touched_at, (touched_at, touchpoint_id)) filter (
                    where cumulative_points >= {threshold}
                ) as threshold_reached_at
            from cumulative
            group by person_id
        ),
        people as (
            select
                {claim},
                coalesce(expected.expected_score, 0) as expected_score,
                case when funnel.is_fit then expected.threshold_reached_at end as expected_mql_at
            from {FUNNEL} as funnel
            left join expected on funnel.person_id = expected.person_id
            {f"where funnel.{scope}" if scope else ""}
        )
    """
    # The same verdicts without ordering every person's touches (a window over millions of rows):
    # cumulative points only grow, so mql_at is the time the threshold is first reached exactly
    # when a touch happens then, the points through it reach the threshold, and those before it
    # (if any) do not. test_gate checks that both give the same verdicts on random touches.
    checked = f"""
        with {preamble}{touches},
        claims as (
            -- each claim once: a person's duplicated row must not count their touches twice
            select distinct person_id, mql_at from {FUNNEL}
            {f"where {scope}" if scope else ""}
        ),
        sums as (
            select
                claims.person_id,
                claims.mql_at,
                sum(touches.points) as total_points,
                count(*) filter (where touches.touched_at < claims.mql_at) as touches_before,
                sum(touches.points) filter (where touches.touched_at < claims.mql_at) as points_before,
                count(*) filter (where touches.touched_at = claims.mql_at) as touches_at,
                sum(touches.points) filter (where touches.touched_at <= claims.mql_at) as points_through
            from claims
            inner join touches on claims.person_id = touches.person_id
            group by claims.person_id, claims.mql_at
        ),
        people as (
            select
                {claim},
                cast(coalesce(sums.total_points, 0) as double) as expected_score,
                case
                    when not coalesce(funnel.is_fit, false) then funnel.mql_at is not null
                    when funnel.mql_at is null then coalesce(sums.total_points >= {threshold}, false)
                    else not coalesce(sums.touches_at > 0 and sums.points_through >= {threshold}
                                      and (sums.touches_before = 0 or sums.points_before < {threshold}), false)
                end as mql_at_wrong
            from {FUNNEL} as funnel
            left join sums on funnel.person_id = sums.person_id and funnel.mql_at is not distinct from sums.mql_at
            {f"where funnel.{scope}" if scope else ""}
        )
    """
    return checked, expected


def mql_rule_version(alignment: Alignment) -> str:
    """The MQL rule as the gate checks it, fingerprinted: a gate whose rule differs from the last
    publish's (other points or threshold, or a new version of the check) checks everyone again."""
    return hashlib.sha256(mql_people_sql(alignment)[0].encode()).hexdigest()[:16]


def mql_checks(plan: Plan, alignment: Alignment, people: str | None = None) -> None:
    checked, expected = mql_people_sql(alignment, people)
    violations = {
        "mql_not_fit": "mql_at is not null and not coalesce(is_fit, false)",
        "mql_below_threshold": f"mql_at is not null and coalesce(score, 0) < {alignment.mql.score_threshold!r}",
        "mql_at_not_threshold_touch": "mql_at is distinct from expected_mql_at",
        "score_not_total_points": "abs(coalesce(score, 0) - expected_score) > 1e-6",
    }
    checked_violations = violations | {"mql_at_not_threshold_touch": "mql_at_wrong"}
    descriptions = {
        "mql_not_fit": "no MQL for an unfit person (mql.fit)",
        "mql_below_threshold": f"every MQL has score >= mql.score_threshold ({alignment.mql.score_threshold:g})",
        "mql_at_not_threshold_touch": "for fit people, mql_at is the time of the touch at which cumulative points "
        "(int_touchpoints in time order, ties by touchpoint_id, mql.points) first reach the threshold; "
        "null when they never do",
        "score_not_total_points": "score is the person's total points over all touches (mql.points)",
    }
    if people:
        descriptions = {name: f"{text}; checked for {MQL_CHANGED_PEOPLE}" for name, text in descriptions.items()}
    counts = ",\n".join(f"count(*) filter (where {condition}) as {name}"
                        for name, condition in checked_violations.items())
    requires = (FUNNEL, TOUCHPOINTS)
    frame = plan.add_frame("fct_lead_funnel__mql_rule", f"{checked} select {counts} from people", requires)
    for name, condition in violations.items():
        plan.checks.append(Check(
            name=name,
            table="fct_lead_funnel",
            description=descriptions[name],
            frame=frame,
            expectations=(zero(name),),
            examples_sql=limit(f"{expected} select * from people where {condition} order by person_id"),
            requires=requires,
        ))


def speed_to_lead_checks(plan: Plan, alignment: Alignment) -> None:
    bounds = alignment.sla.buckets_minutes
    labels = alignment.sla.bucket_labels
    whens = " ".join(f"when response_minutes <= {bound} then {ql(label)}" for bound, label in zip(bounds, labels,
                                                                                                    strict=False))
    expected_bucket = (f"case when mql_at is null then null when response_minutes is null then 'no_response' "
                       f"{whens} else {ql(labels[-1])} end")
    expected_sla = (f"case when mql_at is null then null "
                    f"else coalesce(response_minutes <= {alignment.sla.response_minutes!r}, false) end")
    expected_minutes = ("case when mql_at is not null then "
                        "date_diff('microsecond', mql_at, first_response_at) / 60000000.0 end")
    violations = {
        "response_minutes_match_stages": f"not ((response_minutes is null and ({expected_minutes}) is null) or "
        f"abs(response_minutes - ({expected_minutes})) <= 1e-6)",
        "response_bucket_matches_minutes": f"response_bucket is distinct from ({expected_bucket})",
        "sla_met_matches_minutes": f"sla_met is distinct from ({expected_sla})",
    }
    descriptions = {
        "response_minutes_match_stages": "response_minutes = minutes from mql_at to first_response_at; "
        "null without mql_at",
        "response_bucket_matches_minutes": f"response_bucket is the sla.buckets_minutes bucket of response_minutes "
        f"({', '.join(labels)}, no_response; a bound value falls in the lower bucket); null without mql_at",
        "sla_met_matches_minutes": f"sla_met = response_minutes <= sla.response_minutes "
        f"({alignment.sla.response_minutes:g}), false without a response, null without mql_at",
    }
    counts = ",\n".join(f"count(*) filter (where {condition}) as {name}" for name, condition in violations.items())
    frame = plan.add_frame("fct_lead_funnel__speed_to_lead", f"select {counts} from {FUNNEL}", (FUNNEL,))
    for name, condition in violations.items():
        plan.checks.append(Check(
            name=name,
            table="fct_lead_funnel",
            description=descriptions[name],
            frame=frame,
            expectations=(zero(name),),
            examples_sql=limit(
                f"select person_id, mql_at, first_response_at, response_minutes, response_bucket, sla_met, "
                f"{expected_bucket} as expected_bucket, {expected_sla} as expected_sla_met "
                f"from {FUNNEL} where {condition} order by person_id"
            ),
            requires=(FUNNEL,),
        ))
    buckets = plan.add_frame("fct_lead_funnel__buckets",
                             f"select distinct response_bucket from {FUNNEL} order by 1", (FUNNEL,))
    plan.checks.append(Check(
        name="response_bucket_in_labels",
        table="fct_lead_funnel",
        description="response_bucket is one of the agreed labels",
        frame=buckets,
        expectations=(Expect("ExpectColumnValuesToBeInSet",
                             {"column": "response_bucket", "value_set": [*labels, "no_response"]}),),
        requires=(FUNNEL,),
    ))


# ---------------------------------------------------------------------------------------------
# fct_attribution: weights and reconciliation


def attribution_checks(plan: Plan) -> None:
    models = ", ".join(f"({ql(model)})" for model in ATTRIBUTION_MODELS)
    weight_of = " ".join(f"when {ql(model)} then weight_{model}" for model in ATTRIBUTION_MODELS)
    per_opportunity = f"""
        with weights as (
            -- one row per attribution row and model, nulls kept
            select attribution.opportunity_id, models.model, case models.model {weight_of} end as weight
            from {ATTRIBUTION} as attribution
            cross join (values {models}) as models(model)
        ),
        per_opportunity as (
            select
                model,
                opportunity_id,
                sum(weight) as weight_sum,
                min(weight) as min_weight,
                max(weight) as max_weight,
                count(*) filter (where weight is null or isnan(weight)) as null_or_nan_weights
            from weights
            group by all
        )
    """
    frame = plan.add_frame(
        "fct_attribution__weights",
        f"""{per_opportunity}
        select
            model,
            count(*) as opportunities,
            min(min_weight) as min_weight,
            max(max_weight) as max_weight,
            sum(null_or_nan_weights) as null_or_nan_weights,
            coalesce(max(abs(weight_sum - 1)), 0) as max_sum_deviation
        from per_opportunity
        group by model
        order by model
        """,
        (ATTRIBUTION,),
    )
    plan.checks.append(Check(
        name="weights_between_0_and_1",
        table="fct_attribution",
        description="every weight_<model> is a number in [0, 1] (not null, not NaN)",
        frame=frame,
        expectations=(
            each_between("min_weight", 0, 1),
            each_between("max_weight", 0, 1),
            each_between("null_or_nan_weights", 0, 0),
        ),
        examples_sql=limit(f"""{per_opportunity}
            select model, opportunity_id, min_weight, max_weight, null_or_nan_weights from per_opportunity
            where min_weight < 0 or max_weight > 1 or null_or_nan_weights > 0 order by opportunity_id, model"""),
        requires=(ATTRIBUTION,),
    ))
    plan.checks.append(Check(
        name="weights_sum_to_1",
        table="fct_attribution",
        description=f"each model's weights sum to 1 per opportunity (tolerance {WEIGHT_TOLERANCE:g})",
        frame=frame,
        expectations=(each_between("max_sum_deviation", max_value=WEIGHT_TOLERANCE),),
        examples_sql=limit(f"""{per_opportunity}
            select model, opportunity_id, weight_sum from per_opportunity
            where abs(weight_sum - 1) > {WEIGHT_TOLERANCE!r} order by opportunity_id, model"""),
        requires=(ATTRIBUTION,),
    ))
    plan.checks.append(Check(
        name="amount_constant_per_opportunity",
        table="fct_attribution",
        description="amount and is_won are the same on every row of an opportunity",
        frame=plan.add_frame(
            "fct_attribution__amounts",
            f"""select count(*) as inconsistent_opportunities from (
                select opportunity_id from {ATTRIBUTION} group by opportunity_id
                having count(distinct coalesce(amount, 0)) > 1 or count(distinct coalesce(is_won, false)) > 1)""",
            (ATTRIBUTION,),
        ),
        expectations=(zero("inconsistent_opportunities"),),
        examples_sql=limit(f"""select opportunity_id, list(distinct amount) as amounts, list(distinct is_won) as is_won
            from {ATTRIBUTION} group by opportunity_id
            having count(distinct coalesce(amount, 0)) > 1 or count(distinct coalesce(is_won, false)) > 1
            order by opportunity_id"""),
        requires=(ATTRIBUTION,),
    ))


def reconciliation_checks(plan: Plan, *, has_opportunities: bool) -> None:
    attributed = ", ".join(
        f"sum(weight_{m} * coalesce(amount, 0)) as pipeline_{m}, "
        f"sum(weight_{m} * coalesce(amount, 0)) filter (where is_won) as revenue_{m}"
        for m in ATTRIBUTION_MODELS
    )
    if has_opportunities:
        source, requires = OPPORTUNITIES, (ATTRIBUTION, OPPORTUNITIES)
        totals = (f"select coalesce(sum(coalesce(amount_reporting, 0)), 0) as pipeline_total, "
                  f"coalesce(sum(coalesce(amount_reporting, 0)) filter (where is_won), 0) as won_revenue_total "
                  f"from {OPPORTUNITIES}")
    else:
        source, requires = "distinct opportunities of fct_attribution", (ATTRIBUTION,)
        totals = (f"select coalesce(sum(amount), 0) as pipeline_total, "
                  f"coalesce(sum(amount) filter (where is_won), 0) as won_revenue_total from ("
                  f"select opportunity_id, any_value(coalesce(amount, 0)) as amount, bool_or(is_won) as is_won "
                  f"from {ATTRIBUTION} group by opportunity_id)")
    per_model = " union all ".join(
        f"select {ql(m)} as model, coalesce(pipeline_{m}, 0) as attributed_pipeline, "
        f"coalesce(revenue_{m}, 0) as attributed_revenue from attributed" for m in ATTRIBUTION_MODELS
    )
    frame = plan.add_frame(
        "fct_attribution__totals",
        f"""
        with attributed as (select {attributed} from {ATTRIBUTION}),
        totals as ({totals}),
        per_model as ({per_model})
        select
            per_model.model,
            per_model.attributed_pipeline,
            totals.pipeline_total,
            abs(per_model.attributed_pipeline - totals.pipeline_total)
                / greatest(abs(totals.pipeline_total), 1) as pipeline_relative_difference,
            per_model.attributed_revenue,
            totals.won_revenue_total,
            abs(per_model.attributed_revenue - totals.won_revenue_total)
                / greatest(abs(totals.won_revenue_total), 1) as revenue_relative_difference
        from per_model cross join totals
        order by per_model.model
        """,
        requires,
    )
    if has_opportunities:
        attributed = f"(select distinct opportunity_id from {ATTRIBUTION}) as attributed"
        missing = f"select opportunity_id from {OPPORTUNITIES} anti join {attributed} using (opportunity_id)"
        unknown = f"select opportunity_id from {attributed} anti join {OPPORTUNITIES} using (opportunity_id)"
        coverage = plan.add_frame(
            "fct_attribution__opportunities",
            f"select (select count(*) from ({missing})) as unattributed_opportunities, "
            f"(select count(*) from ({unknown})) as unknown_opportunities",
            requires,
        )
        for name, column, rule, examples in (
            ("every_opportunity_attributed", "unattributed_opportunities",
             f"every opportunity of {OPPORTUNITIES} has its rows (unattributed ones included)", missing),
            ("opportunities_known", "unknown_opportunities",
             f"every opportunity_id is one of {OPPORTUNITIES}", unknown),
        ):
            plan.checks.append(Check(
                name=name, table="fct_attribution", description=rule, frame=coverage,
                expectations=(zero(column),), examples_sql=limit(f"{examples} order by opportunity_id"),
                requires=requires,
            ))
    for name, column, what in (
        ("attributed_pipeline_equals_pipeline", "pipeline_relative_difference", "pipeline (all opportunity amounts)"),
        ("attributed_revenue_equals_won_revenue", "revenue_relative_difference", "won revenue (won amounts)"),
    ):
        plan.checks.append(Check(
            name=name,
            table="fct_attribution",
            description=f"per model, sum of weight x amount equals total {what} over {source} "
            f"(relative tolerance {TOTALS_TOLERANCE:g})",
            frame=frame,
            expectations=(at_most(column, TOTALS_TOLERANCE),),
            requires=requires,
        ))


# ---------------------------------------------------------------------------------------------
# marts: funnel counts, rates, value sets


def is_rate_column(column: str) -> bool:
    """Rates, shares and stage-to-stage conversions (SPEC 4.1), not medians/targets of them."""
    if column.startswith(("median_", "avg_", "p90_", "target_", "cost_")):
        return False
    parts = column.split("_")
    if "rate" in parts or "share" in parts:
        return True
    match = re.fullmatch(r"([a-z]+)_to_([a-z]+)", column)
    return bool(match) and match.group(1) in FUNNEL_STAGES and match.group(2) in FUNNEL_STAGES


def funnel_count_checks(plan: Plan, columns: list[str]) -> None:
    table = "marts.mart_funnel_conversion"
    needed = sorted({c for pair in FUNNEL_COUNT_PAIRS for c in pair}, key=lambda c: columns.index(c)
                    if c in columns else 99)
    grain = [c for c in ("cohort_month", "first_channel") if c in columns]
    frame = plan.add_frame(
        "mart_funnel_conversion__counts",
        f"select {', '.join(qi(c) for c in grain + needed)} from {table} order by all",
        (table,),
    )
    plan.checks.append(Check(
        name="funnel_counts_never_increase",
        table="mart_funnel_conversion",
        description="per row " + ", ".join(f"{a} >= {b}" for a, b in FUNNEL_COUNT_PAIRS)
        + " (only pairs that hold when people skip stages)",
        frame=frame,
        expectations=tuple(
            Expect("ExpectColumnPairValuesAToBeGreaterThanB", {"column_A": a, "column_B": b, "or_equal": True})
            for a, b in FUNNEL_COUNT_PAIRS
        ),
        requires=(table,),
    ))


def rate_checks(plan: Plan, table: str, columns: list[str]) -> None:
    rates = [c for c in columns if is_rate_column(c)]
    if not rates:
        return
    grain = [c for c in GRAINS[table][0] if c in columns]
    qualified = f"marts.{table}"
    # every rate of every row, long (grain, rate_column, rate_value); NaN (0/0 in double arithmetic)
    # would look missing to pandas and be skipped by min/max: it is reported as infinity
    selected = [qi(c) for c in grain] + [
        f"case when isnan(cast({qi(c)} as double)) then cast('infinity' as double) "
        f"else cast({qi(c)} as double) end as {qi(c)}" for c in rates
    ]
    long = (f"unpivot (select {', '.join(selected)} from {qualified}) "
            f"on {', '.join(qi(c) for c in rates)} into name rate_column value rate_value")
    # GX validates each rate column's smallest and largest value (a mart can have 350k rows at
    # 1M people: too many to hand to pandas every night); the failing rows come from SQL
    frame = plan.add_frame(
        f"{table}__rates",
        f"select rate_column, min(rate_value) as min_rate, max(rate_value) as max_rate "
        f"from ({long}) group by rate_column order by rate_column",
        (qualified,),
    )
    plan.checks.append(Check(
        name="rates_between_0_and_1",
        table=table,
        description=f"rates/shares in [0, 1] or null ({', '.join(rates)}); NaN reported as inf",
        frame=frame,
        expectations=tuple(each_between(column, 0, 1) for column in ("min_rate", "max_rate")),
        examples_sql=limit(f"select * from ({long}) where not (rate_value between 0 and 1) order by all"),
        requires=(qualified,),
    ))


def value_set_checks(plan: Plan, table: str, columns: list[str]) -> None:
    sets = {"model": list(ATTRIBUTION_MODELS), "stage": list(CONTENT_STAGES)}
    for column, values in sets.items():
        if column not in GRAINS[table][0] or column not in columns:
            continue
        qualified = f"marts.{table}"
        plan.checks.append(Check(
            name=f"{column}_in_set",
            table=table,
            description=f"{column} is one of {', '.join(values)}",
            frame=plan.add_frame(f"{table}__{column}_values",
                                 f"select distinct {qi(column)} from {qualified} order by 1", (qualified,)),
            expectations=(Expect("ExpectColumnValuesToBeInSet", {"column": column, "value_set": values}),),
            requires=(qualified,),
        ))


# ---------------------------------------------------------------------------------------------
# volume against the last publish


def volume_checks(plan: Plan, *, current: dict[str, int], previous: dict[str, int] | None,
                  ratio: tuple[float, float], accept_volume_change: bool) -> None:
    low, high = ratio
    for table in GATED_TABLES:
        if table not in current:
            continue
        before = (previous or {}).get(table)
        skipped = None
        if previous is None:
            skipped = "first publish: no previous row counts"
        elif before is None:
            skipped = "table not in the last publish"
        elif before < VOLUME_MIN_PREVIOUS_ROWS:
            skipped = f"last publish had {before} rows (< {VOLUME_MIN_PREVIOUS_ROWS})"
        frame = None
        if skipped is None:
            frame = plan.add_frame(
                f"{table}__volume",
                f"select {before} as previous_rows, {current[table]} as current_rows, "
                f"{current[table]} / {before}::double as ratio",
                (),
            )
        plan.checks.append(Check(
            name="row_count_vs_last_publish",
            table=table,
            description=f"row count within {low:g}x..{high:g}x of the last publish (tables with >= "
            f"{VOLUME_MIN_PREVIOUS_ROWS} rows then)"
            + ("; volume change accepted for this run (not blocking)" if accept_volume_change else ""),
            frame=frame,
            expectations=(largest_between("ratio", low, high),),  # one row
            blocking=not accept_volume_change,
            skipped=skipped,
        ))


# ---------------------------------------------------------------------------------------------


def build_plan(
    alignment: Alignment,
    *,
    columns: dict[str, list[str]],
    previous_counts: dict[str, int] | None,
    current_counts: dict[str, int],
    volume_ratio: tuple[float, float] = DEFAULT_VOLUME_RATIO,
    accept_volume_change: bool = False,
    mql_people: str | None = None,
) -> Plan:
    """Every check for the tables as built. `columns` maps "schema.table" to its columns (existing tables only).
    `mql_people`: a query of the person_ids the MQL rule is checked for (None: everyone)."""
    plan = Plan()
    for table in GATED_TABLES:
        plan.checks.append(Check(
            name="table_exists",
            table=table,
            description=f"marts.{table} was built",
            requires=(f"marts.{table}",),
        ))
        if f"marts.{table}" in columns:
            key_checks(plan, table)
    stage_order_checks(plan)
    mql_checks(plan, alignment, mql_people)
    speed_to_lead_checks(plan, alignment)
    attribution_checks(plan)
    reconciliation_checks(plan, has_opportunities=OPPORTUNITIES in columns)
    if "marts.mart_funnel_conversion" in columns:
        funnel_count_checks(plan, columns["marts.mart_funnel_conversion"])
    for table in GATED_TABLES:
        if table.startswith("mart_") and f"marts.{table}" in columns:
            rate_checks(plan, table, columns[f"marts.{table}"])
            value_set_checks(plan, table, columns[f"marts.{table}"])
    volume_checks(plan, current=current_counts, previous=previous_counts, ratio=volume_ratio,
                  accept_volume_change=accept_volume_change)
    return plan
