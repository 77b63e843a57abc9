"""The training metrics file: one JSON object per logging window, appended as it goes.

``out_dir/metrics.jsonl`` holds rows ``{"step", "loss", "lr", "steps_per_s", "wall_s"}``.
A run killed mid-write can leave a torn last line, and a run resumed from a checkpoint at
step k may find rows past k (logged after that checkpoint); :meth:`MetricsLog.trim`
drops both, so the file reads as one uninterrupted history.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from manifold_fm._io import atomic_write_text

__all__ = ["METRICS_NAME", "MetricsLog"]

METRICS_NAME = "metrics.jsonl"


class MetricsLog:
    """Append-only JSONL metrics in ``folder/metrics.jsonl`` (rank 0 alone writes it)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder) / METRICS_NAME

    def append(self, row: dict[str, Any]) -> None:
        """Write ``row`` (plain JSON values) as one line, creating the folder if needed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def _rows(self) -> list[tuple[str, dict[str, Any]]]:
        """(line, row) of every line that parses as a JSON object; torn lines are skipped."""
        if not self.path.is_file():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill mid-write
            if isinstance(row, dict):
                rows.append((line, row))
        return rows

    def steps(self) -> list[int]:
        """The steps of the rows that parse, in file order (empty when there is no file)."""
        return [int(row["step"]) for _, row in self._rows() if "step" in row]

    def trim(self, step: int) -> None:
        """Keep the rows with ``row["step"] <= step`` that parse; rewrite atomically.

        A missing file is left missing; the rewrite is atomic
        (:func:`manifold_fm._io.atomic_write_text`), so a kill during the trim leaves the old
        or the new file.
        """
        if not self.path.is_file():
            return
        keep = [line for line, row in self._rows() if int(row.get("step", 0)) <= step]
        atomic_write_text(self.path, "".join(f"{line}\n" for line in keep))
