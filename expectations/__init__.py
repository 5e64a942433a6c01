"""The quality gate (SPEC 5): Great Expectations suites derived from alignment.yml.

`run_gate` validates the built tables of the working DuckDB file and returns a `GateResult`;
the publish step refuses to publish unless it succeeded.
"""

from .result import CheckResult, GateResult
from .runner import preload_great_expectations, run_gate

__all__ = ["CheckResult", "GateResult", "preload_great_expectations", "run_gate"]
