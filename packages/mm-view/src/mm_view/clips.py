"""Motion clips as playbacks: the clip on its embodiment, tracked sites, the fitted source skeleton of a retargeted
clip, its quality metrics and the frames that fail them; and the clips of an ``mm retarget`` directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mm_core import MotionClip
from mm_view.viewer import Playback


class ViewError(ValueError):
    """The input cannot be shown; the message names the file and says what to give instead."""


def load_clip(path: Path) -> tuple[MotionClip, Any]:
    """The clip at ``path`` and its embodiment's compiled model (checked to match)."""
    from mm_core import ContractError, get_embodiment
    from mm_core.registry import RegistryError

    try:
        clip = MotionClip.load(path)
    except ContractError as e:
        raise ViewError(str(e)) from e
    if not clip.embodiment:
        raise ViewError(f"{path}: the clip names no embodiment; write it with MotionClip(embodiment=...)")
    try:
        model = get_embodiment(clip.embodiment).compile()
    except RegistryError as e:
        raise ViewError(f"{path}: {e}") from e
    if clip.qpos.shape[1] != model.nq:
        raise ViewError(
            f"{path}: qpos has {clip.qpos.shape[1]} columns but embodiment {clip.embodiment!r} has nq={model.nq}"
        )
    return clip, model


def frame_failures(clip: MotionClip, model: Any) -> list[str]:
    """Per frame, the quality checks it fails (joint limits; floor penetration with mm-retarget), '' for none."""
    import mujoco

    try:
        from mm_retarget.metrics import LIMIT_TOL, PENETRATION_TOL
        from mm_retarget.retarget import load_model, lowest_point
    except ImportError:  # mm-retarget defines the checks; without it frames are not flagged
        return []
    from mm_models.kinematics import has_free_root, scalar_joints

    lim = scalar_joints(model, limited=True)
    q = clip.qpos[:, model.jnt_qposadr[lim]]
    lo, hi = model.jnt_range[lim, 0], model.jnt_range[lim, 1]
    out_of_range = (q < lo - LIMIT_TOL) | (q > hi + LIMIT_TOL)
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, int(j)) for j in lim]
    free = has_free_root(model)
    from mm_core import get_embodiment

    geoms = load_model(get_embodiment(clip.embodiment)).collision_geoms
    d = mujoco.MjData(model)
    flags = []
    for k in range(clip.num_frames):
        why = []
        bad = np.flatnonzero(out_of_range[k])
        if len(bad):
            why.append(
                "joint limits ("
                + ", ".join(names[i] for i in bad[:4])
                + (", ..." if len(bad) > 4 else "")
                + ")"
            )
        if free:
            d.qpos[:] = clip.qpos[k]
            mujoco.mj_kinematics(model, d)
            low = lowest_point(model, d, geoms)
            if low < -PENETRATION_TOL:
                why.append(f"floor penetration ({-low * 1000:.1f} mm)")
        flags.append("; ".join(why))
    return flags


def _summary(clip: MotionClip, flags: list[str]) -> str:
    metrics = dict(clip.metadata.get("metrics", {}))
    try:
        from mm_retarget.metrics import THRESHOLDS
    except ImportError:
        THRESHOLDS = {}  # noqa: N806
    lines = []
    if clip.metadata.get("method"):
        lines.append(f"retargeted with `{clip.metadata['method']}` from `{Path(clip.source).name}`")
    if metrics:
        lines += ["", "| metric | value |", "|---|---|"]
        for k, v in metrics.items():
            over = k in THRESHOLDS and float(v) > THRESHOLDS[k]
            mark = f" **over {THRESHOLDS[k]:g}**" if over else ""
            lines.append(f"| {k} | {float(v):.4g}{mark} |")
    failing = [k for k, f in enumerate(flags) if f]
    if flags:
        lines.append("")
        lines.append(
            f"{len(failing)} of {len(flags)} frames fail a check"
            + (f" (first: {failing[0]})" if failing else "")
        )
    return "\n".join(lines)


def clip_playback(clip: MotionClip, model: Any) -> Playback:
    """The clip, its tracked sites and (for a retargeted clip) the fitted source skeleton."""
    meta = clip.metadata
    source, pairs = None, []
    if "source_positions" in meta and "source_sites" in meta:
        src = np.asarray(meta["source_positions"], dtype=np.float64)
        names = list(clip.site_names)
        if (
            src.ndim == 3
            and src.shape[0] == clip.num_frames
            and all(s in names for s in meta["source_sites"])
        ):
            source, pairs = src, [names.index(s) for s in meta["source_sites"]]
    flags = frame_failures(clip, model)
    return Playback(
        title=clip.name or "clip",
        qpos=clip.qpos,
        fps=clip.fps,
        sites=clip.site_pos,
        source=source,
        source_sites=pairs,
        frame_flags=flags,
        summary=_summary(clip, flags),
    )


def retarget_entries(directory: Path) -> list[dict[str, Any]]:
    """The clips of an ``mm retarget`` directory (its report.json), best first: ok before flagged, then by site
    RMSE. Each: name, path (inside ``directory``), status, flags, site_rmse_m. Failed inputs have no clip."""
    report_path = directory / "report.json"
    try:
        report = json.loads(report_path.read_text())
        clips = report["clips"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ViewError(
            f"{report_path}: not a readable retarget report ({e}); run `mm retarget ... --out {directory}`"
        ) from e
    root = directory.resolve()
    out = []
    for r in clips:
        if r.get("status") == "failed" or not r.get("output"):
            continue
        # Only clips inside the directory are served, whatever the report says.
        p = (directory / Path(r["output"]).name).resolve()
        if p.parent != root or not p.is_file():
            continue
        out.append(
            {
                "name": p.stem,
                "path": p,
                "status": r.get("status", "ok"),
                "flags": list(r.get("flags", [])),
                "site_rmse_m": float(r.get("metrics", {}).get("site_rmse_m", float("nan"))),
            }
        )
    out.sort(key=lambda e: (e["status"] != "ok", np.nan_to_num(e["site_rmse_m"], nan=np.inf), e["name"]))
    if not out:
        raise ViewError(f"{directory}: the retarget report lists no clip that is in the directory")
    return out
