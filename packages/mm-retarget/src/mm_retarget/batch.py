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
    """The first-choice clip name for an input: ``DIR/<input stem>.npz`` (see ``assign_outputs`` for clashes)."""
    return out_dir / f"{input_path.stem}.npz"


def assign_outputs(
    inputs: list[Path], out_dir: Path, claimed: Mapping[str, str] | None = None
) -> dict[Path, Path]:
    """One clip path per input, never two inputs on one file.

    claimed: input -> output of clips already in the directory's report (kept for those inputs, and taken from
    every other input). Inputs that share a file name, or whose name is taken, go under a folder named after their
    own folder (``a/x.bvh b/x.bvh`` -> ``DIR/a/x.npz``, ``DIR/b/x.npz``, as AMASS subject folders), then
    ``<stem>-2``, ``-3``..."""
    claimed = dict(claimed or {})
    taken = {Path(o).resolve() for i, o in claimed.items() if o}
    new_stems = [p.stem for p in inputs if not claimed.get(str(p))]
    out: dict[Path, Path] = {}
    for p in inputs:
        prev = claimed.get(str(p))
        if prev:
            out[p] = Path(prev)
            continue
        first = clip_path(out_dir, p)
        candidates = [first] if new_stems.count(p.stem) == 1 else []  # same names: all under their folders
        candidates.append(out_dir / p.resolve().parent.name / first.name)
        candidates += [
            candidates[-1].with_name(f"{p.stem}-{n}.npz") for n in range(2, len(inputs) + len(taken) + 3)
        ]
        chosen = next(c for c in candidates if c.resolve() not in taken)
        taken.add(chosen.resolve())
        out[p] = chosen
    return out


def options_record(
    reader_options: Mapping[str, Any] | None, retarget_options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The options a clip was made with, as JSON values (part of what "already done" means)."""
    return json.loads(
        json.dumps(
            {"reader": dict(reader_options or {}), "retarget": dict(retarget_options or {})}, default=str
        )
    )


def retarget_file(
    input_path: str | Path,
    embodiment: str,
    method: str,
    output: str | Path,
    reader_options: Mapping[str, Any] | None = None,
    retarget_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read, retarget and save one input to ``output``; returns its :class:`RetargetReport` as a dict (never
    raises), with the options it was made with."""
    from mm_core import get_retargeter, motion_reader_for
    from mm_retarget.metrics import flags

    input_path, output = Path(input_path), Path(output)
    try:
        if output.resolve() == input_path.resolve():
            raise ValueError(
                f"{input_path}: the clip would overwrite its own input; choose another --out directory"
            )
        reader = motion_reader_for(input_path)
        source = reader.read(input_path, **(reader_options or {}))
        clip = get_retargeter(method).retarget(source, embodiment, **(retarget_options or {}))
        out = clip.save(output)
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
    return json.loads(json.dumps(rep.to_dict(), default=str)) | {
        "options": options_record(reader_options, retarget_options)
    }


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


def _write_report(out_dir: Path, report: dict[str, Any]) -> None:
    from mm_core.outputs import atomic_path

    with atomic_path(out_dir / REPORT_NAME) as tmp:
        tmp.write_text(json.dumps(report, indent=2, default=str))


def _why_redo(prev: dict[str, Any], embodiment: str, method: str, options: dict[str, Any]) -> str | None:
    """Why an earlier clip of this input does not count as done (None: it does)."""
    if prev.get("embodiment") != embodiment or prev.get("method") != method:
        return f"the earlier clip was made for {prev.get('embodiment')} with {prev.get('method')}"
    old = prev.get("options")
    if old != options:
        changed = sorted(
            f"{k}: {(old or {}).get(g, {}).get(k)!r} -> {options[g].get(k)!r}"
            for g in ("reader", "retarget")
            for k in set((old or {}).get(g, {})) | set(options[g])
            if (old or {}).get(g, {}).get(k) != options[g].get(k)
        )
        return "options changed (" + ", ".join(changed or ["not recorded"]) + ")"
    if not prev.get("output") or not Path(prev["output"]).is_file():
        return "the earlier clip file is missing"
    return None


def run_batch(
    inputs: Iterable[str | Path],
    *,
    embodiment: str,
    method: str,
    out_dir: str | Path,
    workers: int = 1,
    force: bool = False,
    overwrite: bool = False,
    reader_options: Mapping[str, Any] | None = None,
    retarget_options: Mapping[str, Any] | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Retarget every input into ``out_dir`` and write ``report.json`` (after every clip, atomically).

    An input is skipped when the report has a clip of it made for the same embodiment, method and options and the
    file is there, unless ``force``; an earlier clip made otherwise is redone and its entry says why (``redone``).
    ``out_dir`` must be new, empty or an ``mm retarget`` output (``overwrite`` accepts any directory).
    ``on_done(report)`` is called after each input (progress display).
    """
    from mm_core.outputs import clean_temp_files, prepare_output_dir

    out_dir = prepare_output_dir(out_dir, "retarget", overwrite=overwrite)
    clean_temp_files(out_dir)  # partial files of a killed run
    inputs = list(dict.fromkeys(Path(p) for p in inputs))  # one input given twice is one clip
    previous = _previous_clips(out_dir, embodiment)
    options = options_record(reader_options, retarget_options)
    outputs = assign_outputs(
        inputs, out_dir, {k: r["output"] for k, r in previous.items() if r.get("output")}
    )
    results, redo, todo = _plan(inputs, previous, embodiment, method, options, force)
    if on_done:
        for r in results.values():
            on_done(r)
    t0 = time.perf_counter()

    def finish(r: dict[str, Any]) -> None:
        if r["input"] in redo:
            r["redone"] = redo[r["input"]]
        results[r["input"]] = r
        _write_report(out_dir, _report(previous, results, embodiment, method, t0))
        if on_done:
            on_done(r)

    args = [(p, embodiment, method, outputs[p], reader_options, retarget_options) for p in todo]
    _retarget_all(args, workers, finish)
    report = _report(previous, results, embodiment, method, t0)
    _write_report(out_dir, report)
    return report


def _previous_clips(out_dir: Path, embodiment: str) -> dict[str, dict[str, Any]]:
    """Input -> entry of the directory's report (empty without a readable one); refuses a directory holding
    clips of another embodiment."""
    previous: dict[str, dict[str, Any]] = {}
    if (out_dir / REPORT_NAME).is_file():
        try:
            previous = {r["input"]: r for r in load_report(out_dir).get("clips", [])}
        except ValueError:
            previous = {}
    others = sorted(
        {r.get("embodiment") for r in previous.values() if r["status"] != "failed"} - {embodiment}
    )
    if others:
        from mm_core.outputs import OutputError

        raise OutputError(
            f"{out_dir}: holds clips retargeted onto {', '.join(map(str, others))}, not {embodiment}; clips of "
            "several embodiments in one directory cannot be trained on together: give another --out directory"
        )
    return previous


def _plan(
    inputs: list[Path],
    previous: Mapping[str, dict[str, Any]],
    embodiment: str,
    method: str,
    options: dict[str, Any],
    force: bool,
) -> tuple[dict[str, dict[str, Any]], dict[str, str], list[Path]]:
    """(entries of the inputs already done, marked ``skipped``; input -> why its earlier clip is redone; the
    inputs to retarget, in order)."""
    done: dict[str, dict[str, Any]] = {}
    redo: dict[str, str] = {}
    todo = []
    for p in inputs:
        prev = previous.get(str(p))
        if prev is None or prev["status"] == "failed":
            todo.append(p)
            continue
        why = _why_redo(prev, embodiment, method, options)
        if why is None and not force:
            done[str(p)] = {k: v for k, v in prev.items() if k != "redone"} | {"skipped": True}
            continue
        if why is not None:
            redo[str(p)] = why
        todo.append(p)
    return done, redo, todo


def _retarget_all(
    args: list[tuple[Any, ...]], workers: int, finish: Callable[[dict[str, Any]], None]
) -> None:
    """:func:`retarget_file` on each argument tuple, in ``workers`` processes, ``finish`` on each report."""
    if workers <= 1 or len(args) <= 1:
        for a in args:
            finish(retarget_file(*a))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: MuJoCo and BLAS threads do not survive fork reliably.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(retarget_file, *a) for a in args]
        for f in as_completed(futures):
            finish(f.result())


def _report(
    previous: dict[str, dict[str, Any]],
    results: dict[str, dict[str, Any]],
    embodiment: str,
    method: str,
    t0: float,
) -> dict[str, Any]:
    # Keep earlier entries for inputs not in this run, so a directory accumulates one report.
    merged = {**previous, **results}
    clips = [merged[k] for k in sorted(merged)]
    return {
        "embodiment": embodiment,
        "method": method,
        "wall_seconds": time.perf_counter() - t0,
        "clips": clips,
        "summary": summarise(clips),
    }
