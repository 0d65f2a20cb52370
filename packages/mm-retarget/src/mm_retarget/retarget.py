"""Retargeting a :class:`SourceMotion` onto an embodiment: ``gmr-fit`` and the ``mocap-body`` baseline.

Both share one pipeline (so the baseline differs only where the method does):

1. pick the source joints that the embodiment's SMPL joint map tracks;
2. fit the source to the model: each segment of the tracked-joint tree is scaled to the model's length in its
   reference pose (default keyframe), the root trajectory by the leg-length ratio; the source is turned so it faces
   the model's forward direction at the start (free root) or expressed relative to its root joint's horizontal
   frame (fixed root: bimanual's thorax, tiny's pelvis);
3. differential IK with ``mink`` over the tracked sites, at ``solve_fps`` (default 30 Hz, as the reference),
   warm-started frame to frame; ``gmr-fit`` adds joint limits (hard, QP inequalities) and the joint-equality
   couplings (a high-cost task), the baseline has neither;
4. resample to ``out_fps``, by default the embodiment's control rate (100 Hz for the built-ins): PCHIP for scalar
   joints, which never overshoots a limit; SLERP for quaternions;
5. free root: ground alignment (lowest collision geom on the floor) and penetration removal (gmr-fit);
6. velocities by finite differences (``mj_differentiatePos``), site poses by forward kinematics.

One module per step: :mod:`~mm_retarget.fit` (1-2), :mod:`~mm_retarget.ik` (3), :mod:`~mm_retarget.post` (4, 6),
:mod:`~mm_retarget.floor` (5), the compiled model in :mod:`~mm_retarget.model`, the settings in
:mod:`~mm_retarget.options`; this module chains them and records what was done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mm_core.contracts import SMPL_JOINTS, EmbodimentSpec, MotionClip, SourceMotion
from mm_retarget import metrics
from mm_retarget.fit import fit_source, resample_source
from mm_retarget.floor import align_ground, lowest_point, stance_frames
from mm_retarget.ik import solve_ik
from mm_retarget.model import RetargetModel, joint_names, load_model
from mm_retarget.options import METHODS, RetargetOptions
from mm_retarget.post import clip_to_limits, resample_qpos, site_poses

__all__ = ["METHODS", "RetargetOptions", "load_model", "lowest_point", "retarget", "tracked_pairs"]


def tracked_pairs(source: SourceMotion, embodiment: EmbodimentSpec) -> tuple[list[str], list[str], list[int]]:
    """(SMPL names, site names, source joint indices) of the joints both sides have, in SMPL order."""
    idx = {n: i for i, n in enumerate(source.joint_names)}
    jm = embodiment.smpl_joint_map
    if not jm:
        raise ValueError(
            f"embodiment {embodiment.name!r} declares no SMPL joint map: it cannot be retargeted onto"
        )
    names = [n for n in SMPL_JOINTS if n in jm and n in idx]
    if len(names) < 2:
        raise ValueError(
            f"{source.source or 'source'}: only {names} of the joints embodiment {embodiment.name!r} tracks "
            f"({sorted(jm)}) are in the motion ({list(source.joint_names)}); check the reader's joint map"
        )
    return names, [jm[n] for n in names], [idx[n] for n in names]


def retarget(
    source: SourceMotion,
    embodiment: EmbodimentSpec | str,
    *,
    method: str = "gmr-fit",
    name: str | None = None,
    **overrides: Any,
) -> MotionClip:
    """Retarget ``source`` onto ``embodiment`` with ``method`` (``gmr-fit`` or ``mocap-body``).

    overrides: any :class:`RetargetOptions` field. The clip's metadata holds the method, the fit, the quality
    metrics (:mod:`mm_retarget.metrics`) and the fitted source joints (for ``mm retarget show``).
    """
    from threadpoolctl import threadpool_limits

    if method not in METHODS:
        raise ValueError(f"unknown retargeting method {method!r}; valid: {', '.join(METHODS)}")
    unknown = sorted(set(overrides) - set(RetargetOptions.__dataclass_fields__))
    if unknown:
        raise ValueError(
            f"unknown retarget option(s) {unknown}; valid: {sorted(RetargetOptions.__dataclass_fields__)}"
        )
    opts = replace(METHODS[method], **overrides)
    # The IK's matrices are ~100 x 100: threaded BLAS only adds overhead (10x slower on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _retarget(source, embodiment, opts, name)


def _output_fps(emb: EmbodimentSpec, opts: RetargetOptions) -> float:
    """The output clip's rate: ``opts.out_fps``, else the embodiment's control rate; refuses a non-rate."""
    control_fps = 1.0 / emb.physics.control_dt
    out_fps = control_fps if opts.out_fps is None else float(opts.out_fps)
    if not (np.isfinite(out_fps) and out_fps > 0):
        raise ValueError(
            f"retarget option out_fps={opts.out_fps!r}: give a frame rate in Hz (> 0), or None for "
            f"{emb.name!r}'s control rate ({control_fps:g} Hz, the only rate its task accepts)"
        )
    return out_fps


@dataclass(frozen=True)
class _Solved:
    """The IK's result at the solve rate."""

    names: list[str]
    """Tracked SMPL joints (K,)."""
    sites: list[str]
    """Their sites (K,)."""
    times: np.ndarray
    """Solve instants, s (N,)."""
    targets: np.ndarray
    """Fitted source joints (N, K, 3)."""
    qpos: np.ndarray
    """Poses (N, nq), on the couplings and within the limits where the method asks for them."""
    fit: dict[str, Any]
    """What :func:`~mm_retarget.fit.fit_source` fitted."""


def _solve(source: SourceMotion, mdl: RetargetModel, opts: RetargetOptions) -> _Solved:
    """Steps 1-3: pick the tracked joints, fit them to the model at the solve rate, solve the IK."""
    from mm_models.kinematics import apply_couplings

    names, sites, cols = tracked_pairs(source, mdl.spec)
    # Solve at solve_fps (never above the source's rate); 0 = at the source's rate.
    times, src_full = resample_source(
        source, min(opts.solve_fps, source.fps) if opts.solve_fps else source.fps
    )
    src_all = {n: src_full[:, i] for i, n in enumerate(source.joint_names) if n in SMPL_JOINTS}
    targets, fit = fit_source(src_full[:, cols], names, mdl, sites, opts.fit_scale, src_all)
    q = solve_ik(mdl, sites, targets, opts)
    if opts.equality_cost > 0:
        q = apply_couplings(mdl.model, q)  # exactly on them: the IK holds them softly (~1e-3)
    if opts.limits:
        q = clip_to_limits(mdl.model, q)
    return _Solved(names, sites, times, targets, q, fit)


def _resample_targets(solved: _Solved, t_out: np.ndarray) -> np.ndarray:
    """The fitted source joints at the output instants, linear in time (T, K, 3)."""
    tg = solved.targets
    return np.stack(
        [
            np.stack([np.interp(t_out, solved.times, tg[:, j, c]) for c in range(3)], -1)
            for j in range(tg.shape[1])
        ],
        1,
    )


def _retarget(
    source: SourceMotion, embodiment: EmbodimentSpec | str, opts: RetargetOptions, name: str | None
) -> MotionClip:
    from mm_core import get_embodiment
    from mm_models.kinematics import finite_difference_qvel

    emb = get_embodiment(embodiment) if isinstance(embodiment, str) else embodiment
    out_fps = _output_fps(emb, opts)
    opts = replace(opts, out_fps=out_fps)  # the rate used, in the clip's metadata
    t_load = time.perf_counter()
    mdl = load_model(emb)  # one-off per process; not part of the per-frame cost
    t0, c0 = time.perf_counter(), time.process_time()
    load_seconds = t0 - t_load
    solved = _solve(source, mdl, opts)
    # Step 4: to the output rate.
    t_out = np.arange(0.0, solved.times[-1] + 1e-9, 1.0 / out_fps)
    qpos = resample_qpos(mdl.model, solved.times, solved.qpos, t_out)
    if opts.limits:
        qpos = clip_to_limits(mdl.model, qpos)
    # Fitted source joints at the output rate: stance detection, metrics and display.
    tgt = _resample_targets(solved, t_out)
    # Steps 5-6: ground, velocities, site poses.
    stance = stance_frames({n: tgt[:, i] for i, n in enumerate(solved.names)}, out_fps)
    qpos, corr = align_ground(mdl, qpos, opts.ground, out_fps, stance)
    qvel = finite_difference_qvel(mdl.model, qpos, out_fps)
    site_pos, site_quat = site_poses(mdl, qpos)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    shift = float(np.median(corr))
    tgt[..., 2] += shift  # the source on the same floor (per-frame corrections beyond it count as error)
    meta = _metadata(source, opts, solved, tgt, stance, shift)
    meta.update(seconds=elapsed, cpu_seconds=cpu, model_load_seconds=load_seconds)
    clip = MotionClip(
        fps=out_fps,
        qpos=qpos,
        qvel=qvel,
        site_pos=site_pos,
        site_quat=site_quat,
        site_names=emb.tracked_sites,
        joint_names=joint_names(mdl.model),
        embodiment=emb.name,
        name=name or _stem(source.source),
        source=source.source,
        metadata=meta,
    )
    meta["metrics"] = metrics.clip_metrics(clip, model=mdl, seconds=elapsed, cpu_seconds=cpu)
    return clip


def _metadata(
    source: SourceMotion,
    opts: RetargetOptions,
    solved: Any,
    tgt: np.ndarray,
    stance: np.ndarray,
    shift: float,
) -> dict[str, Any]:
    """The clip's ``metadata``: options, source and solve rates, the fit, the ground shift, the stance fraction
    and the fitted source joints ``tgt`` (output rate, on the clip's floor); timings are added by the caller."""
    times = solved.times
    return {
        "method": opts.method,
        "options": {k: v for k, v in opts.__dict__.items()},
        "source_fps": source.fps,
        "source_frames": int(source.positions.shape[0]),
        "solve_fps": float(1.0 / (times[1] - times[0])) if len(times) > 1 else source.fps,
        "reader": dict(source.metadata),
        "fit": solved.fit,
        "ground_shift_m": shift,
        "stance_fraction": float(stance.mean()),
        "seconds": None,
        "cpu_seconds": None,
        "model_load_seconds": None,
        "source_joints": solved.names,
        "source_sites": solved.sites,
        "source_positions": np.round(tgt, 5).tolist(),
    }


def _stem(path: str) -> str:
    from pathlib import Path

    return Path(path).stem if path else "motion"
