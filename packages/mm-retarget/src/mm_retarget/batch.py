"""Batch retargeting: one ``MotionClip`` per input and a ``report.json``; a failing clip never stops the batch."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mm_core.contracts import RetargetReport

REPORT_NAME = "report.json"
#: Metrics summarised over a batch (mean over clips that have them).
SUMMARY_METRICS = (
    "joint_limit_violation_pct",
    "penetration_pct",
    "penetration_max_m",
    "floating_height_m",
    "tendon_jump_rate",
    "site_rmse_m",
    "seconds_per_frame",
)


def clip_path(out_dir: Path, input_path: Path) -> Path:
    return out_dir / f"{input_path.stem}.npz"


def retarget_file(
    input_path: str | Path,
    embodiment: str,
    method: str,
    out_dir: str | Path,
    reader_options: Mapping[str, Any] | None = None,
    retarget_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read, retarget and save one input; returns its :class:`RetargetReport` as a dict (never raises)."""
    from mm_core import get_retargeter, motion_reader_for
    from mm_retarget.metrics import flags

    input_path, out_dir = Path(input_path), Path(out_dir)
    try:
        if clip_path(out_dir, input_path).resolve() == input_path.resolve():
            raise ValueError(
                f"{input_path}: the clip would overwrite its own input; choose another --out directory"
            )
        reader = motion_reader_for(input_path)
        source = reader.read(input_path, **(reader_options or {}))
        clip = get_retargeter(method).retarget(source, embodiment, **(retarget_options or {}))
        out = clip.save(clip_path(out_dir, input_path))
        metrics = dict(clip.metadata["metrics"])
        why = flags(metrics)
        rep = RetargetReport(
            input=str(input_path),
            output=str(out),
            embodiment=embodiment,
            method=method,
            status="flagged" if why else "ok",
            metrics=metrics,
            flags=tuple(why),
        )
    except Exception as e:  # one bad clip is reported, never fatal for the batch
        rep = RetargetReport(
            input=str(input_path),
            output=None,
            embodiment=embodiment,
            method=method,
            status="failed",
            error=f"{type(e).__name__}: {e}",
        )
    return json.loads(json.dumps(rep.to_dict(), default=str))


def summarise(reports: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in reports if r["status"] != "failed"]
    summary: dict[str, Any] = {
        "clips": len(reports),
        "ok": sum(r["status"] == "ok" for r in reports),
        "flagged": sum(r["status"] == "flagged" for r in reports),
        "failed": sum(r["status"] == "failed" for r in reports),
        "frames": int(sum(r["metrics"].get("frames", 0) for r in ok)),
    }
    for k in SUMMARY_METRICS:
        vals = [float(r["metrics"][k]) for r in ok if k in r["metrics"]]
        if vals:
            summary[f"mean_{k}"] = sum(vals) / len(vals)
    return summary


def load_report(out_dir: str | Path) -> dict[str, Any]:
    """Read ``DIR/report.json``; errors say what to run."""
    p = Path(out_dir) / REPORT_NAME
    if not p.is_file():
        raise FileNotFoundError(
            f"{p}: no retarget report here; run `mm retarget INPUT... --out {out_dir}` first"
        )
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e}); delete it and re-run `mm retarget`") from e


def run_batch(
    inputs: Iterable[str | Path],
    *,
    embodiment: str,
    method: str,
    out_dir: str | Path,
    workers: int = 1,
    force: bool = False,
    reader_options: Mapping[str, Any] | None = None,
    retarget_options: Mapping[str, Any] | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Retarget every input into ``out_dir`` and write ``report.json``.

    Inputs whose clip already exists (and has an entry in the previous report for the same embodiment and method)
    are skipped unless ``force``. ``on_done(report)`` is called after each input (progress display).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = [Path(p) for p in inputs]
    previous: dict[str, dict[str, Any]] = {}
    if (out_dir / REPORT_NAME).is_file() and not force:
        try:
            old = load_report(out_dir)
            if old.get("embodiment") == embodiment and old.get("method") == method:
                previous = {r["input"]: r for r in old.get("clips", []) if r["status"] != "failed"}
        except ValueError:
            previous = {}
    results: dict[str, dict[str, Any]] = {}
    todo = []
    for p in inputs:
        prev = previous.get(str(p))
        if prev is not None and clip_path(out_dir, p).is_file():
            results[str(p)] = {**prev, "skipped": True}
            if on_done:
                on_done(results[str(p)])
        else:
            todo.append(p)
    args = [(p, embodiment, method, out_dir, reader_options, retarget_options) for p in todo]
    t0 = time.perf_counter()
    if workers <= 1 or len(todo) <= 1:
        for a in args:
            r = retarget_file(*a)
            results[str(a[0])] = r
            if on_done:
                on_done(r)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn: MuJoCo and BLAS threads do not survive fork reliably.
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(retarget_file, *a): a[0] for a in args}
            for f in as_completed(futures):
                r = f.result()
                results[str(futures[f])] = r
                if on_done:
                    on_done(r)
    # Keep earlier entries for inputs not in this run, so a directory accumulates one report.
    merged = {**previous, **results}
    clips = [merged[k] for k in sorted(merged)]
    report = {
        "embodiment": embodiment,
        "method": method,
        "wall_seconds": time.perf_counter() - t0,
        "clips": clips,
        "summary": summarise(clips),
    }
    (out_dir / REPORT_NAME).write_text(json.dumps(report, indent=2, default=str))
    return report
