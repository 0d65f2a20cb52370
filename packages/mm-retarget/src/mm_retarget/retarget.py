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
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mm_core.contracts import SMPL_JOINTS, EmbodimentSpec, MotionClip, SourceMotion

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

from mm_retarget.smpl import SMPL_PARENTS

#: Left/right joint pairs (SMPL names) that define a body's horizontal "left" direction, best first.
_LR_PAIRS = (("L_Hip", "R_Hip"), ("L_Shoulder", "R_Shoulder"), ("L_Collar", "R_Collar"), ("L_Knee", "R_Knee"))


@dataclass(frozen=True, kw_only=True)
class RetargetOptions:
    """Settings of the retargeting pipeline (see the module docstring)."""

    method: str = "gmr-fit"
    """Name recorded in the clip (``gmr-fit`` or ``mocap-body``)."""
    out_fps: float | None = None
    """Frame rate of the output clip; ``None``: the embodiment's control rate, 1 / (physics timestep x substeps),
    the only rate its task accepts (100 Hz for the built-ins)."""
    solve_fps: float = 30.0
    """Rate at which IK is solved; the result is resampled to ``out_fps``. 0 = the source's rate."""
    iterations: int = 3
    """IK iterations per solved frame (warm-started from the previous frame)."""
    first_iterations: int = 100
    """IK iterations for the first frame (from the reference pose)."""
    tolerance: float = 1e-5
    """Stop a frame's iterations once no coordinate moves more than this (rad or m) in one step."""
    damping: float = 1e-3
    """Levenberg-Marquardt damping of the IK QP (regularises the step)."""
    position_cost: float = 1.0
    """Cost of each tracked-site position error (per metre)."""
    posture_cost: float = 1e-2
    """Cost pulling joints towards the reference pose, resolving what the sites leave free (e.g. foot roll)."""
    limits: bool = True
    """Enforce joint limits as hard QP constraints (gmr-fit) or not (baseline)."""
    equality_cost: float = 10.0
    """Cost of the joint-equality couplings (knee, shoulder rhythm, spine); 0 = ignore them (baseline)."""
    ground: Literal["contact", "lowest", "none"] = "contact"
    """Free root: ``contact`` = floor under the feet and per-frame penetration removal; ``lowest`` = one shift
    putting the lowest point of the clip on the floor; ``none``."""
    fit_scale: bool = True
    """Scale source segments to the model's lengths (else only the root trajectory by the leg ratio)."""


METHODS: dict[str, RetargetOptions] = {
    "gmr-fit": RetargetOptions(),
    "mocap-body": RetargetOptions(
        method="mocap-body", limits=False, equality_cost=0.0, posture_cost=1e-4, ground="lowest", iterations=3
    ),
}


# ---------------------------------------------------------------------------------------------------------------
# Model side
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    """A compiled embodiment with the lookups retargeting needs (resolved once)."""

    spec: EmbodimentSpec
    model: mujoco.MjModel
    site_ids: np.ndarray  # tracked site ids (S,)
    ref_qpos: np.ndarray  # reference pose (nq,)
    ref_site_pos: np.ndarray  # tracked site positions in the reference pose (S, 3)
    collision_geoms: np.ndarray  # geom ids that can touch the floor (G,)


_MODELS: dict[int, tuple[EmbodimentSpec, _Model]] = {}


def load_model(embodiment: EmbodimentSpec) -> _Model:
    """The compiled embodiment with its lookups, cached per spec object (compiling MyoFullBody takes seconds)."""
    hit = _MODELS.get(id(embodiment))
    if hit is not None and hit[0] is embodiment:
        return hit[1]
    mdl = _load_model(embodiment)
    _MODELS[id(embodiment)] = (embodiment, mdl)
    return mdl


def _load_model(embodiment: EmbodimentSpec) -> _Model:
    import mujoco

    m = embodiment.compile()
    ids = []
    for s in embodiment.tracked_sites:
        i = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, s)
        if i < 0:
            raise ValueError(f"embodiment {embodiment.name!r}: tracked site {s!r} is not in its model")
        ids.append(i)
    d = mujoco.MjData(m)
    if embodiment.default_keyframe:
        k = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, embodiment.default_keyframe)
        if k < 0:
            raise ValueError(f"embodiment {embodiment.name!r}: no keyframe {embodiment.default_keyframe!r}")
        d.qpos[:] = m.key_qpos[k]
    ref = d.qpos.copy()
    mujoco.mj_kinematics(m, d)
    geoms = np.flatnonzero(
        ((m.geom_contype != 0) | (m.geom_conaffinity != 0))
        & (m.geom_bodyid != 0)
        & (m.geom_type != mujoco.mjtGeom.mjGEOM_PLANE)
    )
    return _Model(embodiment, m, np.array(ids), ref, d.site_xpos[ids].copy(), geoms)


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


# ---------------------------------------------------------------------------------------------------------------
# Source side
# ---------------------------------------------------------------------------------------------------------------


def _resample_source(source: SourceMotion, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Source joint positions resampled (linear in time) to ``fps``: times (N,), positions (N, J, 3)."""
    t_src = np.arange(source.positions.shape[0]) / source.fps
    t = np.arange(0.0, t_src[-1] + 1e-9, 1.0 / fps)
    if t[-1] < t_src[-1] - 1e-9:
        t = np.append(t, t_src[-1])  # keep the clip's last instant, so no motion is lost to the solve rate
    flat = source.positions.reshape(len(t_src), -1)
    out = np.stack([np.interp(t, t_src, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return t, out.reshape(len(t), -1, 3)


def _tree(names: list[str]) -> dict[str, str | None]:
    """Nearest tracked SMPL ancestor of each tracked SMPL joint (None for the tree's root)."""
    parents: dict[str, str | None] = {}
    for n in names:
        p = SMPL_PARENTS[SMPL_JOINTS.index(n)]
        while p >= 0 and SMPL_JOINTS[p] not in names:
            p = SMPL_PARENTS[p]
        parents[n] = SMPL_JOINTS[p] if p >= 0 else None
    return parents


def _left_axis(points: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Horizontal unit "left" direction from the first left/right pair present (..., 3); None without one."""
    for left, right in _LR_PAIRS:
        if left in points and right in points:
            v = points[left] - points[right]
            v = v * np.array([1.0, 1.0, 0.0])
            return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
    return None


def _model_left(ref_pts: Mapping[str, np.ndarray], embodiment: EmbodimentSpec) -> np.ndarray:
    """The model's left in its reference pose: from its tracked left/right sites, else from
    ``extras["forward"]`` (``+x``, ``-y``, ...; MuJoCo's usual ``+x`` by default) for one-sided models."""
    left = _left_axis(ref_pts)
    if left is not None:
        return left
    fwd = str(embodiment.extras.get("forward", "+x"))
    axes = {"+x": (1.0, 0, 0), "-x": (-1.0, 0, 0), "+y": (0, 1.0, 0), "-y": (0, -1.0, 0)}
    if fwd not in axes:
        raise ValueError(
            f"embodiment {embodiment.name!r}: extras['forward'] must be one of {list(axes)}, got {fwd!r}"
        )
    return np.cross([0.0, 0.0, 1.0], axes[fwd])


def _yaw(left: np.ndarray) -> np.ndarray:
    """Heading angle (rad) of a horizontal left direction (...,)."""
    return np.arctan2(left[..., 1], left[..., 0])


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


#: Joints of the trunk: a segment from one of them is rigid, so its child is placed with the model's own offset
#: turned by the source's body frame (source and model put these joints at different anatomical points, so
#: scaling the source's vector would bend the model's trunk). Limb segments scale the source's vector.
_TRUNK = ("Pelvis", "Spine1", "Spine2", "Spine3", "Neck", "L_Collar", "R_Collar")


def _frames(
    pts: Mapping[str, np.ndarray], parent: str, tilt_ref: float | None, left: np.ndarray | None = None
) -> tuple[np.ndarray, float] | None:
    """Body frame of a trunk joint from points: x = left, z = up (world z tilted by the trunk's pitch), y = z x x.
    ``left`` stands in for the left direction when ``pts`` has no left/right pair.

    pts: joint positions, each (..., 3). For the source, the trunk pitch is taken relative to ``tilt_ref`` (its
    median over the clip, None = compute it), so the model's reference pose stands for the source's average
    posture; for the model's reference pose pass 0 by giving single points. Returns (frames (..., 3, 3), tilt_ref).
    """
    pairs = _LR_PAIRS if parent == "Pelvis" else _LR_PAIRS[1:3] + _LR_PAIRS[:1]
    pair = next(((a, b) for a, b in pairs if a in pts and b in pts), None)
    if pair is None and left is None:
        return None
    x = pts[pair[0]] - pts[pair[1]] if pair is not None else np.asarray(left, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    up = np.array([0.0, 0.0, 1.0])
    z = up - (x @ up)[..., None] * x
    z = z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-9)
    y = np.cross(z, x)
    above = ("Spine3", "Spine2", "Spine1", "Neck") if parent == "Pelvis" else ("Head", "Neck")
    top = next((n for n in above if n in pts and n != parent), None)
    base = parent if parent in pts else None
    if top is not None and base is not None and np.ndim(x) > 1:
        trunk = pts[top] - pts[base]
        tilt = np.arctan2((trunk * y).sum(-1), (trunk * z).sum(-1))  # pitch about x (N,)
        tilt_ref = float(np.median(tilt)) if tilt_ref is None else tilt_ref
        a = (tilt - tilt_ref)[..., None]
        z, y = np.cos(a) * z + np.sin(a) * y, np.cos(a) * y - np.sin(a) * z
    return np.stack([x, y, z], axis=-1), tilt_ref or 0.0


def fit_source(
    src: np.ndarray,
    names: list[str],
    mdl: _Model,
    sites: list[str],
    opts: RetargetOptions,
    src_all: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scale and place the tracked source joints in the model's world.

    src: tracked source joint positions (N, K, 3); names: their SMPL names (K,); sites: their sites (K,)
    src_all: every SMPL-named source joint, name -> (N, 3), for the body's heading when the tracked joints
        have no left/right pair (a one-legged model)
    Returns targets (N, K, 3) and a JSON-able dict of what was fitted.
    """
    site_idx = [list(mdl.spec.tracked_sites).index(s) for s in sites]
    ref = mdl.ref_site_pos[site_idx]  # (K, 3)
    parents = _tree(names)
    k = {n: i for i, n in enumerate(names)}
    pts = {n: src[:, k[n]] for n in names}
    ref_pts = {n: ref[k[n]] for n in names}
    seg_scale: dict[str, float] = {}
    for n, p in parents.items():
        if p is None:
            continue
        ls = float(np.median(np.linalg.norm(pts[n] - pts[p], axis=-1)))
        lm = float(np.linalg.norm(ref_pts[n] - ref_pts[p]))
        seg_scale[n] = lm / ls if ls > 1e-6 else 1.0
    leg = [n for n in ("L_Knee", "L_Ankle", "R_Knee", "R_Ankle") if n in seg_scale]
    glob = float(np.mean([seg_scale[n] for n in (leg or list(seg_scale))])) if seg_scale else 1.0
    # Source and model body frames of each trunk joint (rotation only, so the unscaled source is fine).
    frames: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for p in set(parents.values()) | {n for n, p in parents.items() if p is None}:
        if p in _TRUNK:
            # Untracked source joints (e.g. the other shoulder of a one-armed model) still orient the trunk.
            fs = _frames({**(src_all or {}), **pts}, p, None)
            fm = _frames(ref_pts, p, 0.0, left=_model_left(ref_pts, mdl.spec))
            if fs is not None and fm is not None:
                frames[p] = (fs[0], fm[0])
    out = np.empty_like(src)
    for n in names:  # SMPL order: parents come before children
        p = parents[n]
        if p is None:
            out[:, k[n]] = pts[n] * glob
            if n == "Pelvis" and "Pelvis" in frames and "L_Hip" in k and "R_Hip" in k:
                # Anchor the root at the hip joint centres, which every skeleton places alike.
                fs, fm = frames["Pelvis"]
                mid_s = 0.5 * (pts["L_Hip"] + pts["R_Hip"])
                mid_m = 0.5 * (ref_pts["L_Hip"] + ref_pts["R_Hip"])
                out[:, k[n]] = mid_s * glob + fs @ (fm.T @ (ref_pts[n] - mid_m))
        elif p in frames and opts.fit_scale:
            fs, fm = frames[p]
            out[:, k[n]] = out[:, k[p]] + fs @ (fm.T @ (ref_pts[n] - ref_pts[p]))
        else:
            s = seg_scale[n] if opts.fit_scale else glob
            out[:, k[n]] = out[:, k[p]] + s * (pts[n] - pts[p])
    info: dict[str, Any] = {
        "global_scale": glob,
        "segment_scale": seg_scale,
        "rigid_trunk_from": sorted(frames),
    }

    root = next(n for n, p in parents.items() if p is None)
    main = names[site_idx.index(0)] if 0 in site_idx else root
    fitted = {n: out[:, k[n]] for n in names}
    src_left = _left_axis(fitted)
    if src_left is None:
        src_left = _left_axis(src_all or {})
    if src_left is None:
        raise ValueError(
            f"cannot find the source's heading: no left/right joint pair among {sorted(src_all or names)}"
        )
    ref_yaw = float(_yaw(_model_left(ref_pts, mdl.spec)))
    if mdl.spec.root == "free":
        # Turn the whole motion about z so it starts facing the model's forward, and start at the model's root.
        turn = ref_yaw - float(_yaw(src_left[0]))
        r = _rot_z(np.array(turn))
        start = out[0, k[main]] * np.array([1.0, 1.0, 0.0])
        out = (out - start) @ r.T + ref[k[main]] * np.array([1.0, 1.0, 0.0])
        info["heading_turn_rad"] = turn
    else:
        # Fixed root: joints relative to the root joint, in its horizontal (heading) frame, placed on the model.
        r = _rot_z(ref_yaw - _yaw(src_left))  # (N, 3, 3)
        rel = out - out[:, k[main]][:, None]
        out = np.einsum("nij,nkj->nki", r, rel) + ref[k[main]]
        info["relative_to"] = main
    return out, info


# ---------------------------------------------------------------------------------------------------------------
# IK
# ---------------------------------------------------------------------------------------------------------------


def _solve_ik(mdl: _Model, sites: list[str], targets: np.ndarray, opts: RetargetOptions) -> np.ndarray:
    """Differential IK over the tracked sites, warm-started frame to frame. targets (N, K, 3) -> qpos (N, nq)."""
    import mink

    m = mdl.model
    cfg = mink.Configuration(m, q=mdl.ref_qpos.copy())
    tasks: list[Any] = []
    site_tasks = []
    for s in sites:
        t = mink.FrameTask(s, "site", position_cost=opts.position_cost, orientation_cost=0.0)
        site_tasks.append(t)
    tasks += site_tasks
    if opts.posture_cost > 0:
        post = mink.PostureTask(m, cost=opts.posture_cost)
        post.set_target(mdl.ref_qpos)
        tasks.append(post)
    if opts.equality_cost > 0 and m.neq > 0:
        tasks.append(mink.EqualityConstraintTask(m, cost=opts.equality_cost))
    limits = [mink.ConfigurationLimit(m, gain=0.95)] if opts.limits else []
    if mdl.spec.root == "free" and mdl.spec.main_site in sites:
        # Start with the root under the first target of the main site so the first solve is short.
        cfg.data.qpos[:3] += targets[0, sites.index(mdl.spec.main_site)] - mdl.ref_site_pos[0]
        cfg.update()
    out = np.empty((len(targets), m.nq))
    eye = np.eye(3)
    for i, tgt in enumerate(targets):
        for t, p in zip(site_tasks, tgt, strict=True):
            t.set_target(mink.SE3.from_rotation_and_translation(mink.SO3.from_matrix(eye), p))
        for _ in range(opts.first_iterations if i == 0 else opts.iterations):
            v = mink.solve_ik(cfg, tasks, 1.0, "daqp", damping=opts.damping, limits=limits)
            cfg.integrate_inplace(v, 1.0)
            if np.abs(v).max() < opts.tolerance:
                break  # converged: the next step would move no joint noticeably
        out[i] = cfg.q
    return out


# ---------------------------------------------------------------------------------------------------------------
# Resampling, ground, velocities, site poses
# ---------------------------------------------------------------------------------------------------------------


def _joint_slices(m: mujoco.MjModel) -> tuple[list[int], list[tuple[int, int]], list[int]]:
    """qpos indices of scalar coordinates, (start, end) of quaternions, and free-joint position indices."""
    import mujoco

    scalar: list[int] = []
    quats: list[tuple[int, int]] = []
    free_pos: list[int] = []
    for j in range(m.njnt):
        a = int(m.jnt_qposadr[j])
        t = m.jnt_type[j]
        if t == mujoco.mjtJoint.mjJNT_FREE:
            free_pos += [a, a + 1, a + 2]
            quats.append((a + 3, a + 7))
        elif t == mujoco.mjtJoint.mjJNT_BALL:
            quats.append((a, a + 4))
        else:
            scalar.append(a)
    return scalar, quats, free_pos


def resample_qpos(m: mujoco.MjModel, t_in: np.ndarray, qpos: np.ndarray, t_out: np.ndarray) -> np.ndarray:
    """qpos (N, nq) at times t_in -> (M, nq) at t_out: PCHIP for scalars and positions, SLERP for quaternions."""
    from scipy.interpolate import PchipInterpolator
    from scipy.spatial.transform import Rotation, Slerp

    if len(t_in) < 2:
        return np.repeat(qpos[:1], len(t_out), axis=0)
    scalar, quats, free_pos = _joint_slices(m)
    out = np.empty((len(t_out), m.nq))
    cols = scalar + free_pos
    out[:, cols] = PchipInterpolator(t_in, qpos[:, cols], axis=0)(t_out)
    for a, b in quats:
        q = qpos[:, a:b]
        rot = Rotation.from_quat(np.roll(q, -1, axis=1))
        out[:, a:b] = np.roll(Slerp(t_in, rot)(t_out).as_quat(), 1, axis=1)
    return out


def clip_to_limits(m: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """Clamp limited hinge/slide coordinates to their ranges (the QP bounds them up to solver tolerance)."""
    import mujoco

    q = qpos.copy()
    for j in np.flatnonzero(m.jnt_limited):
        # int(): `np.int32 in (enum, ...)` is False for MuJoCo's enums, though `==` works.
        if int(m.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            a = m.jnt_qposadr[j]
            q[:, a] = np.clip(q[:, a], *m.jnt_range[j])
    return q


def project_couplings(m: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """Put every joint coupled by an active joint equality exactly on its polynomial of the driving joint
    (the IK holds them with a soft task, to ~1e-3 rad; the model's constraint solver would pull them there)."""
    import mujoco

    q = qpos.copy()
    for i in range(m.neq):
        if m.eq_type[i] != mujoco.mjtEq.mjEQ_JOINT or not m.eq_active0[i]:
            continue
        a1 = m.jnt_qposadr[m.eq_obj1id[i]]
        c = m.eq_data[i, :5]
        if m.eq_obj2id[i] >= 0:
            a2 = m.jnt_qposadr[m.eq_obj2id[i]]
            x = q[:, a2] - m.qpos0[a2]
            q[:, a1] = m.qpos0[a1] + c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * c[4])))
        else:
            q[:, a1] = m.qpos0[a1] + c[0]
    return q


def _lowest_per_frame(mdl: _Model, qpos: np.ndarray) -> np.ndarray:
    import mujoco

    m = mdl.model
    d = mujoco.MjData(m)
    h = np.empty(len(qpos))
    for i, q in enumerate(qpos):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        h[i] = lowest_point(m, d, mdl.collision_geoms)
    return h


#: Source foot joints used to find stance frames, and what counts as stance: slower than this (m/s) and within
#: this height of the joint's lowest height in the clip (m).
_FEET = ("L_Ankle", "R_Ankle", "L_Foot", "R_Foot")
STANCE_SPEED, STANCE_HEIGHT = 0.5, 0.05


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
    mdl: _Model, qpos: np.ndarray, mode: str, fps: float, stance: np.ndarray | None = None
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
    h = _lowest_per_frame(mdl, qpos)
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


def finite_difference_qvel(m: mujoco.MjModel, qpos: np.ndarray, fps: float) -> np.ndarray:
    """qvel (T, nv) by central differences of qpos on the joint manifold (``mj_differentiatePos``)."""
    import mujoco

    t = len(qpos)
    v = np.zeros((t, m.nv))
    dt = 1.0 / fps
    for i in range(t):
        a, b = max(i - 1, 0), min(i + 1, t - 1)
        if a != b:
            mujoco.mj_differentiatePos(m, v[i], dt * (b - a), qpos[a], qpos[b])
    return v


def site_poses(mdl: _Model, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tracked-site positions (T, S, 3) and quaternions w-x-y-z (T, S, 4) by forward kinematics."""
    import mujoco

    m = mdl.model
    d = mujoco.MjData(m)
    ids = mdl.site_ids
    pos = np.empty((len(qpos), len(ids), 3))
    quat = np.empty((len(qpos), len(ids), 4))
    for i, q in enumerate(qpos):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        pos[i] = d.site_xpos[ids]
        for k, s in enumerate(ids):
            mujoco.mju_mat2Quat(quat[i, k], d.site_xmat[s])
    return pos, quat


# ---------------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------------


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


def _retarget(
    source: SourceMotion, embodiment: EmbodimentSpec | str, opts: RetargetOptions, name: str | None
) -> MotionClip:
    from mm_core import get_embodiment
    from mm_retarget import metrics

    emb = get_embodiment(embodiment) if isinstance(embodiment, str) else embodiment
    control_fps = 1.0 / emb.physics.control_dt
    out_fps = control_fps if opts.out_fps is None else float(opts.out_fps)
    if not (np.isfinite(out_fps) and out_fps > 0):
        raise ValueError(
            f"retarget option out_fps={opts.out_fps!r}: give a frame rate in Hz (> 0), or None for "
            f"{emb.name!r}'s control rate ({control_fps:g} Hz, the only rate its task accepts)"
        )
    opts = replace(opts, out_fps=out_fps)  # the rate used, in the clip's metadata
    t_load = time.perf_counter()
    mdl = load_model(emb)  # one-off per process; not part of the per-frame cost
    t0, c0 = time.perf_counter(), time.process_time()
    load_seconds = t0 - t_load
    names, sites, cols = tracked_pairs(source, emb)
    # Solve at solve_fps (never above the source's rate); 0 = at the source's rate.
    t_solve, src_full = _resample_source(
        source, min(opts.solve_fps, source.fps) if opts.solve_fps else source.fps
    )
    idx = {n: i for i, n in enumerate(source.joint_names) if n in SMPL_JOINTS}
    src_all = {n: src_full[:, i] for n, i in idx.items()}
    targets, fit = fit_source(src_full[:, cols], names, mdl, sites, opts, src_all)
    q_solve = _solve_ik(mdl, sites, targets, opts)
    if opts.equality_cost > 0:
        q_solve = project_couplings(mdl.model, q_solve)
    if opts.limits:
        q_solve = clip_to_limits(mdl.model, q_solve)
    t_out = np.arange(0.0, t_solve[-1] + 1e-9, 1.0 / out_fps)
    qpos = resample_qpos(mdl.model, t_solve, q_solve, t_out)
    if opts.limits:
        qpos = clip_to_limits(mdl.model, qpos)
    # Fitted source joints at the output rate: stance detection, metrics and display.
    tgt = np.stack(
        [
            np.stack([np.interp(t_out, t_solve, targets[:, j, c]) for c in range(3)], -1)
            for j in range(len(names))
        ],
        1,
    )
    stance = stance_frames({n: tgt[:, i] for i, n in enumerate(names)}, out_fps)
    qpos, corr = align_ground(mdl, qpos, opts.ground, out_fps, stance)
    qvel = finite_difference_qvel(mdl.model, qpos, out_fps)
    site_pos, site_quat = site_poses(mdl, qpos)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    shift = float(np.median(corr))
    tgt[..., 2] += shift  # the source on the same floor (per-frame corrections beyond it count as error)
    import mujoco

    joint_names = tuple(
        mujoco.mj_id2name(mdl.model, mujoco.mjtObj.mjOBJ_JOINT, j) or f"joint{j}"
        for j in range(mdl.model.njnt)
    )
    meta: dict[str, Any] = {
        "method": opts.method,
        "options": {k: v for k, v in opts.__dict__.items()},
        "source_fps": source.fps,
        "source_frames": int(source.positions.shape[0]),
        "solve_fps": float(1.0 / (t_solve[1] - t_solve[0])) if len(t_solve) > 1 else source.fps,
        "reader": dict(source.metadata),
        "fit": fit,
        "ground_shift_m": shift,
        "stance_fraction": float(stance.mean()),
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "model_load_seconds": load_seconds,
        "source_joints": names,
        "source_sites": sites,
        "source_positions": np.round(tgt, 5).tolist(),
    }
    clip = MotionClip(
        fps=out_fps,
        qpos=qpos,
        qvel=qvel,
        site_pos=site_pos,
        site_quat=site_quat,
        site_names=emb.tracked_sites,
        joint_names=joint_names,
        embodiment=emb.name,
        name=name or _stem(source.source),
        source=source.source,
        metadata=meta,
    )
    meta["metrics"] = metrics.clip_metrics(clip, model=mdl, seconds=elapsed, cpu_seconds=cpu)
    return clip


def _stem(path: str) -> str:
    from pathlib import Path

    return Path(path).stem if path else "motion"
