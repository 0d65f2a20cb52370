"""A synthetic walk built from reference curves: the check that an embodiment's joints map the right way round.

Joint angles are set by joint NAME in the model's own convention from the reference means; validating the clip
must give those curves back (r ~ 1 up to the event-detection shift). A sign error shows as r ~ -1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: model joint base name (side suffix ``_r`` / ``_l`` appended) -> reference quantity it follows, OpenSim/MyoSuite
#: convention (flexion, knee flexion, dorsiflexion positive).
OPENSIM_JOINTS = {
    "hip_flexion": "hip_flexion",
    "knee_angle": "knee_flexion",
    "ankle_angle": "ankle_dorsiflexion",
}


def synthetic_walk(
    embodiment: str,
    reference: Any,
    *,
    seconds: float = 5.0,
    stride_s: float = 1.1,
    speed: float = 1.2,
    fps: float = 100.0,
    joints: dict[str, str] | None = None,
) -> Any:
    """A ``MotionClip`` on ``embodiment``: mm's walk (:func:`mm_models.walk.walk_qpos`) following ``reference``'s
    mean curves: right leg at phase 0, left at 50 %, root moving forward at ``speed`` m/s (fixed roots in place).

    ``joints``: model joint base name -> reference quantity (default ``OPENSIM_JOINTS``). Joint couplings are applied
    and angles clipped to the joint ranges, so every frame is a pose the model allows.
    """
    from mm_core import get_embodiment
    from mm_models.walk import walk_qpos
    from mm_sim.motion import clip_from_qpos

    joints = dict(joints or OPENSIM_JOINTS)
    missing = [q for q in joints.values() if q not in reference.curves]
    if missing:
        raise ValueError(
            f"reference {getattr(reference, 'name', '')!r} has no curve {missing} (it has {sorted(reference.curves)})"
        )

    def curve(quantity: str, phase: np.ndarray) -> np.ndarray:
        c = reference.curves[quantity]
        return np.radians(np.interp(100 * phase, c.percent, c.mean))

    spec = get_embodiment(embodiment)
    model = spec.compile()
    qpos = walk_qpos(
        model, spec, seconds=seconds, fps=fps, stride_s=stride_s, speed=speed, curve=curve, joints=joints
    )
    return clip_from_qpos(model, spec, qpos, fps, name="synthetic_walk", source="mm_validate.synthetic")


def write_sto(path: str | Path, columns: dict[str, np.ndarray], name: str, in_degrees: bool = True) -> Path:
    """Write an OpenSim storage file (``.mot``/``.sto``): header, ``endheader``, labels, tab-separated rows.

    ``columns``: label -> values (T,), ``time`` first.
    """
    p = Path(path)
    labels = list(columns)
    data = np.column_stack([columns[c] for c in labels])
    head = f"{name}\nversion=1\nnRows={len(data)}\nnColumns={len(labels)}\ninDegrees={'yes' if in_degrees else 'no'}\n"
    body = "\n".join("\t".join(f"{v:.6f}" for v in row) for row in data)
    p.write_text(head + "endheader\n" + "\t".join(labels) + "\n" + body + "\n", encoding="utf-8")
    return p


def synthetic_trial(
    reference: Any,
    path: str | Path,
    *,
    forces_path: str | Path | None = None,
    strides: int = 6,
    stride_s: float = 1.1,
    stance: float = 0.6,
    start: float = 0.37,
    fps: float = 100.0,
    seed: int = 0,
    gait2392_knee: bool = True,
    locked_subtalar_deg: float | None = 5.17,
) -> Path:
    """A whole lab-like OpenSim IK trial (``.mot``) made from a reference's cycle means, for tests and checks.

    ``strides`` strides of both legs (left half a cycle after right) with stride times varying by 4 %, a 3 %
    amplitude difference per leg and 0.5° noise, starting at phase ``start`` (mid-cycle). Coordinates are written in
    OpenSim names and signs (``knee_angle`` flexion negative when ``gait2392_knee``); ``subtalar_angle`` is locked at
    ``locked_subtalar_deg`` (± 1e-6). With ``forces_path`` an external-loads ``.mot`` is written beside it: per foot
    ``ground_force_vx/vy/vz`` (right unprefixed, left ``1_``), vertical force during the first ``stance`` of each
    cycle (foot strike at phase 0). Returns ``path``.
    """
    rng = np.random.default_rng(seed)
    durs = stride_s * (1 + 0.04 * rng.standard_normal(strides))
    t = np.arange(int(durs.sum() * fps)) / fps
    phase = np.interp(t, np.concatenate([[0.0], np.cumsum(durs)]), np.arange(strides + 1)) + start
    cols: dict[str, np.ndarray] = {"time": t}
    grf: dict[str, np.ndarray] = {"time": t}
    for side, offset, prefix in (("r", 0.0, ""), ("l", 0.5, "1_")):
        p = (phase - offset) % 1.0
        amp = 1 + 0.03 * rng.standard_normal()
        for coord, q, sign in (
            ("hip_flexion", "hip_flexion", 1.0),
            ("knee_angle", "knee_flexion", -1.0 if gait2392_knee else 1.0),
            ("ankle_angle", "ankle_dorsiflexion", 1.0),
        ):
            c = reference.curves[q]
            cols[f"{coord}_{side}"] = sign * amp * np.interp(
                100 * p, c.percent, c.mean
            ) + 0.5 * rng.standard_normal(len(t))
        if locked_subtalar_deg is not None:
            cols[f"subtalar_angle_{side}"] = locked_subtalar_deg + 1e-6 * rng.standard_normal(len(t))
        on = p < stance
        s = np.clip(p / stance, 0.0, 1.0)
        grf[f"{prefix}ground_force_vx"] = np.where(on, -150.0 * np.sin(2 * np.pi * s), 0.0)
        grf[f"{prefix}ground_force_vy"] = np.where(on, 700.0 * (np.sqrt(np.sin(np.pi * s)) + 0.1), 0.0)
        grf[f"{prefix}ground_force_vz"] = np.zeros(len(t))
    if forces_path is not None:
        write_sto(forces_path, grf, "external loads")
    return write_sto(path, cols, "Coordinates")
