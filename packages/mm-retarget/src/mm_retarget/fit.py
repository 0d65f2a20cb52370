"""The source side of retargeting: resample the source, scale its segments to the model's and turn it to face
the model (free root) or express it in its root joint's heading frame (fixed root)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mm_core.contracts import SMPL_JOINTS, EmbodimentSpec, SourceMotion
from mm_retarget.model import RetargetModel
from mm_retarget.smpl import SMPL_PARENTS

#: Left/right joint pairs (SMPL names) that define a body's horizontal "left" direction, best first.
_LR_PAIRS = (("L_Hip", "R_Hip"), ("L_Shoulder", "R_Shoulder"), ("L_Collar", "R_Collar"), ("L_Knee", "R_Knee"))
#: Model axis named by ``EmbodimentSpec.forward`` -> that axis.
_AXES = {"+x": (1.0, 0, 0), "-x": (-1.0, 0, 0), "+y": (0, 1.0, 0), "-y": (0, -1.0, 0)}
#: Joints of the trunk: a segment from one of them is rigid, so its child is placed with the model's own offset
#: turned by the source's body frame (source and model put these joints at different anatomical points, so
#: scaling the source's vector would bend the model's trunk). Limb segments scale the source's vector.
_TRUNK = ("Pelvis", "Spine1", "Spine2", "Spine3", "Neck", "L_Collar", "R_Collar")
#: The leg segments whose mean scale scales the root trajectory (all segments when none is tracked).
_LEG = ("L_Knee", "L_Ankle", "R_Knee", "R_Ankle")

Frames = dict[str, tuple[np.ndarray, np.ndarray]]
"""Trunk joint -> (source body frames (N, 3, 3), model body frame in its reference pose (3, 3))."""


def resample_source(source: SourceMotion, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Source joint positions resampled (linear in time) to ``fps``: times (N,), positions (N, J, 3)."""
    t_src = np.arange(source.positions.shape[0]) / source.fps
    t = np.arange(0.0, t_src[-1] + 1e-9, 1.0 / fps)
    if t[-1] < t_src[-1] - 1e-9:
        t = np.append(t, t_src[-1])  # keep the clip's last instant, so no motion is lost to the solve rate
    flat = source.positions.reshape(len(t_src), -1)
    out = np.stack([np.interp(t, t_src, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return t, out.reshape(len(t), -1, 3)


def joint_tree(names: list[str]) -> dict[str, str | None]:
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
    ``EmbodimentSpec.forward`` (``+x``, ``-y``, ...) for one-sided models."""
    left = _left_axis(ref_pts)
    if left is not None:
        return left
    return np.cross([0.0, 0.0, 1.0], _AXES[embodiment.forward])


def _yaw(left: np.ndarray) -> np.ndarray:
    """Heading angle (rad) of a horizontal left direction (...,)."""
    return np.arctan2(left[..., 1], left[..., 0])


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


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


def _segment_scales(
    pts: Mapping[str, np.ndarray], ref_pts: Mapping[str, np.ndarray], parents: Mapping[str, str | None]
) -> tuple[dict[str, float], float]:
    """Model / source length of each tracked segment (median over the clip), by child joint, and the root
    trajectory's scale (the mean leg-segment scale)."""
    seg_scale: dict[str, float] = {}
    for n, p in parents.items():
        if p is None:
            continue
        ls = float(np.median(np.linalg.norm(pts[n] - pts[p], axis=-1)))
        lm = float(np.linalg.norm(ref_pts[n] - ref_pts[p]))
        seg_scale[n] = lm / ls if ls > 1e-6 else 1.0
    leg = [n for n in _LEG if n in seg_scale]
    glob = float(np.mean([seg_scale[n] for n in (leg or list(seg_scale))])) if seg_scale else 1.0
    return seg_scale, glob


def _trunk_frames(
    pts: Mapping[str, np.ndarray],
    ref_pts: Mapping[str, np.ndarray],
    parents: Mapping[str, str | None],
    src_all: Mapping[str, np.ndarray] | None,
    embodiment: EmbodimentSpec,
) -> Frames:
    """Source and model body frames of each trunk joint that parents a tracked joint (or roots the tree); rotation
    only, so the unscaled source is fine."""
    frames: Frames = {}
    for p in set(parents.values()) | {n for n, p in parents.items() if p is None}:
        if p in _TRUNK:
            # Untracked source joints (e.g. the other shoulder of a one-armed model) still orient the trunk.
            fs = _frames({**(src_all or {}), **pts}, p, None)
            fm = _frames(ref_pts, p, 0.0, left=_model_left(ref_pts, embodiment))
            if fs is not None and fm is not None:
                frames[p] = (fs[0], fm[0])
    return frames


def _place_joints(
    names: list[str],
    parents: Mapping[str, str | None],
    pts: Mapping[str, np.ndarray],
    ref_pts: Mapping[str, np.ndarray],
    frames: Frames,
    seg_scale: Mapping[str, float],
    glob: float,
    fit_scale: bool,
) -> np.ndarray:
    """The scaled source joints (N, K, 3), root first, each child from its parent: rigid trunk segments with the
    model's offset turned by the source's body frame, limb segments with the source's vector scaled."""
    k = {n: i for i, n in enumerate(names)}
    out = np.empty((len(pts[names[0]]), len(names), 3))
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
        elif p in frames and fit_scale:
            fs, fm = frames[p]
            out[:, k[n]] = out[:, k[p]] + fs @ (fm.T @ (ref_pts[n] - ref_pts[p]))
        else:
            s = seg_scale[n] if fit_scale else glob
            out[:, k[n]] = out[:, k[p]] + s * (pts[n] - pts[p])
    return out


def _face_model(
    out: np.ndarray,
    names: list[str],
    main: str,
    ref: np.ndarray,
    ref_pts: Mapping[str, np.ndarray],
    src_all: Mapping[str, np.ndarray] | None,
    embodiment: EmbodimentSpec,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Turn the placed joints (N, K, 3) to the model's heading, at the model's ``main`` joint (ref: (K, 3)).

    Free root: the whole motion about z, so it starts facing the model's forward, starting at the model's root.
    Fixed root: each frame relative to the main joint, in its horizontal (heading) frame, placed on the model.
    Returns the joints and what was done (JSON-able).
    """
    k = {n: i for i, n in enumerate(names)}
    src_left = _left_axis({n: out[:, k[n]] for n in names})
    if src_left is None:
        src_left = _left_axis(src_all or {})
    if src_left is None:
        raise ValueError(
            f"cannot find the source's heading: no left/right joint pair among {sorted(src_all or names)}"
        )
    ref_yaw = float(_yaw(_model_left(ref_pts, embodiment)))
    if embodiment.root == "free":
        turn = ref_yaw - float(_yaw(src_left[0]))
        r = _rot_z(np.array(turn))
        start = out[0, k[main]] * np.array([1.0, 1.0, 0.0])
        return (out - start) @ r.T + ref[k[main]] * np.array([1.0, 1.0, 0.0]), {"heading_turn_rad": turn}
    r = _rot_z(ref_yaw - _yaw(src_left))  # (N, 3, 3)
    rel = out - out[:, k[main]][:, None]
    return np.einsum("nij,nkj->nki", r, rel) + ref[k[main]], {"relative_to": main}


def fit_source(
    src: np.ndarray,
    names: list[str],
    mdl: RetargetModel,
    sites: list[str],
    fit_scale: bool = True,
    src_all: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scale and place the tracked source joints in the model's world.

    src: tracked source joint positions (N, K, 3); names: their SMPL names (K,); sites: their sites (K,)
    fit_scale: scale each segment to the model's length (else all by the root trajectory's leg ratio)
    src_all: every SMPL-named source joint, name -> (N, 3), for the body's heading when the tracked joints
        have no left/right pair (a one-legged model)
    Returns targets (N, K, 3) and a JSON-able dict of what was fitted.
    """
    site_idx = [list(mdl.spec.tracked_sites).index(s) for s in sites]
    ref = mdl.ref_site_pos[site_idx]  # (K, 3)
    parents = joint_tree(names)
    pts = {n: src[:, i] for i, n in enumerate(names)}
    ref_pts = {n: ref[i] for i, n in enumerate(names)}
    seg_scale, glob = _segment_scales(pts, ref_pts, parents)
    frames = _trunk_frames(pts, ref_pts, parents, src_all, mdl.spec)
    out = _place_joints(names, parents, pts, ref_pts, frames, seg_scale, glob, fit_scale)
    root = next(n for n, p in parents.items() if p is None)
    main = names[site_idx.index(0)] if 0 in site_idx else root
    out, heading = _face_model(out, names, main, ref, ref_pts, src_all, mdl.spec)
    info: dict[str, Any] = {
        "global_scale": glob,
        "segment_scale": seg_scale,
        "rigid_trunk_from": sorted(frames),
    }
    return out, info | heading
