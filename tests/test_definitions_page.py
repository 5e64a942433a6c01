"""The definitions page renders alignment.yml so that both teams read the numbers they agreed on."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.alignment import TOUCH_TYPES, Alignment, load_alignment
from orchestration.definitions_page import render_definitions_page, write_definitions_page
from orchestration.settings import PROJECT_ROOT


def _with(**changes: object) -> Alignment:
    return Alignment.model_validate({**Alignment().model_dump(), **changes})


def test_every_points_entry_appears_with_its_points() -> None:
    alignment = Alignment()
    page = render_definitions_page(alignment, version="v1")
    for touch_type in TOUCH_TYPES:
        row = next(line for line in page.splitlines() if f"(`{touch_type}`)" in line)
        points = alignment.mql.points[touch_type]
        assert row.rstrip().endswith(f"| {points:g} |"), row


def test_the_page_states_the_defaults_in_plain_words() -> None:
    page = render_definitions_page(Alignment(), version="abc123")
    assert "`abc123`" in page
    assert "at least **50 points**" in page
    assert "within **1 hour**" in page
    assert "| `<5m` | up to 5 minutes |" in page
    assert "| `5-60m` | more than 5 minutes, up to 1 hour |" in page
    assert "| `>24h` | more than 24 hours |" in page
    assert "**365 days**" in page
    assert '"email_open"' in page
    assert "40 % to the first touch, 40 % to the last touch and 20 %" in page
    assert "halves for every 7 days" in page
    assert '"Working - Contacted", "Accepted"' in page
    assert "| smb | 0 to under 200 |" in page
    assert "| enterprise | 1000 or more |" in page
    assert "above **20 %**" in page
    assert "**USD**" in page and "**UTC**" in page
    assert "No monthly targets are set." in page


@pytest.mark.parametrize(
    ("changes", "before", "after"),
    [
        ({"mql": {"score_threshold": 65}}, "at least **50 points**", "at least **65 points**"),
        ({"mql": {"points": {"webinar_attended": 25}}}, "(`webinar_attended`) | 15 |", "(`webinar_attended`) | 25 |"),
        ({"sla": {"response_minutes": 30}}, "within **1 hour**", "within **30 minutes**"),
        ({"attribution": {"lookback_days": 90}}, "**365 days**", "**90 days**"),
        ({"attribution": {"time_decay_half_life_days": 14}}, "halves for every 7 days", "halves for every 14 days"),
        ({"pricing": {"max_discount_pct": 15}}, "above **20 %**", "above **15 %**"),
        ({"segments": {"smb": 0, "enterprise": 500}}, "| enterprise | 1000 or more |", "| enterprise | 500 or more |"),
        ({"targets": {"mqls": 120}}, "No monthly targets are set.", "| MQLs (`mqls`) | 120 |"),
        ({"reporting_currency": "EUR"}, "**USD**", "**EUR**"),
        ({"timezone": "Europe/Berlin"}, "**UTC**", "**Europe/Berlin**"),
        ({"crm": {"disqualification_reason_field": "Reason__c"}}, "not recorded", "`Reason__c`"),
    ],
)
def test_changing_a_definition_changes_the_page(changes: dict, before: str, after: str) -> None:
    default_page = render_definitions_page(Alignment(), version="v")
    assert before in default_page and after not in default_page
    changed = _with(**{key: {**Alignment().model_dump()[key], **value} if isinstance(value, dict)
                          and key not in ("segments", "targets") else value for key, value in changes.items()})
    changed_page = render_definitions_page(changed, version="v")
    assert after in changed_page
    assert before not in changed_page


def test_the_repository_alignment_file_renders_and_is_written(tmp_path: Path) -> None:
    alignment = load_alignment(PROJECT_ROOT / "alignment.yml")
    path = write_definitions_page(alignment, tmp_path / "docs" / "definitions.md", "0123abcd")
    text = path.read_text(encoding="utf-8")
    assert text == render_definitions_page(alignment, version="0123abcd")
    assert text.startswith("# Closed Loop")
