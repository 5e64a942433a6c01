"""What the quality gate returns: one result per check, and the verdict over all of them.

Plain dataclasses with JSON-ready values (no Great Expectations import), so Dagster metadata,
the publish step and the Data Docs page can all read them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_EXAMPLES = 20


@dataclass
class CheckResult:
    """One check of the gate: a named rule on one table, backed by one or more GX expectations."""

    name: str
    table: str
    blocking: bool
    success: bool
    observed: Any
    examples: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    expectations: list[str] = field(default_factory=list)  # GX expectation types run for this check

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GateResult:
    success: bool
    checks: list[CheckResult]
    docs_path: str | None = None
    # What the checks of changed rows covered, for the next gate (runner.mql_scope): the last build
    # of each replaced-partitions log read, and the rule's version. The publish stamps it into
    # publish_log.gate_result (orchestration.publish.GateVerdict.summary).
    checked_through: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[CheckResult]:
        """Failed blocking checks: the ones that stop the publish."""
        return [check for check in self.checks if check.blocking and not check.success]

    @property
    def warnings(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.blocking and not check.success]

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "docs_path": self.docs_path,
            "checks": [check.to_dict() for check in self.checks],
            "checked_through": self.checked_through,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        return cls(
            success=bool(data["success"]),
            checks=[CheckResult(**check) for check in data.get("checks", [])],
            docs_path=data.get("docs_path"),
            checked_through=dict(data.get("checked_through") or {}),
        )


def json_value(value: Any) -> Any:
    """A value as JSON can hold it: timestamps as ISO text, decimals as floats, NaN as None."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else (str(value) if math.isinf(value) else float(value))
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    try:
        import pandas as pd

        if pd.isna(value) is True:  # pandas NA / NaT
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # numpy scalars
        return json_value(value.item())
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return str(value)
