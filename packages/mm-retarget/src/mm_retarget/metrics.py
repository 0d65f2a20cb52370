"""Quality metrics of a retargeted clip, as defined in the reference's facts sheet, and the failure thresholds.

All metrics are computed on the output clip (100 Hz) by forward kinematics of the model:

- ``joint_limit_violation_pct``: % of frames in which any limited hinge/slide joint is outside its range by more
  than ``LIMIT_TOL`` (1e-5 rad or m).
- ``penetration_pct``: % of frames whose lowest collision-geom point is more than ``PENETRATION_TOL`` (1 mm)
  below the floor (z = 0); ``penetration_max_m``: the deepest such point over the clip. Free-root models only.
- ``floating_height_m``: the 10th percentile over frames of the height of the lowest collision-geom point: a clip
  whose body is above the floor in 90 % of its frames by more than this floats (running has flight phases, so a
  per-frame minimum would be wrong). Free-root models only.
- ``tendon_jump_rate``: the fraction of consecutive frame pairs in which any tendon's length changes faster than
  ``TENDON_SPEED`` (1 m/s, i.e. more than 1 cm between two 100 Hz frames; muscle-tendon units in human running
  stay well below it), a sign of a joint flipping between IK solutions.
- ``site_rmse_m``: root-mean-square over frames and tracked sites of the distance between each site and the fitted
  (scaled, heading-aligned, grounded) source joint it tracks.
- ``coupling_residual_max``: the largest violation over the clip of the model's joint-equality couplings (knee
  kinematics, shoulder rhythm, spine), rad or m: how far the pose is from one the model can actually take.
- ``seconds_per_frame``: wall time of retargeting / output frames (100 Hz); ``seconds_per_source_frame``: / source
  frames; ``cpu_seconds_per_frame``: process CPU time / output frames (steadier on a shared machine). The one-off
  model compile (seconds for MyoFullBody, cached per process) is excluded and kept as ``model_load_seconds`` in the
  clip metadata.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mm_core.contracts import MotionClip
from mm_retarget.floor import lowest_point
from mm_retarget.model import RetargetModel, load_model

LIMIT_TOL = 1e-5
PENETRATION_TOL = 1e-3
TENDON_SPEED = 1.0

#: Failure thresholds of the reference (facts sheet): a clip over one is flagged (written, never dropped).
THRESHOLDS: dict[str, float] = {
    "joint_limit_violation_pct": 0.5,
    "penetration_max_m": 0.005,
    "floating_height_m": 0.025,
    "tendon_jump_rate": 0.05,
}


def clip_metrics(
    clip: MotionClip,
    *,
    model: RetargetModel | None = None,
    seconds: float | None = None,
    cpu_seconds: float | None = None,
) -> dict[str, float]:
    """The metrics above for ``clip`` (its embodiment is looked up in the registry unless ``model`` is given)."""
    from mm_models.kinematics import coupling_residual

    if model is None:
        from mm_core import get_embodiment

        model = load_model(get_embodiment(clip.embodiment))
    m = model.model
    if clip.qpos.shape[1] != m.nq:
        raise ValueError(
            f"clip {clip.name!r} has nq={clip.qpos.shape[1]} but {clip.embodiment!r} has nq={m.nq}"
        )
    lowest, ten = _lowest_and_tendons(model, clip.qpos)
    out: dict[str, float] = {
        "frames": float(clip.num_frames),
        "joint_limit_violation_pct": _limit_violation_pct(m, clip.qpos),
    }
    if model.spec.root == "free" and np.isfinite(lowest).all():
        out |= _floor_metrics(lowest)
    resid = coupling_residual(m, clip.qpos)
    if resid is not None:
        out["coupling_residual_max"] = resid
    if m.ntendon and clip.num_frames > 1:
        jump = (np.abs(np.diff(ten, axis=0)) * clip.fps > TENDON_SPEED).any(axis=1)
        out["tendon_jump_rate"] = float(jump.mean())
    if clip.metadata.get("source_positions") is not None:
        out["site_rmse_m"] = _site_rmse(clip)
    return out | _timing(clip, seconds, cpu_seconds)


def _lowest_and_tendons(model: RetargetModel, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame of qpos (T, nq): the lowest collision-geom point (T,) and the tendon lengths (T, ntendon)."""
    import mujoco

    m = model.model
    d = mujoco.MjData(m)
    lowest = np.empty(len(qpos))
    ten = np.empty((len(qpos), m.ntendon))
    for i, q in enumerate(qpos):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_tendon(m, d)
        ten[i] = d.ten_length
        lowest[i] = lowest_point(m, d, model.collision_geoms)
    return lowest, ten


def _limit_violation_pct(m: Any, qpos: np.ndarray) -> float:  # m: mujoco.MjModel
    """% of frames with a limited hinge/slide coordinate out of its range by more than ``LIMIT_TOL``."""
    from mm_models.kinematics import scalar_joints

    lim = scalar_joints(m, limited=True)
    q = qpos[:, m.jnt_qposadr[lim]]
    lo, hi = m.jnt_range[lim, 0], m.jnt_range[lim, 1]
    viol = ((q < lo - LIMIT_TOL) | (q > hi + LIMIT_TOL)).any(axis=1)
    return 100.0 * float(viol.mean())


def _floor_metrics(lowest: np.ndarray) -> dict[str, float]:
    """Penetration and floating from the per-frame lowest point (T,)."""
    return {
        "penetration_pct": 100.0 * float((lowest < -PENETRATION_TOL).mean()),
        "penetration_max_m": float(max(0.0, -lowest.min())),
        "floating_height_m": float(max(0.0, np.percentile(lowest, 10))),
    }


def _site_rmse(clip: MotionClip) -> float:
    """RMS distance between the tracked sites and the fitted source joints in the clip's metadata."""
    tgt = np.asarray(clip.metadata["source_positions"], dtype=np.float64)
    idx = [list(clip.site_names).index(s) for s in clip.metadata["source_sites"]]
    err = np.linalg.norm(clip.site_pos[:, idx] - tgt, axis=-1)
    return float(np.sqrt((err**2).mean()))


def _timing(clip: MotionClip, seconds: float | None, cpu_seconds: float | None) -> dict[str, float]:
    out: dict[str, float] = {}
    t = clip.num_frames
    if seconds is not None:
        out["seconds"] = float(seconds)
        out["seconds_per_frame"] = float(seconds) / t
        sf = clip.metadata.get("source_frames")
        if sf:
            out["seconds_per_source_frame"] = float(seconds) / float(sf)
    if cpu_seconds is not None:
        out["cpu_seconds_per_frame"] = float(cpu_seconds) / t
    return out


def flags(metrics: dict[str, Any]) -> list[str]:
    """Human-readable reasons why a clip is over a failure threshold (empty when it is not)."""
    return [
        f"{k} = {metrics[k]:.4g} > {v:g}"
        for k, v in THRESHOLDS.items()
        if k in metrics and float(metrics[k]) > v
    ]
