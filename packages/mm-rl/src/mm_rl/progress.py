"""The progress bar of ``mm train``: rich, with live figures (or nothing, for ``--json`` and non-zero ranks)."""

from __future__ import annotations

from typing import Any


class Progress:
    """A rich progress bar with live figures (or nothing when not ``enabled``)."""

    def __init__(self, total: int | None, start: int, enabled: bool) -> None:
        self.enabled, self.total, self.start = enabled, total, start
        self.progress: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self.progress = RichProgress(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[figures]}"),
                transient=False,
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("train", total=self.total, completed=self.start, figures="")
        return self

    def advance(self, row: dict[str, Any]) -> None:
        if self.progress is None:
            return
        figures = (
            f"reward {row['reward']:.3f}  ET {row['early_termination_rate']:.2f}  "
            f"ep.len {row['episode_length']:.0f}  {row['samples_per_s']:.0f} samples/s"
        )
        self.progress.update(self.task, advance=1, figures=figures)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)
