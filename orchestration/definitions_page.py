"""The definitions page: alignment.yml rendered as plain Markdown both teams can sign.

Every number on the page comes from the `Alignment` object the pipeline runs with, so the page
and the published figures can never disagree. The page is stamped with the definitions version
(the hash of alignment.yml) that publish_log carries too.
"""

from __future__ import annotations

from pathlib import Path

from orchestration.alignment import Alignment

TOUCH_TYPE_NAMES = {
    "demo_request": "Demo request (a form whose name contains one of the demo-request words)",
    "form_submission": "Other form submission",
    "webinar_attended": "Webinar attended",
    "event_attended": "Event, trade show or conference attended",
    "content_download": "Content or eBook download",
    "email_click": "Marketing email clicked",
    "ad_click": "Ad clicked (paid search, paid social, display)",
    "email_open": "Marketing email opened",
    "page_visit": "First website visit",
}
SCORECARD_METRIC_NAMES = {
    "mqls": "MQLs",
    "sal_rate": "SAL rate",
    "sla_met_rate": "SLA met rate",
    "mql_to_opportunity_rate": "MQL-to-opportunity rate",
    "marketing_sourced_pipeline_share": "Marketing-sourced pipeline share",
    "influenced_revenue_share": "Influenced revenue share",
    "win_rate": "Win rate",
    "cycle_days": "Cycle days",
    "cost_per_won": "Cost per won deal",
    "velocity_per_day": "Velocity per day",
}


def _number(value: float) -> str:
    """12.0 -> '12', 0.25 -> '0.25': numbers as people write them."""
    return f"{value:g}" if float(value) != int(value) else str(int(value))


def _percent(share: float) -> str:
    return f"{_number(round(share * 100, 6))} %"


def _quoted(values: list[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def _any_or(values: list[str], noun: str) -> str:
    return f"any {noun}" if not values else f"one of {_quoted(values)}"


def _minutes(minutes: float) -> str:
    minutes = float(minutes)
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{_number(minutes)} minute{'s' if minutes != 1 else ''}"


def _mql_section(alignment: Alignment) -> list[str]:
    mql = alignment.mql
    fit = mql.fit
    employees = (
        "any (unknown size included)"
        if fit.min_employees == 0
        else f"at least {fit.min_employees} employees (unknown size does not pass)"
    )
    lines = [
        "## What an MQL is",
        "",
        "A person is one individual across Salesforce leads, Salesforce contacts and HubSpot contacts,",
        "matched by e-mail address (and by the CRM links between those records).",
        "",
        "A person becomes a **marketing qualified lead (MQL)** when both hold:",
        "",
        f"1. **Fit.** Company size: {employees}; industry: {_any_or(fit.industries, 'industry')};",
        f"   country: {_any_or(fit.countries, 'country')}. A person who does not fit never becomes an MQL.",
        f"2. **Engagement.** The person's touches, counted in time order, add up to at least "
        f"**{_number(mql.score_threshold)} points**.",
        "   The person becomes an MQL at the moment of the touch that reaches the threshold.",
        "",
        "| Touch | Points |",
        "|---|---|",
    ]
    for touch_type, points in mql.points.items():
        lines.append(f"| {TOUCH_TYPE_NAMES.get(touch_type, touch_type)} (`{touch_type}`) | {_number(points)} |")
    lines += [
        "",
        f"A form counts as a demo request when its name contains {_any_or(mql.demo_request_forms, 'text')} "
        "(upper or lower case).",
        "",
    ]
    return lines


def _sla_section(alignment: Alignment) -> list[str]:
    sla = alignment.sla
    bounds = sla.buckets_minutes
    labels = sla.bucket_labels
    lines = [
        "## Speed to lead",
        "",
        f"Sales agrees to make a first sales touch (a logged task or event) on every MQL within "
        f"**{_minutes(sla.response_minutes)}** of the moment it became an MQL. An MQL answered in exactly "
        "that time meets the agreement; an MQL not answered at all misses it.",
        "",
        "Response times are reported in these buckets (a time exactly on a boundary falls in the faster bucket):",
        "",
        "| Bucket | First response |",
        "|---|---|",
        f"| `{labels[0]}` | up to {_minutes(bounds[0])} |",
    ]
    for label, lower, upper in zip(labels[1:-1], bounds, bounds[1:], strict=False):
        lines.append(f"| `{label}` | more than {_minutes(lower)}, up to {_minutes(upper)} |")
    lines += [
        f"| `{labels[-1]}` | more than {_minutes(bounds[-1])} |",
        "| `no_response` | no sales touch yet |",
        "",
    ]
    return lines


def _attribution_section(alignment: Alignment) -> list[str]:
    attribution = alignment.attribution
    u_shaped = attribution.u_shaped
    w_shaped = attribution.w_shaped
    excluded = (
        f"Touches of type {_quoted(attribution.exclude_touch_types)} never take credit and are not counted."
        if attribution.exclude_touch_types
        else "Every touch type can take credit."
    )
    return [
        "## Attribution: who gets credit for an opportunity",
        "",
        "An opportunity's credit goes to the touches of its people (its contacts and the lead that converted",
        f"into it) made in the **{attribution.lookback_days} days** before the opportunity was created, up to",
        f"the moment of creation. {excluded} Touches are taken in time order. An opportunity without any such",
        "touch is shown as `unattributed`, so credited amounts always add up to the full pipeline and revenue.",
        "",
        "Each model splits 100 % of the opportunity between its touches:",
        "",
        "- **First touch:** all credit to the first touch.",
        "- **Last touch:** all credit to the last touch before the opportunity was created.",
        "- **Linear:** equal credit to every touch.",
        f"- **U-shaped:** {_percent(u_shaped.first)} to the first touch, {_percent(u_shaped.last)} to the last "
        f"touch and {_percent(u_shaped.middle)} shared equally by the touches in between (one touch takes all; "
        "two touches take half each).",
        f"- **W-shaped:** {_percent(w_shaped.first)} for being the first touch, {_percent(w_shaped.lead)} for "
        f"being the touch that made one of the people an MQL and {_percent(w_shaped.opportunity)} for being the "
        f"last touch before the opportunity; the other touches share {_percent(w_shaped.middle)}. A touch with "
        "several roles earns each of them; shares are then scaled so the opportunity adds up to 100 %.",
        f"- **Time decay:** a touch's credit halves for every {_number(attribution.time_decay_half_life_days)} "
        "days between it and the opportunity's creation, scaled so the opportunity adds up to 100 %.",
        "",
    ]


def _crm_section(alignment: Alignment) -> list[str]:
    crm = alignment.crm
    reason = (
        f"the Salesforce lead field `{crm.disqualification_reason_field}`"
        if crm.disqualification_reason_field
        else "not recorded (no reason field is configured)"
    )
    return [
        "## How Salesforce statuses map onto the funnel",
        "",
        "| Funnel step | Lead Status values |",
        "|---|---|",
        f"| Sales accepted (SAL) | {_quoted(crm.sal_lead_statuses)} |",
        f"| Sales qualified (SQL) | {_quoted(crm.sql_lead_statuses)} |",
        f"| Disqualified | {_quoted(crm.disqualified_lead_statuses)} |",
        f"| Recycled to nurture | {_quoted(crm.recycled_lead_statuses)} |",
        "",
        "- **SAL:** an MQL that sales responded to or moved into an accepted status, whichever came first.",
        "- **SQL:** a lead moved into a qualified status, or the person's first opportunity, whichever came first.",
        f"- **Disqualification reason:** {reason}.",
        f"- **Sales-generated lead sources:** {_quoted(crm.sales_lead_sources)}. A person is *marketing "
        "sourced* when they had a marketing touch before becoming an SQL and their lead source is not one "
        "of these.",
        "",
    ]


def _segments_pricing_section(alignment: Alignment) -> list[str]:
    ordered = sorted(alignment.segments.items(), key=lambda item: item[1])
    lines = [
        "## Segments",
        "",
        "An account belongs to the segment with the largest lower bound it reaches; accounts of unknown size "
        "are `unknown`.",
        "",
        "| Segment | Employees |",
        "|---|---|",
    ]
    for (name, lower), following in zip(ordered, [*ordered[1:], None], strict=True):
        upper = None if following is None else following[1]
        size = f"{_number(lower)} or more" if upper is None else f"{_number(lower)} to under {_number(upper)}"
        lines.append(f"| {name} | {size} |")
    lines += [
        "",
        "## Pricing guideline",
        "",
        f"Deals sold at a discount above **{_number(alignment.pricing.max_discount_pct)} %** of list price are "
        "outside the guideline. A deal's discount is 100 % x (1 - what the customer pays / list price x quantity),",
        "over all its products.",
        "",
    ]
    return lines


def _targets_section(alignment: Alignment) -> list[str]:
    lines = ["## Monthly targets", ""]
    if not alignment.targets:
        return [*lines, "No monthly targets are set.", ""]
    lines += ["| Metric | Target per month |", "|---|---|"]
    for metric, target in alignment.targets.items():
        lines.append(f"| {SCORECARD_METRIC_NAMES.get(metric, metric)} (`{metric}`) | {_number(target)} |")
    return [*lines, ""]


def render_definitions_page(alignment: Alignment, *, version: str) -> str:
    """The definitions of alignment.yml as Markdown, stamped with its definitions version."""
    lines = [
        "# Closed Loop: the definitions sales and marketing agreed on",
        "",
        f"Definitions version `{version}` (the hash of alignment.yml). Every published figure was computed "
        "with exactly these definitions.",
        "",
        "## Money and calendar",
        "",
        f"All money is in **{alignment.reporting_currency}**; other currencies are converted at the Salesforce "
        "dated exchange rate of the deal's close date (of the spend date for ad spend). Weeks (starting Monday) "
        f"and months are calendar periods in the **{alignment.timezone}** time zone. Days between two moments "
        "are exact, not rounded to whole days. A rate is empty when nothing could be counted.",
        "",
        *_mql_section(alignment),
        *_sla_section(alignment),
        *_attribution_section(alignment),
        *_crm_section(alignment),
        *_segments_pricing_section(alignment),
        *_targets_section(alignment),
    ]
    return "\n".join(lines).rstrip() + "\n"


def write_definitions_page(alignment: Alignment, path: str | Path, version: str) -> Path:
    """Write the definitions page to `path` (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_definitions_page(alignment, version=version), encoding="utf-8")
    return path
