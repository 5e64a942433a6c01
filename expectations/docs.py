"""A self-contained HTML summary of one gate run: every check, its observed value and failing rows.

GX's Data Docs (index.html beside it) show the expectation suites and validation results;
this page adds what a data engineer needs first: which rule failed, on which table, and the
rows that break it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .result import GateResult

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
.pass { color: #1a7f37; } .fail { color: #cf222e; font-weight: bold; } .warn { color: #9a6700; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return html.escape(text)


def write_summary_page(gate: GateResult, path: Path, *, run_name: str) -> Path:
    verdict = "PASSED" if gate.success else "FAILED: publish blocked"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Closed Loop quality gate</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Quality gate {html.escape(run_name)}: <span class='{'pass' if gate.success else 'fail'}'>"
        f"{verdict}</span></h1>",
        f"<p>{len(gate.checks)} checks, {len(gate.failures)} blocking failures, {len(gate.warnings)} warnings. "
        "Great Expectations Data Docs: <a href='index.html'>index.html</a>.</p>",
        "<table><tr><th>table</th><th>check</th><th>result</th><th>blocking</th><th>observed</th>"
        "<th>rule</th></tr>",
    ]
    ordered = sorted(gate.checks, key=lambda c: (c.success, c.table, c.name))
    for check in ordered:
        status = "pass" if check.success else ("fail" if check.blocking else "warn")
        parts.append(
            f"<tr><td>{html.escape(check.table)}</td><td><code>{html.escape(check.name)}</code></td>"
            f"<td class='{status}'>{status}</td><td>{'yes' if check.blocking else 'no'}</td>"
            f"<td>{_cell(check.observed)}</td><td>{html.escape(check.description)}</td></tr>"
        )
    parts.append("</table>")
    for check in ordered:
        if check.success or not check.examples:
            continue
        parts.append(f"<h3>{html.escape(check.table)}: <code>{html.escape(check.name)}</code></h3>")
        headers = list(dict.fromkeys(key for row in check.examples for key in row))
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>")
        for row in check.examples:
            parts.append("<tr>" + "".join(f"<td>{_cell(row.get(h))}</td>" for h in headers) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
