"""The demo source: a seeded, deterministic generator of every raw object (SPEC 1.1, 1.2).

It writes what the real APIs would return (Salesforce API field names and value formats,
HubSpot CRM v3 records, email events, form submissions, ad spend rows) through the same
landing path as the other modes, so the whole pipeline runs on it unchanged.

Everything is generated in DuckDB SQL from `range()` and a hash-based uniform
`u(salt, a, b)` of (seed, salt, a, b): no per-row Python, no `random()`, so the same seed and
people count give the same landed data on any number of threads, and a million people take
well under a minute.

The story each person follows (published B2B figures as the guide):
- ~80% arrive inbound: a first web visit (HubSpot), then 1-20 touches over weeks (forms,
  "Request a demo"/"Contact sales", email opens/clicks, Salesforce campaign responses).
  Touches are scored with alignment.yml's points, so the generator knows when a person
  becomes an MQL (about a quarter do) and makes sales answer after that: minutes for most,
  hours or days for some, never for ~10%.
- ~13% are sales-sourced leads (Outbound / Cold Call) with no marketing touches.
- ~4% are contacts at existing customers (no lead), some with expansion deals.
- Answered MQLs are worked (Lead Status history: Working - Contacted, then Qualified,
  Disqualified or Nurture, some recycled); qualified leads convert into a contact, their
  account and (mostly) an opportunity with line items, contact roles and stage history.
  About a quarter of closed deals are won; deals come in USD, EUR and GBP.
- Some records are deleted (merged duplicate leads, deals, tasks) or archived, and ~5% of
  leads, opportunities and HubSpot contacts are re-extracted in a second batch with a newer
  SystemModstamp / updatedAt.
Timestamps end at DEMO_END (2026-10-31 UTC) and span two years.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.alignment import Alignment
from orchestration.duck import connect, quote_literal, scalar
from orchestration.landing import ensure_every_object_has_a_schema, land_batch, new_batch_id
from orchestration.raw_schema import RawObject, raw_object
from orchestration.settings import Settings
from orchestration.sources import SYSTEMS, ExtractReport

log = logging.getLogger("closedloop.demo")

SOURCE = "demo"
DEMO_END = datetime(2026, 10, 31, tzinfo=UTC)
END = int(DEMO_END.timestamp())  # epoch seconds; nothing happens at or after this instant
DAY = 86400
SPAN_DAYS = 730
START = END - SPAN_DAYS * DAY
FIRST_QUARTER = (2024, 4)  # campaign quarters: 2024-Q4 .. 2026-Q4
QUARTERS = 9
REISSUE_SHARE = 0.05  # records re-extracted in a second batch with a newer version

FIRST_NAMES = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
               "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
               "Lukas", "Emma", "Noah", "Olivia", "Liam", "Sophie", "Hugo", "Chloe", "Raj", "Priya", "Wei", "Mei",
               "Ahmed", "Fatima", "Mateo", "Lucia", "Jonas", "Anna", "Oliver", "Amelia"]
LAST_NAMES = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
              "Wilson", "Anderson", "Taylor", "Moore", "Martin", "Lee", "Thompson", "White", "Harris", "Clark",
              "Mueller", "Schmidt", "Schneider", "Fischer", "Dubois", "Laurent", "Bernard", "Rossi", "Jansen",
              "De Vries", "Patel", "Sharma", "Chen", "Wang", "Kim", "Nguyen", "Silva", "Santos", "Murphy", "Walsh"]
TITLES = ["VP Marketing", "Marketing Manager", "Head of Demand Generation", "CMO", "Sales Director", "VP Sales",
          "RevOps Manager", "Marketing Operations Manager", "CEO", "Founder", "Growth Lead", "Data Analyst",
          "Director of Revenue Operations", "Content Marketing Manager", "Account Executive", "CFO"]
COMPANY_WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell",
                 "Cyberdyne", "Aperture", "Wonka", "Gringotts", "Oscorp", "Pied Piper", "Massive", "Nakatomi",
                 "Blue Sun", "Monarch", "Vertex", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware",
                 "Proseware", "Adatum", "Lucerne", "Margie", "Bluewave", "Brightpath", "Cloudline", "Datasync"]
COMPANY_SUFFIXES = ["Inc", "Corp", "GmbH", "Ltd", "Labs", "Systems", "Analytics", "Group", "Technologies", "SA",
                    "BV", "Software", "Partners", "Health", "Logistics", "Solutions"]
INDUSTRIES = ["Technology", "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail",
              "Education", "Media", "Consulting", "Telecommunications", "Logistics", "Energy"]
# (country, share, currency)
COUNTRIES = [("United States", 0.48, "USD"), ("United Kingdom", 0.12, "GBP"), ("Germany", 0.10, "EUR"),
             ("France", 0.06, "EUR"), ("Canada", 0.06, "USD"), ("Netherlands", 0.05, "EUR"),
             ("Australia", 0.04, "USD"), ("Spain", 0.03, "EUR"), ("India", 0.03, "USD"), ("Brazil", 0.03, "USD")]
CAMPAIGN_TYPES = ["Webinar", "Trade Show", "Content", "eBook", "Paid Search", "Paid Social", "Email", "Partners",
                  "Referral Program", "Conference", "Direct Mail"]
CAMPAIGN_LABELS = ["Webinar: Pipeline Forecasting Live", "SaaStr Booth", "Guide: Closed-Loop Reporting",
                   "eBook: The RevOps Playbook", "Paid Search - Brand", "Paid Social - LinkedIn ABM",
                   "Newsletter", "Partner Co-Marketing", "Customer Referral Program", "RevOps Summit",
                   "Direct Mail - Swag Box"]
# USD list prices per product; EUR and GBP price books are rounded conversions.
PRODUCTS = [("01t000000000000001", "Platform - Starter", 6000), ("01t000000000000002", "Platform - Growth", 18000),
            ("01t000000000000003", "Platform - Enterprise", 60000), ("01t000000000000004", "Seat Pack (10)", 2400),
            ("01t000000000000005", "Onboarding Services", 5000), ("01t000000000000006", "Premium Support", 8000)]
# (guid, v3 id, name, is a demo request form, page path)
FORMS = [
    ("4f1c2a9e-8b7d-4c3e-9a1f-0d2b3c4e5f60", "4f1c2a9e-8b7d-4c3e-9a1f-0d2b3c4e5f60", "Request a demo", "/demo"),
    ("7a3e5c1b-2d4f-4a6b-8c9d-1e2f3a4b5c61", "7a3e5c1b-2d4f-4a6b-8c9d-1e2f3a4b5c61", "Contact sales", "/contact-sales"),
    ("9b2d4f6a-1c3e-4b5d-9e7f-2a3b4c5d6e62", "9b2d4f6a-1c3e-4b5d-9e7f-2a3b4c5d6e62", "Newsletter signup", "/blog"),
    ("2c4e6a8b-3d5f-4c7e-8f9a-3b4c5d6e7f63", "2c4e6a8b-3d5f-4c7e-8f9a-3b4c5d6e7f63",
     "eBook download: The RevOps Playbook", "/resources/revops-playbook"),
    (None, "5d7f9b1c-4e6a-4d8f-9a0b-4c5d6e7f8a64", "Webinar registration", "/webinars"),  # a v3 form: id only
    ("8e1a3c5d-5f7b-4e9a-8b1c-5d6e7f8a9b65", "8e1a3c5d-5f7b-4e9a-8b1c-5d6e7f8a9b65", "Contact us", "/contact"),
    ("3f5b7d9e-6a8c-4f0b-9c2d-6e7f8a9b0c66", "3f5b7d9e-6a8c-4f0b-9c2d-6e7f8a9b0c66", "Free trial signup", "/trial"),
]
HS_SOURCES = [("ORGANIC_SEARCH", 0.28, "google"), ("PAID_SEARCH", 0.16, "google / cpc"),
              ("PAID_SOCIAL", 0.12, "linkedin"), ("SOCIAL_MEDIA", 0.08, "twitter"),
              ("EMAIL_MARKETING", 0.06, "newsletter"), ("REFERRALS", 0.10, "g2.com"),
              ("DIRECT_TRAFFIC", 0.15, None), ("OFFLINE", 0.03, "IMPORT"), ("OTHER_CAMPAIGNS", 0.02, "podcast")]
UTM_MEDIUMS = ["cpc", "paid_social", "email", "social", "referral", "partner", "event", "display", "organic"]

# Journey touch kinds: (kind, touch type scored by alignment.yml, campaign type index or None)
TOUCH_KINDS = {
    "visit": ("page_visit", None), "form": ("form_submission", None), "demo": ("demo_request", None),
    "open": ("email_open", None), "click": ("email_click", None), "cm_webinar": ("webinar_attended", 0),
    "cm_event": ("event_attended", 1), "cm_content": ("content_download", 2), "cm_ad": ("ad_click", 4),
    "cm_email": ("email_click", 6), "cm_partner": ("form_submission", 7), "cm_referral": ("form_submission", 8),
    "cm_other": ("form_submission", 10),
}
KIND_WEIGHTS = {
    "cold": [("open", 0.44), ("click", 0.17), ("cm_ad", 0.10), ("cm_content", 0.08), ("form", 0.05),
             ("cm_email", 0.08), ("cm_webinar", 0.04), ("cm_event", 0.02), ("cm_other", 0.02)],
    "warm": [("open", 0.26), ("click", 0.16), ("form", 0.14), ("cm_content", 0.11), ("cm_webinar", 0.10),
             ("cm_event", 0.06), ("cm_ad", 0.07), ("cm_email", 0.05), ("cm_partner", 0.03), ("cm_referral", 0.02)],
    "customer": [("open", 0.6), ("click", 0.3), ("cm_webinar", 0.1)],
}


def extract(settings: Settings, alignment: Alignment, systems: Collection[str] = SYSTEMS) -> ExtractReport:
    """Generate the demo org and land every object of `systems` under settings.raw_dir."""
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise ValueError(f"unknown system {unknown[0]!r}; known: {', '.join(SYSTEMS)}")
    if settings.demo_people < 1:
        raise ValueError(f"CLOSEDLOOP_DEMO_PEOPLE must be at least 1, got {settings.demo_people}")
    raw_dir = Path(settings.raw_dir)
    report = ExtractReport()
    # The demo org is deterministic: landing it again would only duplicate raw. A nightly run on
    # demo data whose seed and size were already landed therefore has nothing new to land.
    marker = settings.state_dir / "demo_landed.json"
    landed = set(json.loads(marker.read_text())) if marker.exists() else set()
    signature = f"seed={settings.demo_seed};people={settings.demo_people}"
    pending = [system for system in systems if f"{signature};system={system}" not in landed]
    if not pending:
        report.notes.append(f"demo data ({signature}) already landed: nothing new")
        log.info("demo: %s already landed, nothing new", signature)
        return report
    systems = pending
    con = connect()
    try:
        started = time.monotonic()
        log.info("demo: generating %s people (seed %s)", f"{settings.demo_people:,}", settings.demo_seed)
        generate(con, settings.demo_people, settings.demo_seed, alignment)
        log.info("demo: generated in %.1fs", time.monotonic() - started)
        for obj, relation in object_batches(con, systems):
            batch = land_batch(con, raw_dir, obj, relation, new_batch_id(SOURCE))
            report.batches.append(batch)
            log.info("demo: landed %s: %s rows", obj.folder, f"{batch.rows:,}")
        unmatched = scalar(con, "select count(*) from anonymous_submissions")
        if "hubspot" in systems:
            report.notes.append(f"{unmatched} form submissions without an email value")
        ensure_every_object_has_a_schema(con, raw_dir, SOURCE)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(sorted(landed | {f"{signature};system={system}" for system in systems})))
        log.info("demo: done in %.1fs", time.monotonic() - started)
    finally:
        con.close()
    return report


def object_batches(con: duckdb.DuckDBPyConnection,
                   systems: Collection[str] = SYSTEMS) -> Iterator[tuple[RawObject, duckdb.DuckDBPyRelation]]:
    """The generated org (`generate` first) as the batches an extract brings, in landing order.

    A reissued object (leads, opportunities, HubSpot contacts) comes as two batches: every record
    at its older version for the reissued ones, then the reissued records' current versions.
    """
    for system, name, sql, reissue in _objects():
        if system not in systems:
            continue
        obj = raw_object(system, name)
        if reissue is None:
            yield obj, con.sql(sql)
            continue
        # the current versions once; the first batch holds older versions of the reissued ones
        con.execute(f"create or replace temp table current_versions as {sql}").fetchall()
        older = reissue.replace(f"({sql})", "current_versions")
        assert older != reissue, f"{name}: the older version must derive from the current one"
        for batch_sql in ("select * from current_versions where not _reissued union all "
                          f"select * from ({older}) where _reissued",
                          "select * from current_versions where _reissued"):
            yield obj, con.sql(f"select * exclude (_reissued) from ({batch_sql})")


# --- SQL helpers ---------------------------------------------------------------------------------

def _list(values: list) -> str:
    return "[" + ", ".join("NULL" if v is None else quote_literal(v) for v in values) + "]"


def _weighted_case(r: str, choices: list[tuple[str, float]]) -> str:
    """A case expression picking choice i when r falls in its share of [0, 1)."""
    total = sum(weight for _, weight in choices)
    edge, parts = 0.0, []
    for value, weight in choices[:-1]:
        edge += weight / total
        parts.append(f"when {r} < {edge:.6f} then {quote_literal(value)}")
    return f"(case {' '.join(parts)} else {quote_literal(choices[-1][0])} end)"


def _macros(seed: int) -> list[str]:
    return [
        # uniform in [0, 1) from (seed, salt, a, b): deterministic whatever the thread count
        f"create or replace temp macro u(s, a, b) as "
        f"(hash({int(seed)}::bigint, s::varchar, a::bigint, b::bigint) >> 11)::double / 9007199254740992.0",
        "create or replace temp macro pick(lst, x) as lst[1 + floor(x * len(lst))::integer]",
        "create or replace temp macro ts(sec) as make_timestamp(sec::bigint * 1000000)",
        "create or replace temp macro sfdt(sec) as strftime(ts(sec), '%Y-%m-%dT%H:%M:%S.000+0000')",
        "create or replace temp macro sfd(sec) as strftime(ts(sec), '%Y-%m-%d')",
        "create or replace temp macro isoz(sec) as strftime(ts(sec), '%Y-%m-%dT%H:%M:%S.') || "
        "lpad(((sec::bigint * 7919) % 1000)::varchar, 3, '0') || 'Z'",
        "create or replace temp macro epochms(sec) as (sec::bigint * 1000 + (sec::bigint * 7919) % 1000)::varchar",
        "create or replace temp macro sfid(prefix, n) as prefix || lpad(n::bigint::varchar, 15, '0')",
        "create or replace temp macro tf(x) as case when x then 'true' else 'false' end",
        "create or replace temp macro money(x) as round(x, 2)::decimal(18, 2)::varchar",
        # 0 = 2024-Q4 .. 8 = 2026-Q4
        f"create or replace temp macro quarter_no(sec) as least({QUARTERS - 1}, greatest(0, "
        f"(year(ts(sec)) - {FIRST_QUARTER[0]}) * 4 + quarter(ts(sec)) - {FIRST_QUARTER[1]}))",
    ]


def generate(con: duckdb.DuckDBPyConnection, people: int, seed: int, alignment: Alignment) -> None:
    """Build the demo org as temp tables in `con` (the landed objects are selects over them)."""
    for statement in _macros(seed) + _tables(people, alignment):
        con.execute(statement).fetchall()


def _tables(people: int, alignment: Alignment) -> list[str]:
    n_accounts = max(10, people // 4)
    n_reps = min(3000, max(5, people // 400))
    n_users = n_reps + 4  # plus marketing users and one inactive former rep
    points = alignment.mql.points
    threshold = alignment.mql.score_threshold
    kind_points = " ".join(f"when {quote_literal(kind)} then {float(points.get(touch_type, 0))}"
                           for kind, (touch_type, _) in TOUCH_KINDS.items())
    kind_campaign_type = " ".join(f"when {quote_literal(kind)} then {index}"
                                  for kind, (_, index) in TOUCH_KINDS.items() if index is not None)
    country_case = _weighted_case("u('country', a, 0)", [(c, s) for c, s, _ in COUNTRIES])
    currency_case = "case country " + " ".join(
        f"when {quote_literal(c)} then {quote_literal(cur)}" for c, _, cur in COUNTRIES) + " end"
    hs_source_case = _weighted_case("u('hs_source', p, 0)", [(s, w) for s, w, _ in HS_SOURCES])
    first_names, last_names = _list(FIRST_NAMES), _list(LAST_NAMES)
    return [
        # ---- users: sales reps 1..n_reps, then marketing users, then an inactive former rep
        f"""create temp table users as
        select i as user_no,
            pick({first_names}, u('user_fn', i, 0)) as first_name,
            pick({last_names}, u('user_ln', i, 0)) as last_name,
            case when i <= {n_reps} then 'Sales' else 'Marketing' end as department,
            i < {n_users} as is_active
        from range(1, {n_users + 1}) t(i)""",
        # ---- accounts: segments by employees (some unknown), countries and their deal currency
        f"""create temp table accounts as
        with base as (
            select a, u('seg', a, 0) as r_seg, {country_case} as country,
                pick({_list(COMPANY_WORDS)}, u('cw', a, 0)) as word,
                pick({_list(COMPANY_SUFFIXES)}, u('cs', a, 0)) as suffix
            from range({n_accounts}) t(a)
        )
        select a, word || ' ' || suffix || case when a >= {len(COMPANY_WORDS) * len(COMPANY_SUFFIXES)}
                                              then ' ' || (a // 97)::varchar else '' end as name,
            lower(replace(word, ' ', '')) || '-' || a::varchar || '.com' as domain,
            pick({_list(INDUSTRIES)}, u('ind', a, 0)) as industry,
            case when u('emp_null', a, 0) < 0.07 then null
                 when r_seg < 0.55 then 5 + floor(u('emp', a, 0) * 195)::bigint
                 when r_seg < 0.85 then 200 + floor(u('emp', a, 0) * 800)::bigint
                 else floor(1000 * pow(50, u('emp', a, 0)))::bigint end as employees,
            country, {currency_case} as currency,
            1 + floor(u('acct_owner', a, 0) * {n_reps})::bigint as owner_no,
            {START} - floor(u('acct_created', a, 0) * 400 * {DAY})::bigint as created_sec
        from base""",
        # ---- people: who they are, how they arrive, how many touches they make
        f"""create temp table people as
        with base as (
            select p, u('kind', p, 0) as r_kind, u('intent', p, 0) as intent,
                floor(pow(u('acct', p, 0), 1.3) * {n_accounts})::bigint as account_no,
                pick({first_names}, u('fn', p, 0)) as first_name,
                pick({last_names}, u('ln', p, 0)) as last_name,
                pick({_list(TITLES)}, u('title', p, 0)) as title,
                {START} + floor(pow(u('t0', p, 0), 0.85) * {(SPAN_DAYS - 3) * DAY})::bigint as t0,
                {hs_source_case} as hs_source
            from range({people}) t(p)
        ), typed as (
            select *, case when r_kind < 0.13 then 'sales' when r_kind < 0.17 then 'customer' else 'inbound' end
                          as kind,
                case when intent < 0.09 then 'hot' when intent < 0.34 then 'warm' else 'cold' end as intent_class
            from base
        )
        select typed.p, typed.kind, typed.intent_class, typed.account_no, typed.first_name, typed.last_name,
            typed.title, typed.t0,
            lower(left(typed.first_name, 1) || replace(typed.last_name, ' ', '')) || typed.p::varchar || '@'
                || accounts.domain as email,
            case typed.kind when 'sales' then true when 'customer' then false
                 else u('has_lead', typed.p, 0) < 0.88 end as has_lead,
            case typed.kind when 'inbound' then true when 'sales' then u('has_hs', typed.p, 0) < 0.25
                 else u('has_hs', typed.p, 0) < 0.6 end as has_hs,
            case typed.kind when 'sales' then 0
                 when 'customer' then case when u('has_hs', typed.p, 0) < 0.6
                                           then floor(6 * pow(u('k', typed.p, 0), 2))::bigint else 0 end
                 when 'inbound' then greatest(case when typed.intent_class = 'hot' then 2 else 1 end,
                                              1 + floor(19 * pow(u('k', typed.p, 0), 2.2))::bigint)
            end as n_touches,
            1 + 120 * pow(u('journey', typed.p, 0), 1.6) as journey_days,
            case typed.kind when 'sales' then case when u('ls', typed.p, 0) < 0.6 then 'Outbound' else 'Cold Call' end
                 when 'customer' then case when u('ls', typed.p, 0) < 0.5 then 'Sales Generated' end
                 else case when u('ls', typed.p, 0) < 0.1 then null else case typed.hs_source
                     when 'PAID_SEARCH' then 'Paid Search' when 'PAID_SOCIAL' then 'Paid Social'
                     when 'REFERRALS' then 'Partner Referral' when 'OFFLINE' then 'Trade Show'
                     when 'EMAIL_MARKETING' then 'Email' else 'Web' end end
            end as lead_source,
            case when typed.kind = 'sales' then null else typed.hs_source end as hs_source,
            case when u('owner', typed.p, 0) < 0.01 then {n_users}
                 else 1 + floor(u('owner', typed.p, 0) * {n_reps})::bigint end as owner_no,
            accounts.name as company, accounts.industry, accounts.employees, accounts.country, accounts.currency
        from typed join accounts on typed.account_no = accounts.a""",
        # ---- planned touches: j = 0 is the first visit; later touches spread over the journey
        f"""create temp table touches as
        with spread as (
            select p, kind as person_kind, intent_class, has_lead, t0, n_touches, journey_days,
                unnest(range(n_touches)) as j
            from people where n_touches > 0
        ), timed as (
            select *, case when j = 0 then t0 else t0 + {DAY} + floor(journey_days * {DAY}
                      * (j - 1 + u('tj', p, j)) / greatest(n_touches - 1, 1))::bigint end as raw_sec,
                case when j = 0 then 'visit'
                     when intent_class = 'hot' and j = n_touches - 1 and person_kind = 'inbound' then 'demo'
                     when person_kind = 'customer' then {_weighted_case("u('tk', p, j)", KIND_WEIGHTS['customer'])}
                     when intent_class = 'cold' then {_weighted_case("u('tk', p, j)", KIND_WEIGHTS['cold'])}
                     else {_weighted_case("u('tk', p, j)", KIND_WEIGHTS['warm'])} end as planned_kind
            from spread
        ), kinded as (
            -- campaign responses need a Salesforce record: HubSpot-only people fill in forms instead
            select p, j, person_kind, case when planned_kind like 'cm_%' and not has_lead
                                           and person_kind = 'inbound' then 'form' else planned_kind end as kind,
                case when planned_kind like 'cm_%' and (has_lead or person_kind = 'customer')
                     then raw_sec // {DAY} * {DAY} else raw_sec end as touch_sec
            from timed where raw_sec < {END} - 3600
        )
        select p, j, kind, touch_sec, case kind {kind_points} else 0 end as points,
            case when kind like 'cm_%' then
                quarter_no(touch_sec) * {len(CAMPAIGN_TYPES)} + case kind {kind_campaign_type} end
                + case when kind = 'cm_event' and u('ct', p, j) < 0.4 then 8
                       when kind = 'cm_content' and u('ct', p, j) < 0.5 then 1
                       when kind = 'cm_ad' and u('ct', p, j) < 0.45 then 1 else 0 end
            end as campaign_no
        from kinded""",
        # ---- per person: planned MQL (alignment.yml's points) and what sales does about it
        f"""create temp table plan as
        with scored as (
            select p, touch_sec, campaign_no,
                sum(points) over (partition by p order by touch_sec, j rows unbounded preceding) as cum
            from touches
        ), per_person as (
            select p, min(touch_sec) filter (where cum >= {threshold}) as mql_sec, max(touch_sec) as last_touch_sec,
                max(cum) as score, min(touch_sec) as first_touch_sec,
                arg_min(campaign_no, touch_sec) filter (where campaign_no is not null) as first_campaign_no
            from scored group by p
        ), base as (
            select people.*, per_person.mql_sec, per_person.last_touch_sec, coalesce(per_person.score, 0) as score,
                per_person.first_campaign_no,
                case when people.kind = 'sales' then people.t0
                     else people.t0 + 60 + floor(u('lead_created', people.p, 0) * 36000)::bigint end as lead_created,
                u('resp', people.p, 0) as r_resp, u('outcome', people.p, 0) as r_out,
                u('nonmql', people.p, 0) as r_nonmql
            from people left join per_person on people.p = per_person.p
        ), responded as (
            select *,
                case when not has_lead then null
                     when kind = 'sales' then lead_created + 60 + floor(u('delay', p, 0) * 7200)::bigint
                     when mql_sec is null then null
                     when r_resp < 0.22 then mql_sec + 30 + floor(u('delay', p, 0) * 270)::bigint
                     when r_resp < 0.52 then mql_sec + 300 + floor(u('delay', p, 0) * 3300)::bigint
                     when r_resp < 0.76 then mql_sec + 3600 + floor(u('delay', p, 0) * 82800)::bigint
                     when r_resp < 0.90 then mql_sec + {DAY} + floor(pow(u('delay', p, 0), 2) * 13 * {DAY})::bigint
                end as resp_plan
            from base
        ), worked as (
            select *, case when resp_plan < {END} then resp_plan end as resp_sec,
                case when resp_plan < {END} then resp_plan + floor(u('working', p, 0) * 900)::bigint end
                    as working_sec,
                case when has_lead and kind = 'inbound' and u('pre', p, 0) < 0.06 then lead_created + 60
                     + floor((coalesce(mql_sec, {END}) - lead_created - 120) * u('pre_at', p, 0))::bigint end
                    as pre_task_sec,
                case when kind = 'sales' then case when r_out < 0.24 then 'qualified' when r_out < 0.62
                     then 'disqualified' when r_out < 0.77 then 'nurture' else 'working' end
                     else case when r_out < 0.50 then 'qualified' when r_out < 0.76 then 'disqualified'
                     else 'nurture' end end as outcome
            from responded
        ), outcomes as (
            select *,
                case when outcome = 'qualified' and working_sec is not null then working_sec + {DAY}
                     + floor(pow(u('qual', p, 0), 2) * 13 * {DAY})::bigint end as qual_sec,
                case when outcome = 'disqualified' and working_sec is not null then working_sec + 3600
                     + floor(u('disq', p, 0) * 30 * {DAY})::bigint
                     when working_sec is null and has_lead and kind = 'inbound' and r_nonmql < 0.13
                     then lead_created + {DAY} + floor(u('disq', p, 0) * 20 * {DAY})::bigint end as disq_sec,
                case when outcome = 'nurture' and working_sec is not null then working_sec + 2 * {DAY}
                     + floor(u('nurt', p, 0) * 38 * {DAY})::bigint
                     when working_sec is null and has_lead and kind = 'inbound' and r_nonmql >= 0.13
                     and r_nonmql < 0.27 then lead_created + 10 * {DAY} + floor(u('nurt', p, 0) * 80 * {DAY})::bigint
                end as nurt_sec,
                pick(['No budget', 'Timing', 'Competitor', 'Not a fit', 'No response', 'Student / personal'],
                     pow(u('reason', p, 0), 1.4)) as disq_reason,
                u('recycle', p, 0) < 0.35 as recycles,
                u('has_opp', p, 0) < 0.9 as converts_with_opp
            from worked
        )
        select *,
            case when recycles and nurt_sec is not null then nurt_sec + 30 * {DAY}
                 + floor(u('rework', p, 0) * 90 * {DAY})::bigint end as rework_sec,
            case when recycles and nurt_sec is not null then nurt_sec + 50 * {DAY}
                 + floor(u('rework', p, 0) * 90 * {DAY})::bigint + floor(u('renurt', p, 0) * 30 * {DAY})::bigint
            end as renurt_sec,
            case when qual_sec + 3 * {DAY} < {END} then qual_sec + floor(u('convert', p, 0) * 3 * {DAY})::bigint
            end as convert_sec
        from outcomes""",
        # ---- lead status history: one row per status change, the lead's Status is the last one
        f"""create temp table status_changes as
        with changes as (
            select p, 1 as seq, working_sec as sec, 'Working - Contacted' as status from plan
            union all select p, 2, qual_sec, 'Qualified' from plan
            union all select p, 3, disq_sec, 'Disqualified' from plan
            union all select p, 4, nurt_sec, 'Nurture' from plan
            union all select p, 5, rework_sec, 'Working - Contacted' from plan
            union all select p, 6, renurt_sec, 'Nurture' from plan
        )
        select p, seq, sec, status,
            lag(status, 1, 'Open - Not Contacted') over (partition by p order by sec, seq) as old_status
        from changes where sec is not null and sec < {END}""",
        """create temp table leads as
        select plan.*, coalesce(last.status, 'Open - Not Contacted') as status,
            plan.convert_sec is not null as is_converted,
            greatest(plan.lead_created + 600 + floor(u('lead_mod', plan.p, 0) * 3600)::bigint,
                     coalesce(last.sec, 0) + 120, coalesce(plan.convert_sec, 0) + 60) as modstamp
        from plan left join (select p, arg_max(status, sec) as status, max(sec) as sec
                             from status_changes group by p) last on plan.p = last.p
        where plan.has_lead""",
        # ---- opportunities: converted leads (mostly) and expansion deals at customers
        f"""create temp table opps as
        with sourced as (
            select p, account_no, employees, currency, owner_no, lead_source, first_campaign_no, 'New Business' as type,
                convert_sec as created_sec
            from leads where is_converted and converts_with_opp
            union all
            select p, account_no, employees, currency, owner_no, lead_source, first_campaign_no, 'Existing Business',
                t0 + floor(u('exp', p, 0) * 90 * {DAY})::bigint
            from plan where kind = 'customer' and u('exp_opp', p, 0) < 0.35
        ), segmented as (
            select *, case when employees is null then 'unknown' when employees >= 1000 then 'enterprise'
                           when employees >= 200 then 'mid_market' else 'smb' end as segment,
                u('discount', p, 0) as r_disc
            from sourced where created_sec < {END} - 3600
        ), closing as (
            select *, created_sec + floor(case segment
                    when 'enterprise' then 60 + 210 * pow(u('cycle', p, 0), 1.5)
                    when 'mid_market' then 30 + 120 * pow(u('cycle', p, 0), 1.5)
                    else 14 + 76 * pow(u('cycle', p, 0), 1.5) end * {DAY})::bigint as close_sec,
                case when r_disc < 0.45 then 0.10 * u('disc', p, 0) when r_disc < 0.80
                     then 0.10 + 0.10 * u('disc', p, 0) else 0.20 + 0.20 * u('disc', p, 0) end as discount
            from segmented
        )
        select *, close_sec < {END} as is_closed,
            close_sec < {END} and u('win', p, 0) < case segment when 'enterprise' then 0.20 when 'mid_market'
                then 0.24 else 0.28 end + case when discount > 0.2 then 0.04 else 0 end as is_won,
            u('items', p, 0) < 0.9 as has_items,
            u('amount_null', p, 0) < 0.02 as amount_null,
            u('opp_deleted', p, 0) < 0.01 as is_deleted,
            case when u('campaign_src', p, 0) < 0.6 and first_campaign_no is not null then first_campaign_no end
                as campaign_no
        from closing""",
        f"""create temp table line_items as
        with spread as (
            select p, segment, currency, discount, unnest(range(1 + floor(u('n_items', p, 0) * 3)::integer)) as k
            from opps where has_items and not amount_null
        ), priced as (
            select p, k, currency, discount,
                case k when 0 then case segment when 'enterprise' then 2 when 'mid_market' then 1 else 0 end
                       when 1 then 3 else 4 + floor(u('svc', p, 0) * 2)::integer end as product,
                case k when 1 then 1 + floor(u('qty', p, k) * case segment when 'enterprise' then 40
                     when 'mid_market' then 12 else 4 end)::integer else 1 end as quantity
            from spread
        ), listed as (
            select priced.*, round({[price for _, _, price in PRODUCTS]}[product + 1]::double
                   * case currency when 'EUR' then 0.92 when 'GBP' then 0.79 else 1 end, -1) as list_price,
                {_list([pid for pid, _, _ in PRODUCTS])}[product + 1] as product_id
            from priced
        )
        select p, k, product_id, quantity, list_price,
            round(list_price * (1 - greatest(0, discount + 0.02 * (u('item_disc', p, k) - 0.5))), 2) as unit_price
        from listed""",
        """create temp table opp_amounts as
        select opps.p, case when opps.amount_null then null when opps.has_items then items.amount
            else round(case opps.segment when 'enterprise' then 60000 + 300000 * u('amt', opps.p, 0)
                 when 'mid_market' then 20000 + 60000 * u('amt', opps.p, 0)
                 else 5000 + 20000 * u('amt', opps.p, 0) end, -2) end as amount
        from opps left join (select p, sum(round(unit_price * quantity, 2)) as amount from line_items group by p)
            items on opps.p = items.p""",
        # ---- campaigns: one per (quarter, type), plus a deleted duplicate
        f"""create temp table campaigns as
        with grid as (
            select q * {len(CAMPAIGN_TYPES)} + t as campaign_no, q, t,
                make_date({FIRST_QUARTER[0]} + ({FIRST_QUARTER[1]} - 1 + q) // 4,
                          (({FIRST_QUARTER[1]} - 1 + q) % 4) * 3 + 1, 1) as start_date
            from range({QUARTERS}) a(q), range({len(CAMPAIGN_TYPES)}) b(t)
        )
        select campaign_no, t, start_date, (start_date + interval 3 month - interval 1 day)::date as end_date,
            year(start_date)::varchar || '-Q' || quarter(start_date)::varchar || ' '
                || {_list(CAMPAIGN_LABELS)}[t + 1] as name,
            {_list(CAMPAIGN_TYPES)}[t + 1] as type,
            round(({[8000, 40000, 6000, 5000, 0, 0, 2000, 10000, 7000, 30000, 15000]}[t + 1])
                  * greatest(1, {people} / 3000.0), -2) as budget,
            false as is_deleted
        from grid
        union all
        select 9999, 0, date '2025-04-01', date '2025-06-30', '2025-Q2 Webinar: Pipeline Forecasting Live (copy)',
            'Webinar', 0, true""",
        # ---- ad spend: daily rows for the paid campaigns (EUR for the EMEA social campaigns)
        f"""create temp table ad_spend as
        with days as (
            select *, unnest(generate_series(start_date::timestamp,
                least(end_date, date '{DEMO_END:%Y-%m-%d}' - 1)::timestamp, interval 1 day)) as d
            from campaigns where type in ('Paid Search', 'Paid Social') and not is_deleted
        )
        select campaigns.name as campaign_name, d::date as day,
            case campaigns.type when 'Paid Search' then 'paid_search' else 'paid_social' end as channel,
            case when campaigns.type = 'Paid Social' and campaigns.campaign_no % 3 = 2 then 'EUR' else 'USD' end
                as currency,
            round((case campaigns.type when 'Paid Search' then 90 else 60 end) * greatest(1, {people} / 3000.0)
                  * (0.6 + 0.8 * u('spend', campaigns.campaign_no, epoch(d)::bigint)), 2) as spend
        from days campaigns""",
        # ---- anonymous form submissions: no email value (counted as unmatched downstream)
        f"""create temp table anonymous_submissions as
        select i, {START} + floor(u('anon', i, 0) * {SPAN_DAYS * DAY})::bigint as sec,
            pick({_list(FIRST_NAMES)}, u('anon_fn', i, 0)) as first_name
        from range({max(1, people // 70)}) t(i)""",
    ]


# --- the landed objects: (system, object, select, select of the older version or None) -----------

def _objects() -> list[tuple[str, str, str, str | None]]:
    lead = f"""
        select sfid('00Q', p + 1) as Id, email as Email, company as Company, title as Title, status as Status,
            lead_source as LeadSource, industry as Industry,
            case when u('lead_emp', p, 0) < 0.15 then null else employees::varchar end as NumberOfEmployees,
            country as Country, sfid('005', owner_no) as OwnerId, sfdt(lead_created) as CreatedDate,
            tf(is_converted) as IsConverted, sfd(convert_sec) as ConvertedDate,
            case when is_converted then sfid('001', account_no + 1) end as ConvertedAccountId,
            case when is_converted then sfid('003', p + 1) end as ConvertedContactId,
            case when is_converted and converts_with_opp and convert_sec < {END} - 3600
                 then sfid('006', p + 1) end as ConvertedOpportunityId,
            'false' as IsDeleted, sfdt(modstamp) as SystemModstamp,
            case when status = 'Disqualified' then disq_reason end as Disqualification_Reason__c,
            u('v2_lead', p, 0) < {REISSUE_SHARE} as _reissued
        from leads
        union all  -- merged duplicates: deleted leads with the same email, created earlier
        select sfid('00Q', 500000000000 + p), email, company, null, 'Open - Not Contacted', lead_source, industry,
            null, country, sfid('005', owner_no), sfdt(lead_created - {DAY} - floor(u('dup', p, 0) * 60 * {DAY})),
            'false', null, null, null, null, 'true', sfdt(lead_created + 300), null, false
        from leads where u('dup_lead', p, 0) < 0.02"""
    lead_old = f"""
        select Id, Email, Company, Title, 'Open - Not Contacted' as Status, LeadSource, Industry, NumberOfEmployees,
            Country, OwnerId, CreatedDate, 'false' as IsConverted, null as ConvertedDate, null as ConvertedAccountId,
            null as ConvertedContactId, null as ConvertedOpportunityId, IsDeleted,
            sfdt((epoch(CreatedDate::timestamptz)::bigint + epoch(SystemModstamp::timestamptz)::bigint) // 2)
                as SystemModstamp, null as Disqualification_Reason__c, _reissued
        from ({lead})"""
    lead_history = """
        select sfid('017', p * 8) as Id, sfid('00Q', p + 1) as LeadId, 'created' as Field, null as OldValue,
            null as NewValue, sfdt(lead_created) as CreatedDate from leads
        union all
        select sfid('017', p * 8 + seq), sfid('00Q', p + 1), 'Status', old_status, status, sfdt(sec)
        from status_changes where p in (select p from leads)
        union all  -- reassignments: a non-status field the pipeline must ignore
        select sfid('017', p * 8 + 7), sfid('00Q', p + 1), 'Owner', sfid('005', 1 + (owner_no % 5)),
            sfid('005', owner_no), sfdt(lead_created + 1800)
        from leads where u('reassign', p, 0) < 0.05"""
    contact = f"""
        select sfid('003', p + 1) as Id, sfid('001', account_no + 1) as AccountId, email as Email, title as Title,
            lead_source as LeadSource, sfid('005', owner_no) as OwnerId, sfdt(created) as CreatedDate,
            tf(u('contact_deleted', p, 0) < 0.005) as IsDeleted, sfdt(created + 600) as SystemModstamp
        from (select *, convert_sec as created from leads where is_converted
              union all
              select *, null, null, null, t0 - {DAY} - floor(u('contact_created', p, 0) * 300 * {DAY})::bigint
              from plan where kind = 'customer')"""
    account = f"""
        select sfid('001', a + 1) as Id, name as Name, 'https://www.' || domain as Website, industry as Industry,
            employees::varchar as NumberOfEmployees, country as BillingCountry, sfid('005', owner_no) as OwnerId,
            sfdt(created_sec) as CreatedDate, tf(u('acct_deleted', a, 0) < 0.003) as IsDeleted,
            sfdt(created_sec + 3600 + floor(u('acct_mod', a, 0) * 300 * {DAY})::bigint) as SystemModstamp
        from accounts"""
    stage_names = "['Prospecting', 'Qualification', 'Needs Analysis', 'Proposal/Price Quote', 'Negotiation/Review']"
    opportunity = f"""
        select sfid('006', opps.p + 1) as Id, sfid('001', account_no + 1) as AccountId,
            accounts.name || ' - ' || type as Name,
            case when is_won then 'Closed Won' when is_closed then 'Closed Lost'
                 else {stage_names}[1 + floor(5 * ({END} - created_sec)::double / (close_sec - created_sec))::integer]
            end as StageName,
            money(opp_amounts.amount) as Amount, opps.currency as CurrencyIsoCode, sfd(close_sec) as CloseDate,
            tf(is_closed) as IsClosed, tf(is_won) as IsWon, lead_source as LeadSource,
            case when campaign_no is not null then sfid('701', campaign_no + 1) end as CampaignId, type as Type,
            sfid('005', opps.owner_no) as OwnerId, sfdt(created_sec) as CreatedDate, tf(is_deleted) as IsDeleted,
            sfdt(least({END} - 60, case when is_closed then close_sec + 3600 else created_sec + 600 end
                 + floor(u('opp_mod', opps.p, 0) * 3600)::bigint)) as SystemModstamp,
            u('v2_opp', opps.p, 0) < {REISSUE_SHARE} as _reissued
        from opps join opp_amounts on opps.p = opp_amounts.p
            join (select a, name from accounts) accounts on opps.account_no = accounts.a"""
    opportunity_old = f"""
        select Id, AccountId, Name, 'Prospecting' as StageName,
            money(Amount::double * 0.8) as Amount, CurrencyIsoCode, CloseDate, 'false' as IsClosed,
            'false' as IsWon, LeadSource, CampaignId, Type, OwnerId, CreatedDate, IsDeleted,
            sfdt((epoch(CreatedDate::timestamptz)::bigint + epoch(SystemModstamp::timestamptz)::bigint) // 2)
                as SystemModstamp, _reissued
        from ({opportunity})"""
    opportunity_history = f"""
        with steps as (
            select p, created_sec, close_sec, is_closed, is_won, opp_amounts.amount,
                case when is_won then 5 when is_closed then 1 + floor(u('lost_at', p, 0) * 5)::integer
                     else 1 + floor(5 * ({END} - created_sec)::double / (close_sec - created_sec))::integer
                end as reached
            from opps join opp_amounts using (p)
        ), rows as (
            select *, unnest(range(reached + case when is_closed then 1 else 0 end)) as i from steps
        )
        select sfid('008', p * 8 + i) as Id, sfid('006', p + 1) as OpportunityId,
            case when i < reached then {stage_names}[i + 1] when is_won then 'Closed Won' else 'Closed Lost' end
                as StageName,
            money(amount) as Amount, sfd(close_sec) as CloseDate,
            sfdt(case when i = reached then close_sec
                      else created_sec + (least(close_sec, {END} - 60) - created_sec) * i // (reached + 1) end)
                as CreatedDate,
            'false' as IsDeleted,
            sfdt(case when i = reached then close_sec
                      else created_sec + (least(close_sec, {END} - 60) - created_sec) * i // (reached + 1) end)
                as SystemModstamp
        from rows"""
    contact_role = f"""
        with primary_roles as (
            select opps.p as opp_p, opps.p as contact_p, created_sec, true as is_primary,
                pick(['Decision Maker', 'Economic Buyer', 'Evaluator'], u('role', opps.p, 0)) as role
            from opps
        ), committee as (  -- other contacts at the account join the buying committee
            select opps.p as opp_p, contacts.p as contact_p, opps.created_sec + 7 * {DAY} as created_sec,
                false as is_primary,
                pick(['Influencer', 'Technical Buyer', 'Evaluator', 'Business User'], u('role', contacts.p, opps.p))
                    as role
            from opps join (select p, account_no, convert_sec as created_sec from leads where is_converted
                            union all select p, account_no, 0 from plan where kind = 'customer') contacts
                on opps.account_no = contacts.account_no and opps.p <> contacts.p
                and contacts.created_sec < opps.created_sec
            where u('committee', opps.p, contacts.p) < 0.5
        ), all_roles as (
            select * from primary_roles
            union all
            select * from committee where created_sec < {END} - 60
        )
        select sfid('00K', row_number() over (order by opp_p, is_primary desc, contact_p)) as Id,
            sfid('006', opp_p + 1) as OpportunityId, sfid('003', contact_p + 1) as ContactId, role as Role,
            tf(is_primary) as IsPrimary, sfdt(created_sec) as CreatedDate, 'false' as IsDeleted,
            sfdt(created_sec + 60) as SystemModstamp
        from all_roles"""
    line_item = """
        select sfid('00k', line_items.p * 4 + k + 1) as Id, sfid('006', line_items.p + 1) as OpportunityId,
            product_id as Product2Id, quantity::varchar as Quantity, money(list_price) as ListPrice,
            money(unit_price) as UnitPrice, money(unit_price * quantity) as TotalPrice, 'false' as IsDeleted,
            sfdt(opps.created_sec + 3600) as SystemModstamp
        from line_items join opps on line_items.p = opps.p"""
    campaign = f"""
        select sfid('701', campaign_no + 1) as Id, name as Name, type as Type, strftime(start_date, '%Y-%m-%d')
                as StartDate,
            strftime(end_date, '%Y-%m-%d') as EndDate, money(budget) as BudgetedCost,
            case when type in ('Paid Search', 'Paid Social') then
                     case when campaign_no % 2 = 0 then null else money(budget + 500) end
                 when start_date > date '{DEMO_END:%Y-%m-%d}' - 30 then null
                 else money(budget * (0.8 + 0.3 * u('cost', campaign_no, 0))) end as ActualCost,
            tf(is_deleted) as IsDeleted,
            sfdt(epoch(start_date::timestamp)::bigint + 3600) as SystemModstamp
        from campaigns"""
    campaign_member = f"""
        select sfid('00v', touches.p * 20 + j) as Id, sfid('701', campaign_no + 1) as CampaignId,
            case when plan.has_lead then sfid('00Q', touches.p + 1) end as LeadId,
            case when plan.kind = 'customer' or plan.convert_sec < {END} then sfid('003', touches.p + 1) end
                as ContactId,
            case touches.kind when 'cm_webinar' then 'Attended' when 'cm_event' then 'Visited Booth'
                 when 'cm_content' then 'Downloaded' when 'cm_ad' then 'Clicked' else 'Responded' end as Status,
            'true' as HasResponded, sfd(touch_sec) as FirstRespondedDate,
            sfdt(greatest(coalesce(plan.lead_created, 0), touch_sec - floor(u('cm_created', touches.p, j)
                 * 10 * {DAY})::bigint)) as CreatedDate,
            'false' as IsDeleted, sfdt(touch_sec + 3600) as SystemModstamp
        from touches join plan on touches.p = plan.p
        where campaign_no is not null
        union all  -- members who never responded (sent, registered): not touches
        select sfid('00v', {10**14} + p), sfid('701', quarter_no(sec) * {len(CAMPAIGN_TYPES)}
                   + case when u('nr_type', p, 0) < 0.5 then 6 else 0 end + 1),
            sfid('00Q', p + 1), null,
            case when u('nr_type', p, 0) < 0.5 then 'Sent' else 'Registered' end, 'false', null, sfdt(sec),
            'false', sfdt(sec + 60)
        from (select p, lead_created + floor(u('nr_at', p, 0) * 40 * {DAY})::bigint as sec from plan
              where has_lead and u('non_responder', p, 0) < 0.25)
        where sec < {END}"""
    activities = f"""
        select p, 0 as n, 'task' as what, resp_sec as sec, sfid('00Q', p + 1) as who,
            case when kind = 'sales' then 'Cold call' when u('resp_kind', p, 0) < 0.6 then 'Call'
                 else 'Email: following up on your request' end as subject,
            u('resp_kind', p, 0) < 0.15 and kind <> 'sales' as as_event
        from plan where resp_sec is not null
        union all
        select p, 1 + f.i, 'task', resp_sec + (1 + f.i) * floor(2 + 3 * u('follow', p, f.i)) * {DAY},
            sfid('00Q', p + 1), 'Follow-up ' || (f.i + 1)::varchar, false
        from plan, range(3) f(i) where resp_sec is not null and u('n_follow', p, 0) * 4 > f.i + 1
        union all
        select p, 4, 'task', pre_task_sec, sfid('00Q', p + 1), 'Email: intro', false from plan
        where pre_task_sec is not null
        union all
        select p, 5, 'event', qual_sec - floor(u('discovery', p, 0) * {DAY})::bigint, sfid('00Q', p + 1),
            'Discovery call', true from plan where qual_sec is not null
        union all
        select p, 6, 'task', convert_sec + 2 * {DAY}, sfid('003', p + 1), 'Send proposal', false from plan
        where convert_sec is not null"""
    task = f"""
        select sfid('00T', p * 8 + n) as Id, who as WhoId, sfid('005', owner_no) as OwnerId, subject as Subject,
            case when subject like 'Email%' or subject = 'Send proposal' then 'Email' else 'Call' end as Type,
            'Completed' as Status, sfdt(sec) as CreatedDate, tf(u('task_deleted', p, n) < 0.01) as IsDeleted,
            sfdt(sec + 120) as SystemModstamp
        from ({activities}) join (select p, owner_no from people) using (p)
        where not as_event and sec < {END}"""
    event = f"""
        select sfid('00U', p * 8 + n) as Id, who as WhoId, sfid('005', owner_no) as OwnerId, subject as Subject,
            'Meeting' as Type, sfdt(sec + {DAY} + floor(u('meet', p, n) * 4 * {DAY})::bigint) as StartDateTime,
            sfdt(sec) as CreatedDate, 'false' as IsDeleted, sfdt(sec + 120) as SystemModstamp
        from ({activities}) join (select p, owner_no from people) using (p)
        where as_event and sec < {END}"""
    user = """
        select sfid('005', user_no) as Id, first_name || ' ' || last_name as Name,
            lower(first_name || '.' || replace(last_name, ' ', '')) || user_no::varchar || '@closedloop-demo.com'
                as Email,
            department as Department, tf(is_active) as IsActive, '2024-01-02T09:00:00.000+0000' as SystemModstamp
        from users"""
    dated_rate = """
        with months as (
            select iso, base, m, (date '2024-01-01' + to_months(m::integer))::date as start
            from (values ('EUR', 0.92), ('GBP', 0.79)) c(iso, base), range(36) r(m)
        )
        select sfid('04w', row_number() over (order by iso, m)) as Id, iso as IsoCode,
            round(base * (1 + 0.03 * sin(m / 3.0 + length(iso)) + 0.01 * (u('fx', m, length(iso)) - 0.5)), 6)::varchar
                as ConversionRate,
            case when m = 0 then '0001-01-01' else strftime(start, '%Y-%m-%d') end as StartDate,
            case when m = 35 then '9999-12-31' else strftime(start + interval 1 month, '%Y-%m-%d') end
                as NextStartDate,
            '2024-01-01T00:00:00.000+0000' as SystemModstamp
        from months"""
    hs_contacts = f"""
        with base as (
            select plan.*, leads.is_converted, leads.status,
                1000001 + p as hs_id,
                t0 + 30 + floor(u('hs_created', p, 0) * 3000)::bigint as created,
                case when mql_sec is not null then case when u('hs_mql', p, 0) < 0.85
                    then mql_sec + floor(u('hs_mql_at', p, 0) * 600)::bigint
                    when u('hs_mql', p, 0) < 0.95 then mql_sec + {DAY} + floor(u('hs_mql_at', p, 0) * 2 * {DAY})::bigint
                    end
                    when score >= 20 and u('hs_mql', p, 0) < 0.08 then last_touch_sec + 3600 end as hs_mql_sec,
                coalesce(person_opps.won, false) as won, person_opps.p is not null as has_opp
            from plan left join (select p, is_converted, status from leads) leads using (p)
                left join (select p, bool_or(is_won) as won from opps group by p) person_opps using (p)
            where plan.has_hs
        ), shaped as (
            select *, least({END} - 1, greatest(created + 60, coalesce(last_touch_sec, 0) + 120,
                coalesce(hs_mql_sec, 0) + 60, coalesce(convert_sec, 0) + 300)
                + floor(u('hs_mod', p, 0) * 3600)::bigint) as modified,
                u('v2_hs', p, 0) < {REISSUE_SHARE} as _reissued
            from base
        )
        select hs_id::varchar as id,
            case when u('email_case', p, 0) < 0.04 then upper(left(email, 1)) || substr(email, 2) || ' '
                 when u('email_null', p, 0) < 0.01 and has_lead then null else email end as email,
            first_name, last_name, company, title,
            case when won then 'customer' when has_opp then 'opportunity' when qual_sec is not null
                 then 'salesqualifiedlead' when hs_mql_sec is not null then 'marketingqualifiedlead'
                 when score >= 20 then 'lead' else 'subscriber' end as lifecyclestage,
            case when status = 'Disqualified' then 'UNQUALIFIED' when status = 'Working - Contacted' then 'IN_PROGRESS'
                 when resp_sec is not null then 'CONNECTED' when has_lead then 'NEW' end as hs_lead_status,
            least(100, score)::bigint::varchar as hubspotscore, hs_source,
            case when kind <> 'sales' then {{hs_data_case_placeholder}} end as hs_source_data,
            case when kind = 'sales' then null when u('epoch_visit', p, 0) < 0.1 then epochms(t0) else isoz(t0) end
                as first_visit,
            isoz(hs_mql_sec) as hs_mql,
            case when has_lead and u('sf_lead_link', p, 0) < 0.9 then sfid('00Q', p + 1) end as sf_lead,
            case when kind = 'customer' or (is_converted and u('sf_contact_link', p, 0) < 0.8)
                 then sfid('003', p + 1) end as sf_contact,
            created, modified, false as archived, _reissued
        from shaped
        union all  -- archived junk records (tests, spam): deleted from every figure
        select ({10**9} + i)::varchar, 'test' || i::varchar || '@mailinator.com', 'Test', 'Record', null, null,
            'subscriber', null, '0', 'DIRECT_TRAFFIC', null, isoz({START} + i * 3607), null, null, null,
            {START} + i * 3607 + 60, {START} + i * 3607 + 7200, true, false
        from range({{archived}}) t(i)"""
    return [
        ("salesforce", "User", user, None),
        ("salesforce", "Account", account, None),
        ("salesforce", "Lead", lead, lead_old),
        ("salesforce", "LeadHistory", lead_history, None),
        ("salesforce", "Contact", contact, None),
        ("salesforce", "Opportunity", opportunity, opportunity_old),
        ("salesforce", "OpportunityHistory", opportunity_history, None),
        ("salesforce", "OpportunityContactRole", contact_role, None),
        ("salesforce", "OpportunityLineItem", line_item, None),
        ("salesforce", "Campaign", campaign, None),
        ("salesforce", "CampaignMember", campaign_member, None),
        ("salesforce", "Task", task, None),
        ("salesforce", "Event", event, None),
        ("salesforce", "DatedConversionRate", dated_rate, None),
        *_hubspot_objects(hs_contacts),
        ("spend", "ad_spend", """
            select strftime(day, '%Y-%m-%d') as date, channel, campaign_name, spend::varchar as spend, currency
            from ad_spend""", None),
    ]


def _hubspot_objects(hs_contacts_template: str) -> list[tuple[str, str, str, str | None]]:
    hs_data_case = "case hs_source " + " ".join(
        f"when {quote_literal(s)} then {quote_literal(d) if d else 'NULL'}" for s, _, d in HS_SOURCES) + " end"
    hs_contacts = hs_contacts_template.replace("{hs_data_case_placeholder}", hs_data_case).replace(
        "{archived}", "(select greatest(1, count(*) // 100) from people)")

    contacts = f"""
            select id, to_json({{'email': email, 'firstname': first_name, 'lastname': last_name,
                'company': company, 'jobtitle': title, 'lifecyclestage': lifecyclestage,
                'hs_lead_status': hs_lead_status, 'hubspotscore': hubspotscore, 'hs_analytics_source': hs_source,
                'hs_analytics_source_data_1': hs_source_data, 'hs_analytics_first_timestamp': first_visit,
                'hs_lifecyclestage_marketingqualifiedlead_date': hs_mql, 'salesforceleadid': sf_lead,
                'salesforcecontactid': sf_contact, 'createdate': isoz(created),
                'lastmodifieddate': isoz(modified)}})::varchar as properties,
                isoz(created) as createdAt, isoz(modified) as updatedAt, tf(archived) as archived, _reissued
        from ({hs_contacts})"""
    contacts_old = f"""
        select id, json_merge_patch(properties, json_object(
                'lifecyclestage', case when properties->>'lifecyclestage' = 'subscriber' then 'subscriber'
                                       else 'lead' end,
                'lastmodifieddate', older))::varchar as properties,
            createdAt, older as updatedAt, archived, _reissued
        from (select *, isoz((epoch(strptime(createdAt, '%Y-%m-%dT%H:%M:%S.%gZ'))::bigint
                              + epoch(strptime(updatedAt, '%Y-%m-%dT%H:%M:%S.%gZ'))::bigint) // 2) as older
              from ({contacts}))"""
    email_events = f"""
        select (p * 20 + j)::varchar as id, case touches.kind when 'open' then 'OPEN' else 'CLICK' end as type,
            case when u('recipient_case', p, j) < 0.03 then upper(email) else email end as recipient,
            epochms(touch_sec) as created,
            (5000001 + (touch_sec - {START}) // (15 * {DAY}))::varchar as emailCampaignId
        from touches join people using (p) where touches.kind in ('open', 'click')
        union all  -- deliveries and bounces: email events that are not touches
        select ({10**12} + p * 20 + j)::varchar, case when u('bounce', p, j) < 0.05 then 'BOUNCE' else 'DELIVERED' end,
            email, epochms(touch_sec - 600), (5000001 + (touch_sec - {START}) // (15 * {DAY}))::varchar
        from touches join people using (p) where touches.kind = 'open' and u('delivered', p, j) < 0.3"""
    marketing_emails = f"""
        select (5000001 + i)::varchar as id,
            case when i % 2 = 0 then 'Newsletter ' else 'Product update ' end
                || strftime(ts({START} + i * 15 * {DAY}), '%Y-%m-%d') as name,
            year(ts({START} + i * 15 * {DAY}))::varchar || '-Q' || quarter(ts({START} + i * 15 * {DAY}))::varchar
                || ' Newsletter' as campaign
        from range({SPAN_DAYS // 15 + 1}) t(i)"""
    forms = " union all ".join(
        f"select {quote_literal(guid) if guid else 'null'} as guid, {quote_literal(fid)} as id, "
        f"{quote_literal(name)} as name" for guid, fid, name, _ in FORMS)
    form_guids = _list([guid or fid for guid, fid, _, _ in FORMS])
    form_paths = _list([path for _, _, _, path in FORMS])
    form_submissions = f"""
        with chosen as (
            select touches.*, people.email, people.first_name, people.last_name, people.company,
                case when touches.kind = 'demo' then case when u('demo_form', p, j) < 0.7 then 1 else 2 end
                     else 3 + floor(u('form', p, j) * 5)::integer end as form_index,
                u('utm', p, j) as r_utm
            from touches join people using (p) where touches.kind in ('form', 'demo')
        )
        select {form_guids}[form_index] as formGuid, epochms(touch_sec) as submittedAt,
            'https://www.closedloop-demo.com' || {form_paths}[form_index]
                || case when r_utm < 0.45 then '?utm_source=' || pick(['google', 'linkedin', 'newsletter', 'g2'],
                        u('utm_source', p, j)) || '&utm_medium=' || pick({_list(UTM_MEDIUMS)}, r_utm / 0.45)
                        || '&utm_campaign=q' || quarter(ts(touch_sec))::varchar else '' end as pageUrl,
            to_json([{{'name': 'email', 'value': email}}, {{'name': 'firstname', 'value': first_name}},
                     {{'name': 'lastname', 'value': last_name}}, {{'name': 'company', 'value': company}}])::varchar
                as "values"
        from chosen
        union all  -- submissions without an email value: kept in raw, unmatched downstream
        select {form_guids}[3], epochms(sec), 'https://www.closedloop-demo.com/blog',
            to_json([{{'name': 'firstname', 'value': first_name}}])::varchar
        from anonymous_submissions"""
    return [
        ("hubspot", "contacts", contacts, contacts_old),
        ("hubspot", "email_events", email_events, None),
        ("hubspot", "forms", forms, None),
        ("hubspot", "form_submissions", form_submissions, None),
        ("hubspot", "marketing_emails", marketing_emails, None),
    ]
