"""Generated demo motions (no downloads): walking from normative gait curves, and a squat.

The walk poses the SMPL skeleton with mm's one source of gait curves, :mod:`mm_models.walk` (published mean
joint-angle curves of free-speed walking, Schwartz et al. 2008, as Fourier coefficients; the same curves that
``mm_models.walk.walk_qpos`` puts directly on an embodiment's joints), with pelvis translation from the group's
dimensionless speed and cadence scaled to an adult leg. Arm swing is a plausible counter-phase of the opposite hip (it is not in the
data). The result is an AMASS-style ``.npz`` (SMPL poses (T, 72) axis-angle, trans, betas, mocap_framerate) that the
real AMASS reader reads, so the demo runs the whole pipeline.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mm_models.walk import GAIT_FOURIER, gait_angle, level_pelvis_angle

#: Bump when the generated motions change, so caches are rebuilt.
GENERATOR_VERSION = 3
MOTIONS = ("walk", "squat")
FPS = 60.0

#: Schwartz 2008 free speed: dimensionless speed v / sqrt(g L) and cadence f / sqrt(g / L) (steps per second).
DIMLESS_SPEED, DIMLESS_CADENCE = 0.429, 0.565
#: Leg length (m) of the neutral SMPL skeleton, hip to floor.
LEG_LENGTH = 0.85
G = 9.81
#: Height of SMPL's toe-base joint above the floor when the foot is flat (m).
FOOT_JOINT_HEIGHT = 0.05


# SMPL joint indices used below (SMPL order).
PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 0, 1, 2, 3, 4, 5, 7, 8
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW = 16, 17, 18, 19
#: SMPL body frame (x left, y up, z forward) -> AMASS world (z up, walking towards +y).
BODY_TO_WORLD = np.array([[-1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler(axis, np.asarray(angle, dtype=np.float64)[..., None]).as_matrix()


def _poses(mats: dict[int, np.ndarray], t: int) -> np.ndarray:
    """Local rotation matrices per joint -> SMPL poses (T, 72) axis-angle."""
    from scipy.spatial.transform import Rotation

    poses = np.zeros((t, 24, 3))
    for j, m in mats.items():
        poses[:, j] = Rotation.from_matrix(m).as_rotvec()
    return poses.reshape(t, 72)


def _arms(t: int, swing_l: np.ndarray, swing_r: np.ndarray) -> dict[int, np.ndarray]:
    """Arms down from SMPL's T-pose (about the forward axis), swung forward (about the left axis), elbows bent."""
    down = np.radians(72.0)
    return {
        L_SHOULDER: _rot("x", -swing_l) @ _rot("z", np.full(t, -down)),
        R_SHOULDER: _rot("x", -swing_r) @ _rot("z", np.full(t, down)),
        L_ELBOW: _rot("y", -(np.radians(15.0) + 0.6 * np.maximum(swing_l, 0))),
        R_ELBOW: _rot("y", np.radians(15.0) + 0.6 * np.maximum(swing_r, 0)),
    }


def _ground(poses: np.ndarray, trans: np.ndarray, plant_feet: bool = False) -> np.ndarray:
    """Set the vertical translation so the lowest ankle/toe joint is ``FOOT_JOINT_HEIGHT`` up in every frame;
    ``plant_feet`` also keeps the ankles' midpoint where it starts (motions in place)."""
    from mm_retarget.smpl import forward_kinematics

    pos, _ = forward_kinematics(poses, np.zeros_like(trans))
    out = trans.copy()
    out[:, 2] = FOOT_JOINT_HEIGHT - pos[:, [7, 8, 10, 11], 2].min(axis=1)
    if plant_feet:
        mid = pos[:, [7, 8], :2].mean(axis=1)
        out[:, :2] = mid[0] - mid
    return out


def generate(name: str = "walk", seconds: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Generate a demo motion: poses (T, 72) axis-angle, trans (T, 3) metres z up, fps."""
    if name not in MOTIONS:
        raise ValueError(f"unknown demo motion {name!r}; valid: {', '.join(MOTIONS)}")
    if name == "walk":
        speed = DIMLESS_SPEED * np.sqrt(G * LEG_LENGTH)  # m/s
        stride_time = 2.0 / (DIMLESS_CADENCE * np.sqrt(G / LEG_LENGTH))  # two steps per stride
        seconds = seconds or 3.0 * stride_time
        t = np.arange(0.0, seconds, 1.0 / FPS)
        n = len(t)
        ph_r = (t / stride_time) % 1.0
        ph_l = (ph_r + 0.5) % 1.0
        tilt0 = GAIT_FOURIER["pelvis_anterior_tilt"][0]
        # Pelvis: oscillation about SMPL's neutral (the clinical 11.6 deg mean tilt is the ASIS-PSIS line, not a
        # trunk lean); obliquity and rotation are the right side's, as phase is the right foot's.
        tilt = gait_angle("pelvis_anterior_tilt", ph_r) - np.radians(tilt0)
        obl = gait_angle("pelvis_obliquity_up", ph_r)
        rot = gait_angle("pelvis_internal_rotation", ph_r)
        root = BODY_TO_WORLD[None] @ _rot("y", rot) @ _rot("z", -obl) @ _rot("x", tilt)
        mats = {PELVIS: root, SPINE1: _rot("y", -0.8 * rot) @ _rot("x", -tilt)}
        # s: sign of adduction and internal rotation, which mirror between the sides.
        for ph, hip, knee, ankle, s in (
            (ph_r, R_HIP, R_KNEE, R_ANKLE, 1.0),
            (ph_l, L_HIP, L_KNEE, L_ANKLE, -1.0),
        ):
            flex = level_pelvis_angle("hip_flexion", ph)
            add = gait_angle("hip_adduction", ph)
            irot = gait_angle("hip_internal_rotation", ph)
            mats[hip] = _rot("y", s * irot) @ _rot("z", s * add) @ _rot("x", -flex)
            mats[knee] = _rot("x", gait_angle("knee_flexion", ph))
            mats[ankle] = _rot("x", -gait_angle("ankle_dorsiflexion", ph))
        hip_l = gait_angle("hip_flexion", ph_l)
        hip_r = gait_angle("hip_flexion", ph_r)
        mean = np.radians(GAIT_FOURIER["hip_flexion"][0])
        mats.update(_arms(n, 0.45 * (hip_r - mean), 0.45 * (hip_l - mean)))
        trans = np.stack([np.zeros(n), speed * t, np.zeros(n)], axis=1)
    else:  # squat: down in 1.2 s, hold 0.3 s, up in 1.2 s, twice
        seconds = seconds or 5.4
        t = np.arange(0.0, seconds, 1.0 / FPS)
        n = len(t)
        depth = 0.5 - 0.5 * np.cos(2 * np.pi * np.clip((t % 2.7) / 2.4, 0, 1))  # 0 standing .. 1 deepest
        # Thigh to ~horizontal, shank tilted forward 30 deg (= ankle dorsiflexion, foot flat), trunk lean 40 deg.
        thigh, ankle, lean = (np.radians(a) * depth for a in (85.0, 30.0, 40.0))
        hip, knee = thigh + lean, thigh + ankle  # hip flexion is relative to the (tilted) pelvis
        root = BODY_TO_WORLD[None] @ _rot("x", lean)
        mats = {PELVIS: root, SPINE1: _rot("x", -0.2 * lean)}
        for h, k, a in ((R_HIP, R_KNEE, R_ANKLE), (L_HIP, L_KNEE, L_ANKLE)):
            mats[h] = _rot("x", -hip)
            mats[k] = _rot("x", knee)
            mats[a] = _rot("x", -ankle)
        reach = np.radians(80.0) * depth  # arms forward for balance
        mats.update(_arms(n, reach, reach))
        trans = np.zeros((n, 3))
    poses = _poses(mats, n)
    trans = _ground(poses, trans, plant_feet=name == "squat")
    return poses, trans, FPS


def cache_dir() -> Path:
    """``$MM_CACHE_DIR/demo`` or ``~/.cache/mm/demo``."""
    base = os.environ.get("MM_CACHE_DIR")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "mm") / "demo"


def demo_motion_path(name: str = "walk") -> Path:
    """The demo motion as an AMASS-style ``.npz`` in the cache dir (generated on first use)."""
    from mm_retarget.readers import write_amass

    path = cache_dir() / f"{name}_v{GENERATOR_VERSION}.npz"
    if not path.is_file():
        poses, trans, fps = generate(name)
        write_amass(path, poses, trans, fps)
    return path


def demo_clip(embodiment: str, name: str = "walk"):  # noqa: ANN201 (MotionClip; mm_core import kept light)
    """The demo motion read with the AMASS reader and retargeted onto ``embodiment`` with gmr-fit (cached)."""
    from mm_core.contracts import ContractError, MotionClip
    from mm_retarget.readers import read_amass
    from mm_retarget.retarget import retarget

    path = cache_dir() / f"{name}_{embodiment}_gmr-fit_v{GENERATOR_VERSION}.npz"
    if path.is_file():
        try:
            return MotionClip.load(path)
        except ContractError:
            path.unlink()  # a stale or broken cache entry is rebuilt
    clip = retarget(read_amass(demo_motion_path(name)), embodiment, method="gmr-fit", name=f"demo_{name}")
    clip.save(path)
    return clip
