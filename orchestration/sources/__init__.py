"""Source modes (SPEC 1.1): demo, files and api all land raw batches through `landing`.

Each mode's module exposes

    extract(settings: Settings, alignment: Alignment, systems: Collection[str]) -> ExtractReport

landing every object of the requested systems ("salesforce", "hubspot", "spend") under
`settings.raw_dir`, and returning what it landed. `extract_source` picks the mode.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from importlib import import_module

from orchestration.alignment import Alignment
from orchestration.landing import LandedBatch
from orchestration.settings import Settings

SYSTEMS = ("salesforce", "hubspot", "spend")


@dataclass
class ExtractReport:
    """What one extract landed, for the run summary and Dagster metadata."""

    batches: list[LandedBatch] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)  # "<system>/<object>" -> records
    notes: list[str] = field(default_factory=list)  # e.g. "12 form submissions without email"

    def rows_by_object(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for batch in self.batches:
            totals[batch.object.folder] = totals.get(batch.object.folder, 0) + batch.rows
        return totals

    def merge(self, other: ExtractReport) -> ExtractReport:
        self.batches += other.batches
        for key, count in other.quarantined.items():
            self.quarantined[key] = self.quarantined.get(key, 0) + count
        self.notes += other.notes
        return self


Extractor = Callable[[Settings, Alignment, Collection[str]], ExtractReport]


def extractor_for(mode: str) -> Extractor:
    """The extract function of a source mode (modules imported lazily: api needs no demo code)."""
    module = {"demo": "demo", "files": "files", "api": "api"}[mode]
    return import_module(f"orchestration.sources.{module}").extract


def extract_source(settings: Settings, alignment: Alignment, systems: Collection[str] = SYSTEMS) -> ExtractReport:
    return extractor_for(settings.source)(settings, alignment, systems)
