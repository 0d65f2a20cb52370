"""Floor and contact geometry: the lowest point of a posed body, planted-foot frames, and ground alignment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

    from mm_retarget.model import RetargetModel

#: Source foot joints used to find stance frames, and what counts as stance: slower than this (m/s) and within
#: this height of the joint's lowest height in the clip (m).
_FEET = ("L_Ankle", "R_Ankle", "L_Foot", "R_Foot")
STANCE_SPEED, STANCE_HEIGHT = 0.5, 0.05


def lowest_point(m: mujoco.MjModel, d: mujoco.MjData, geoms: np.ndarray) -> float:
    """Height of the lowest point of ``geoms`` (world z) in the current kinematics; +inf when there are none."""
    import mujoco

    if len(geoms) == 0:
        return float("inf")
    z = d.geom_xpos[geoms, 2]
    r = d.geom_xmat[geoms].reshape(-1, 3, 3)[:, 2, :]  # row z of each rotation: world z of the local axes
    size = m.geom_size[geoms]
    gt = m.geom_type[geoms]
    low = np.full(len(geoms), np.inf)
    g = mujoco.mjtGeom
    for t, f in (
        (g.mjGEOM_SPHERE, lambda r, s: s[:, 0]),
        (g.mjGEOM_CAPSULE, lambda r, s: np.abs(r[:, 2]) * s[:, 1] + s[:, 0]),
        (g.mjGEOM_ELLIPSOID, lambda r, s: np.sqrt(((r * s) ** 2).sum(1))),
        (g.mjGEOM_CYLINDER, lambda r, s: np.abs(r[:, 2]) * s[:, 1] + s[:, 0] * np.sqrt(1 - r[:, 2] ** 2)),
        (g.mjGEOM_BOX, lambda r, s: (np.abs(r) * s).sum(1)),
    ):
        k = gt == t
        if k.any():
            low[k] = z[k] - f(r[k], size[k])
    for i in np.flatnonzero(gt == g.mjGEOM_MESH):
        gid = geoms[i]
        mid = m.geom_dataid[gid]
        v = m.mesh_vert[m.mesh_vertadr[mid] : m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
        low[i] = z[i] + float((v @ r[i]).min())
    return float(low.min())


def lowest_per_frame(mdl: RetargetModel, qpos: np.ndarray) -> np.ndarray:
    """Height of the lowest collision-geom point in each frame of qpos (T, nq): (T,)."""
    import mujoco

    m = mdl.model
    d = mujoco.MjData(m)
    h = np.empty(len(qpos))
    for i, q in enumerate(qpos):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        h[i] = lowest_point(m, d, mdl.collision_geoms)
    return h


def stance_frames(targets: Mapping[str, np.ndarray], fps: float) -> np.ndarray:
    """Frames in which a source foot joint is planted (slow and low): bool (T,). targets: name -> (T, 3)."""
    feet = [targets[n] for n in _FEET if n in targets]
    if not feet:
        return np.zeros(len(next(iter(targets.values()))), dtype=bool)
    out = np.zeros(len(feet[0]), dtype=bool)
    for p in feet:
        speed = np.linalg.norm(np.gradient(p, 1.0 / fps, axis=0), axis=-1)
        out |= (speed < STANCE_SPEED) & (p[:, 2] < p[:, 2].min() + STANCE_HEIGHT)
    return out


def align_ground(
    mdl: RetargetModel, qpos: np.ndarray, mode: str, fps: float, stance: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Free root: move the root vertically so the body stands on the floor (z = 0).

    ``lowest``: one shift putting the lowest point of the whole clip on the floor. ``contact``: in stance frames
    (``stance``, from the source's planted feet) the lowest collision point is put on the floor, and the correction
    is interpolated across swing and flight (so a run keeps its flight arc), smoothed over 50 ms; without stance
    frames one shift puts the 5th percentile of the per-frame lowest point on the floor. Then any frame still below
    the floor is lifted by its depth, the lift widened and smoothed so it never jerks (a moving average of a
    running max is >= the lift). Returns (qpos, per-frame vertical correction (T,)).
    """
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    t = len(qpos)
    if mdl.spec.root != "free" or mode == "none":
        return qpos, np.zeros(t)
    h = lowest_per_frame(mdl, qpos)
    w = max(1, int(round(0.05 * fps)) | 1)
    if mode == "lowest":
        corr = np.full(t, -h.min())
    elif stance is not None and stance.sum() >= 2:
        idx = np.flatnonzero(stance)
        corr = uniform_filter1d(np.interp(np.arange(t), idx, -h[idx]), w, mode="nearest")
    else:
        corr = np.full(t, -np.percentile(h, 5))
    if mode == "contact":
        lift = np.maximum(0.0, -(h + corr))
        if lift.any():
            smooth = uniform_filter1d(maximum_filter1d(lift, w, mode="nearest"), w, mode="nearest")
            corr += np.maximum(smooth, lift) + 1e-4
    q = qpos.copy()
    q[:, 2] += corr
    return q, corr
