"""Watermarks of the API source: `<warehouse>/state/api_watermarks.json`.

One entry per extracted stream ("salesforce/Lead", "hubspot/contacts",
"hubspot/form_submissions/<form guid>"), each an ISO 8601 UTC time: the next incremental
run reads records changed at or after it (minus the overlap window). An entry is written
only after the records below it are durably landed, and the file is replaced atomically,
so a crash leaves either the old or the new watermark, never a torn file.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

WATERMARKS_FILE = "api_watermarks.json"


class WatermarkStore:
    def __init__(self, warehouse_dir: Path):
        self.path = Path(warehouse_dir) / "state" / WATERMARKS_FILE
        self._marks: dict[str, str] = {}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError as error:
                raise ValueError(f"{self.path} is not valid JSON ({error}); fix or delete it "
                                 "(deleting means a full re-extract)") from None
            if not isinstance(loaded, dict):
                raise ValueError(f"{self.path} must hold a JSON object of stream -> ISO time")
            self._marks = {str(k): str(v) for k, v in loaded.items()}

    def get(self, stream: str) -> datetime | None:
        value = self._marks.get(stream)
        return parse_time(value) if value else None

    def set(self, stream: str, value: datetime) -> None:
        """Persist a new watermark (never moves one backwards)."""
        current = self.get(stream)
        if current is not None and value <= current:
            return
        self._marks[stream] = format_time(value)
        self._write()

    def as_dict(self) -> dict[str, str]:
        return dict(self._marks)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".api_watermarks.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(self._marks, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def parse_time(value: str | int | float) -> datetime:
    """An API time as aware UTC: ISO 8601 (Z, +0000, +00:00, with or without fractions) or epoch ms."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]  # Salesforce's +0000
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def since(watermark: datetime | None, overlap_minutes: float) -> datetime | None:
    """Where an incremental read starts: the watermark minus the overlap window."""
    return None if watermark is None else watermark - timedelta(minutes=overlap_minutes)
