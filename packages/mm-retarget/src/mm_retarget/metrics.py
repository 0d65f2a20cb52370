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

from typing import TYPE_CHECKING, Any

import numpy as np

from mm_core.contracts import MotionClip

if TYPE_CHECKING:  # pragma: no cover
    from mm_retarget.retarget import _Model

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
    model: _Model | None = None,
    seconds: float | None = None,
    cpu_seconds: float | None = None,
) -> dict[str, float]:
    """The metrics above for ``clip`` (its embodiment is looked up in the registry unless ``model`` is given)."""
    import mujoco

    from mm_retarget.retarget import load_model, lowest_point

    if model is None:
        from mm_core import get_embodiment

        model = load_model(get_embodiment(clip.embodiment))
    m = model.model
    if clip.qpos.shape[1] != m.nq:
        raise ValueError(
            f"clip {clip.name!r} has nq={clip.qpos.shape[1]} but {clip.embodiment!r} has nq={m.nq}"
        )
    d = mujoco.MjData(m)
    t = clip.num_frames
    lowest = np.empty(t)
    ten = np.empty((t, m.ntendon))
    for i, q in enumerate(clip.qpos):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_tendon(m, d)
        ten[i] = d.ten_length
        lowest[i] = lowest_point(m, d, model.collision_geoms)

    hinge_slide = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    lim = [j for j in np.flatnonzero(m.jnt_limited) if int(m.jnt_type[j]) in hinge_slide]
    q = clip.qpos[:, m.jnt_qposadr[lim]]
    lo, hi = m.jnt_range[lim, 0], m.jnt_range[lim, 1]
    viol = ((q < lo - LIMIT_TOL) | (q > hi + LIMIT_TOL)).any(axis=1)
    out: dict[str, float] = {
        "frames": float(t),
        "joint_limit_violation_pct": 100.0 * float(viol.mean()),
    }
    if model.spec.root == "free" and np.isfinite(lowest).all():
        out["penetration_pct"] = 100.0 * float((lowest < -PENETRATION_TOL).mean())
        out["penetration_max_m"] = float(max(0.0, -lowest.min()))
        out["floating_height_m"] = float(max(0.0, np.percentile(lowest, 10)))
    resid = coupling_residual(m, clip.qpos)
    if resid is not None:
        out["coupling_residual_max"] = resid
    if m.ntendon and t > 1:
        jump = (np.abs(np.diff(ten, axis=0)) * clip.fps > TENDON_SPEED).any(axis=1)
        out["tendon_jump_rate"] = float(jump.mean())
    src = clip.metadata.get("source_positions")
    if src is not None:
        tgt = np.asarray(src, dtype=np.float64)
        idx = [list(clip.site_names).index(s) for s in clip.metadata["source_sites"]]
        err = np.linalg.norm(clip.site_pos[:, idx] - tgt, axis=-1)
        out["site_rmse_m"] = float(np.sqrt((err**2).mean()))
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


def coupling_residual(m, qpos: np.ndarray) -> float | None:  # noqa: ANN001 (mujoco.MjModel)
    """Max |q1 - q1_0 - poly(q2 - q2_0)| over the active joint-equality constraints and frames; None if none.

    MuJoCo's joint equality: joint1 - ref1 = a0 + a1 (joint2 - ref2) + ... + a4 (joint2 - ref2)^4 (ref = qpos0).
    """
    import mujoco

    eqs = [i for i in range(m.neq) if m.eq_type[i] == mujoco.mjtEq.mjEQ_JOINT and m.eq_active0[i]]
    if not eqs:
        return None
    worst = 0.0
    for i in eqs:
        a1 = m.jnt_qposadr[m.eq_obj1id[i]]
        c = m.eq_data[i, :5]
        y = qpos[:, a1] - m.qpos0[a1]
        if m.eq_obj2id[i] >= 0:
            a2 = m.jnt_qposadr[m.eq_obj2id[i]]
            x = qpos[:, a2] - m.qpos0[a2]
            pred = c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * c[4])))
        else:
            pred = np.full_like(y, c[0])
        worst = max(worst, float(np.abs(y - pred).max()))
    return worst
