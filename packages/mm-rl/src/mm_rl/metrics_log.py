"""``metrics.csv`` of a run: one row per PPO update; a resumed run drops the rows after its checkpoint."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class MetricsLog:
    """metrics.csv: one row per update; the header is fixed by the first row (resume appends)."""

    def __init__(self, path: Path, resume_update: int | None) -> None:
        self.path = path
        self.columns: list[str] | None = None
        if resume_update is not None and path.is_file():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            # Rows logged after the checkpoint we resume from are replayed, so drop them.
            rows = [r for r in rows if int(float(r["update"])) <= resume_update]
            if rows:
                self.columns = list(rows[0].keys())
            from mm_core.outputs import atomic_path

            # A temporary file renamed over the old one: a kill -9 (or a full disk) here loses no row.
            with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
                if self.columns:
                    w = csv.DictWriter(f, self.columns)
                    w.writeheader()
                    w.writerows(rows)
        elif path.exists():
            path.unlink()

    def write(self, row: dict[str, Any]) -> None:
        new = self.columns is None
        if new:
            self.columns = list(row)
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, self.columns, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: row.get(k, "") for k in self.columns})
