"""The shared definitions (`alignment.yml`): a typed model, validated before any data moves.

Sales and marketing edit the YAML; this module is its one reader. dbt receives the values
as vars (`dbt_vars`) and the quality gate derives its expectations from the same object.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TOUCH_TYPES = (
    "demo_request",
    "form_submission",
    "webinar_attended",
    "event_attended",
    "content_download",
    "email_click",
    "ad_click",
    "email_open",
    "page_visit",
)
SCORECARD_METRICS = (
    "mqls",
    "sal_rate",
    "sla_met_rate",
    "mql_to_opportunity_rate",
    "marketing_sourced_pipeline_share",
    "influenced_revenue_share",
    "win_rate",
    "cycle_days",
    "cost_per_won",
    "velocity_per_day",
)
NonNegative = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
WEIGHT_TOLERANCE = 1e-9


class AlignmentError(ValueError):
    """alignment.yml is malformed; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Fit(_Strict):
    min_employees: Annotated[int, Field(ge=0)] = 0
    industries: list[str] = []
    countries: list[str] = []


class Mql(_Strict):
    score_threshold: NonNegative = 50
    points: dict[str, NonNegative] = {
        "demo_request": 50,
        "form_submission": 20,
        "webinar_attended": 15,
        "event_attended": 15,
        "content_download": 10,
        "email_click": 5,
        "ad_click": 3,
        "email_open": 0,
        "page_visit": 1,
    }
    fit: Fit = Fit()
    demo_request_forms: list[str] = ["demo", "contact sales"]

    @field_validator("points")
    @classmethod
    def _known_touch_types(cls, points: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(points) - set(TOUCH_TYPES))
        if unknown:
            raise ValueError(f"unknown touch type {unknown[0]!r}; known: {', '.join(TOUCH_TYPES)}")
        return {touch_type: points.get(touch_type, 0) for touch_type in TOUCH_TYPES}


class Sla(_Strict):
    response_minutes: NonNegative = 60
    buckets_minutes: list[Annotated[int, Field(gt=0)]] = [5, 60, 1440]

    @field_validator("buckets_minutes")
    @classmethod
    def _ascending(cls, bounds: list[int]) -> list[int]:
        if not bounds or any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
            raise ValueError("must be a non-empty list of strictly ascending minutes")
        return bounds

    @property
    def bucket_labels(self) -> list[str]:
        """`<5m`, `5-60m`, `1-24h`, `>24h` for the default bounds; then `no_response`."""
        bounds = self.buckets_minutes
        labels = [f"<{_duration(bounds[0])}"]
        for lower, upper in zip(bounds, bounds[1:], strict=False):
            if lower % 60 == 0 and upper % 60 == 0:
                labels.append(f"{lower // 60}-{upper // 60}h")
            else:
                labels.append(f"{lower}-{upper}m")
        labels.append(f">{_duration(bounds[-1])}")
        return labels


def _duration(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


class UShaped(_Strict):
    first: Share = 0.4
    last: Share = 0.4
    middle: Share = 0.2


class WShaped(_Strict):
    first: Share = 0.3
    lead: Share = 0.3
    opportunity: Share = 0.3
    middle: Share = 0.1


class Attribution(_Strict):
    lookback_days: Annotated[int, Field(ge=0)] = 365
    exclude_touch_types: list[str] = ["email_open"]
    time_decay_half_life_days: Annotated[float, Field(gt=0)] = 7
    u_shaped: UShaped = UShaped()
    w_shaped: WShaped = WShaped()

    @field_validator("exclude_touch_types")
    @classmethod
    def _known(cls, types: list[str]) -> list[str]:
        unknown = [t for t in types if t not in TOUCH_TYPES]
        if unknown:
            raise ValueError(f"unknown touch type {unknown[0]!r}; known: {', '.join(TOUCH_TYPES)}")
        return types

    @field_validator("u_shaped", "w_shaped")
    @classmethod
    def _sums_to_one(cls, shares: BaseModel) -> BaseModel:
        total = sum(shares.model_dump().values())
        if abs(total - 1) > WEIGHT_TOLERANCE:
            raise ValueError(f"shares must sum to 1, they sum to {total:g}")
        return shares


class Crm(_Strict):
    sal_lead_statuses: list[str] = ["Working - Contacted", "Accepted"]
    sql_lead_statuses: list[str] = ["Qualified", "Sales Qualified"]
    disqualified_lead_statuses: list[str] = ["Disqualified", "Unqualified", "Closed - Not Converted"]
    recycled_lead_statuses: list[str] = ["Nurture", "Recycled"]
    disqualification_reason_field: str | None = None
    sales_lead_sources: list[str] = ["Outbound", "Sales Generated", "Cold Call"]

    @field_validator("disqualification_reason_field")
    @classmethod
    def _api_name(cls, field: str | None) -> str | None:
        if field is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", field):
            raise ValueError(f"{field!r} is not a Salesforce field API name (e.g. Disqualification_Reason__c)")
        return field


class Pricing(_Strict):
    max_discount_pct: Annotated[float, Field(ge=0, le=100)] = 20


class Alignment(_Strict):
    reporting_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    timezone: str = "UTC"
    mql: Mql = Mql()
    sla: Sla = Sla()
    attribution: Attribution = Attribution()
    crm: Crm = Crm()
    pricing: Pricing = Pricing()
    segments: dict[str, NonNegative] = {"smb": 0, "mid_market": 200, "enterprise": 1000}
    targets: dict[str, float] = {}

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return zone

    @field_validator("segments")
    @classmethod
    def _segments(cls, segments: dict[str, float]) -> dict[str, float]:
        if not segments:
            raise ValueError("needs at least one segment")
        if len(set(segments.values())) != len(segments):
            raise ValueError("two segments share a lower bound")
        return segments

    @field_validator("targets")
    @classmethod
    def _known_metrics(cls, targets: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(targets) - set(SCORECARD_METRICS))
        if unknown:
            raise ValueError(f"unknown scorecard metric {unknown[0]!r}; known: {', '.join(SCORECARD_METRICS)}")
        return targets

    def dbt_vars(self) -> dict[str, Any]:
        """The definitions as dbt vars: one var per top-level key, plus derived helpers."""
        values = self.model_dump(mode="json")
        values["response_bucket_labels"] = self.sla.bucket_labels
        return values


def load_alignment(path: str | Path) -> Alignment:
    """Read and validate alignment.yml; any problem raises AlignmentError naming file and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AlignmentError(f"{path}: definitions file not found (set CLOSEDLOOP_ALIGNMENT)") from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise AlignmentError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise AlignmentError(f"{path}: must be a mapping of keys, got {type(document).__name__}")
    try:
        return Alignment.model_validate(document)
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            key = ".".join(str(part) for part in issue["loc"]) or "(top level)"
            message = issue["msg"].removeprefix("Value error, ")
            if issue["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{key}: {message}")
        raise AlignmentError(f"{path}: " + "; ".join(problems)) from None


def definitions_version(path: str | Path) -> str:
    """Hash of alignment.yml as written: the definitions version stamped on every publish."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
