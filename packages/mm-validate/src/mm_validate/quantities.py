"""Clinical quantities and how they are read off a model, per side, from a recorded motion.

The mapping works by joint / actuator name patterns, so any embodiment that follows the OpenSim naming of the
MyoSuite models (``hip_flexion_r``, ``knee_angle_l``, ``soleus_r``, ...) or the plain ``hip_flexion_r``,
``knee_r`` style maps without code. The one table of names, units, signs and zero offsets is in the README
("Conventions"); keep it in step with ``QUANTITIES``, ``ANGLE_JOINTS`` and ``EMG_MUSCLES`` here.

Heavy imports (mujoco) live inside the functions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mm_validate import gait

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

SIDES = ("left", "right")
GRAVITY = 9.81
UP = np.array([0.0, 0.0, 1.0])
#: Signals named ``excitation_<emg channel>`` hold the normalised excitation (ctrl) of that channel's muscles.
EXCITATION_PREFIX = "excitation_"

#: Plausible value range per unit; reference files outside it are rejected (catches radians, %BW, ...).
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "deg": (-180.0, 180.0),
    "BW": (-1.5, 5.0),
    "N*m/kg": (-6.0, 6.0),
    "W/kg": (-25.0, 25.0),
    "fraction_of_max": (0.0, 1.5),
}


@dataclass(frozen=True, kw_only=True)
class Quantity:
    """A clinical gait quantity."""

    name: str
    """Name as in the reference data, e.g. ``knee_flexion``."""
    unit: str
    """Unit of the reference data (a key of ``UNIT_RANGES``)."""
    kind: Literal["angle", "grf", "moment", "power", "emg"]
    """Group used for figures; GRF, moments and powers need a physics rollout."""
    positive: str
    """What a positive value means."""


def _q(name: str, unit: str, kind: Any, positive: str) -> tuple[str, Quantity]:
    return name, Quantity(name=name, unit=unit, kind=kind, positive=positive)


QUANTITIES: dict[str, Quantity] = dict(
    [
        _q("pelvis_anterior_tilt", "deg", "angle", "anterior pelvic tilt"),
        _q("pelvis_obliquity_up", "deg", "angle", "pelvis up on the ipsilateral side"),
        _q("pelvis_internal_rotation", "deg", "angle", "ipsilateral side of the pelvis forward"),
        _q("trunk_anterior_tilt", "deg", "angle", "trunk forward tilt"),
        _q("hip_flexion", "deg", "angle", "hip flexion"),
        _q("hip_adduction", "deg", "angle", "hip adduction"),
        _q("hip_internal_rotation", "deg", "angle", "hip internal rotation"),
        _q("knee_flexion", "deg", "angle", "knee flexion"),
        _q("ankle_dorsiflexion", "deg", "angle", "ankle dorsiflexion"),
        _q("ankle_inversion", "deg", "angle", "subtalar inversion"),
        _q("grf_anterior", "BW", "grf", "propulsive (anterior) force on the foot"),
        _q("grf_vertical", "BW", "grf", "upward force on the foot"),
        _q("hip_extension_moment", "N*m/kg", "moment", "internal hip extensor moment"),
        _q("hip_abduction_moment", "N*m/kg", "moment", "internal hip abductor moment"),
        _q("knee_extension_moment", "N*m/kg", "moment", "internal knee extensor moment"),
        _q("ankle_plantarflexion_moment", "N*m/kg", "moment", "internal ankle plantarflexor moment"),
        _q("hip_power", "W/kg", "power", "power generation"),
        _q("knee_power", "W/kg", "power", "power generation"),
        _q("ankle_power", "W/kg", "power", "power generation"),
        _q("emg_rectus_femoris", "fraction_of_max", "emg", "activation / its max"),
        _q("emg_medial_hamstrings", "fraction_of_max", "emg", "activation / its max"),
        _q("emg_lateral_hamstrings", "fraction_of_max", "emg", "activation / its max"),
        _q("emg_tibialis_anterior", "fraction_of_max", "emg", "activation / its max"),
        _q("emg_medial_gastrocnemius", "fraction_of_max", "emg", "activation / its max"),
        _q("emg_soleus", "fraction_of_max", "emg", "activation / its max"),
        _q("emg_vasti", "fraction_of_max", "emg", "activation / its max"),
    ]
)

#: Joint angle quantity -> (joint base-name regex, sign). Sign "range": +1 when the joint's range extends further
#: positive than negative (flexion positive, as MyoSuite's knee_angle in [0, 120] deg), else -1 (gait2392 style).
ANGLE_JOINTS: dict[str, tuple[str, float | str]] = {
    "hip_flexion": (r"hip_flex(ion)?", 1.0),
    "hip_adduction": (r"hip_add(uction)?", 1.0),
    "hip_internal_rotation": (r"hip_rot(ation)?", 1.0),
    "knee_flexion": (r"knee(_angle|_flex(ion)?)?", "range"),
    "ankle_dorsiflexion": (r"ankle(_angle|_flex(ion)?|_dorsiflexion)?", 1.0),
    "ankle_inversion": (r"subtalar(_angle)?", 1.0),
}
#: Moment / power quantity -> (angle quantity whose joint it acts on, sign relative to that angle's positive).
MOMENT_JOINTS: dict[str, tuple[str, float]] = {
    "hip_extension_moment": ("hip_flexion", -1.0),
    "hip_abduction_moment": ("hip_adduction", -1.0),
    "knee_extension_moment": ("knee_flexion", -1.0),
    "ankle_plantarflexion_moment": ("ankle_dorsiflexion", -1.0),
}
POWER_JOINTS = {"hip_power": "hip_flexion", "knee_power": "knee_flexion", "ankle_power": "ankle_dorsiflexion"}
#: EMG channel -> actuator base-name regex (the mean activation of all matches is used).
EMG_MUSCLES: dict[str, str] = {
    "emg_rectus_femoris": r"(rect(us)?_?fem(oris)?|recfem|rf)",
    "emg_medial_hamstrings": r"(semimem|semiten|med_?ham\w*|hamstrings)",
    "emg_lateral_hamstrings": r"(bflh|bfsh|biceps_?fem\w*|lat_?ham\w*|hamstrings)",
    "emg_tibialis_anterior": r"(tibant|tib(ialis)?_?ant(erior)?|ta)",
    "emg_medial_gastrocnemius": r"(gasmed|med_?gas\w*|gastrocnemius|gas)",
    "emg_soleus": r"(soleus|sol)",
    "emg_vasti": r"(vasint|vaslat|vasmed|vast\w*|vas)",
}
_SIDE_TAGS = {"left": ("l", "left", "L"), "right": ("r", "right", "R")}


def side_regex(base: str, side: str) -> re.Pattern[str]:
    """``base`` with a side tag as suffix (``_r``, ``_right``) or prefix (``r_``, ``right_``)."""
    tags = "|".join(_SIDE_TAGS[side])
    return re.compile(rf"^(({base})_({tags})|({tags})_({base}))$")


def find_named(names: list[str], base: str, side: str) -> list[int]:
    rx = side_regex(base, side)
    return [i for i, n in enumerate(names) if rx.match(n)]


def _names(model: mujoco.MjModel, objtype: Any, n: int) -> list[str]:
    import mujoco

    return [mujoco.mj_id2name(model, objtype, i) or "" for i in range(n)]


@dataclass(frozen=True, kw_only=True)
class JointMap:
    """Where each clinical quantity lives in one model (resolved once, by name)."""

    angle_dofs: dict[str, dict[str, tuple[int, int, float]]]
    """Angle quantity -> side -> (qpos address, dof address, sign)."""
    emg_acts: dict[str, dict[str, list[int]]]
    """EMG channel -> side -> activation indices (into ``act``)."""
    emg_ctrls: dict[str, dict[str, list[int]]]
    """EMG channel -> side -> actuator indices (into ``ctrl``)."""
    foot_bodies: dict[str, list[int]]
    """Side -> body ids of the foot (ground contact)."""
    points: dict[str, tuple[str, int]]
    """``pelvis``, ``ankle_left``, ``toes_left``, ... -> (``site`` or ``body``, id): landmarks for gait events."""
    pelvis_body: int | None
    """Body whose orientation gives the pelvis angles (None: fixed root, no pelvis angles)."""
    trunk_body: int | None
    """Body whose orientation gives the trunk tilt (None when absent or fixed root)."""
    mass: float
    """Total model mass (kg), for normalising moments, powers and GRF."""
    joint_names: dict[str, dict[str, str]]
    """Angle quantity -> side -> the model joint it came from, and EMG channel -> side -> muscles (for the report)."""


def build_joint_map(model: mujoco.MjModel, feet: dict[str, tuple[str, ...]] | None = None) -> JointMap:
    """Resolve the clinical quantities of ``model`` by joint, actuator, site and body names."""
    import mujoco

    from mm_models.kinematics import has_free_root

    bnames = _names(model, mujoco.mjtObj.mjOBJ_BODY, model.nbody)
    angle_dofs, joint_names = _angle_joints(model)
    emg_acts, emg_ctrls = _emg_muscles(model, joint_names)
    free_root = has_free_root(model)
    pelvis = (
        bnames.index("pelvis") if "pelvis" in bnames else (int(model.jnt_bodyid[0]) if free_root else None)
    )
    trunk = next((bnames.index(n) for n in ("thorax", "torso") if n in bnames), None)
    return JointMap(
        angle_dofs=angle_dofs,
        emg_acts=emg_acts,
        emg_ctrls=emg_ctrls,
        foot_bodies=_foot_bodies(bnames, feet),
        points=_landmarks(model, bnames, pelvis),
        pelvis_body=pelvis if free_root else None,
        trunk_body=trunk if free_root else None,
        mass=float(np.sum(model.body_mass)),
        joint_names=joint_names,
    )


def _angle_joints(
    model: mujoco.MjModel,
) -> tuple[dict[str, dict[str, tuple[int, int, float]]], dict[str, dict[str, str]]]:
    """Angle quantity -> side -> (qpos address, dof address, sign) of the first hinge named like it (see
    ``ANGLE_JOINTS``), and angle quantity -> side -> that joint's name."""
    import mujoco

    jnames = _names(model, mujoco.mjtObj.mjOBJ_JOINT, model.njnt)
    angle_dofs: dict[str, dict[str, tuple[int, int, float]]] = {}
    joint_names: dict[str, dict[str, str]] = {}
    for q, (base, sign) in ANGLE_JOINTS.items():
        for side in SIDES:
            hits = [
                j for j in find_named(jnames, base, side) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE
            ]
            if not hits:
                continue
            j = hits[0]
            s = sign
            if s == "range":
                lo, hi = model.jnt_range[j]
                s = 1.0 if abs(hi) >= abs(lo) else -1.0
            angle_dofs.setdefault(q, {})[side] = (
                int(model.jnt_qposadr[j]),
                int(model.jnt_dofadr[j]),
                float(s),
            )
            joint_names.setdefault(q, {})[side] = jnames[j]
    return angle_dofs, joint_names


def _emg_muscles(
    model: mujoco.MjModel, joint_names: dict[str, dict[str, str]]
) -> tuple[dict[str, dict[str, list[int]]], dict[str, dict[str, list[int]]]]:
    """EMG channel -> side -> activation indices (into ``act``) and actuator indices (into ``ctrl``) of the muscles
    named like it (see ``EMG_MUSCLES``); adds channel -> side -> muscle names to ``joint_names``."""
    import mujoco

    anames = _names(model, mujoco.mjtObj.mjOBJ_ACTUATOR, model.nu)
    emg_acts: dict[str, dict[str, list[int]]] = {}
    emg_ctrls: dict[str, dict[str, list[int]]] = {}
    for ch, base in EMG_MUSCLES.items():
        for side in SIDES:
            acts = [a for a in find_named(anames, base, side) if model.actuator_actadr[a] >= 0]
            if acts:
                emg_ctrls.setdefault(ch, {})[side] = acts
                joint_names.setdefault(ch, {})[side] = " + ".join(anames[a] for a in acts)
                emg_acts.setdefault(ch, {})[side] = [int(model.actuator_actadr[a]) for a in acts]
    return emg_acts, emg_ctrls


def _foot_bodies(bnames: list[str], feet: dict[str, tuple[str, ...]] | None) -> dict[str, list[int]]:
    """Side -> body ids of the foot: the embodiment's ``feet`` bodies, else bodies named calcn/talus/toes/foot."""
    foot_bodies: dict[str, list[int]] = {}
    for side in SIDES:
        names = (feet or {}).get(side)
        ids = [bnames.index(n) for n in names if n in bnames] if names else []
        if not ids:
            ids = find_named(bnames, r"(calcn|talus|toes|foot)", side)
        foot_bodies[side] = ids
    return foot_bodies


def _landmarks(model: mujoco.MjModel, bnames: list[str], pelvis: int | None) -> dict[str, tuple[str, int]]:
    """Landmarks for gait events (``pelvis``, ``ankle_left``, ``toes_right``, ...): the tracked ``mimic_*`` sites,
    else body origins found by name."""
    import mujoco

    snames = _names(model, mujoco.mjtObj.mjOBJ_SITE, model.nsite)
    points: dict[str, tuple[str, int]] = {}
    if "mimic_pelvis" in snames:
        points["pelvis"] = ("site", snames.index("mimic_pelvis"))
    elif pelvis is not None or "pelvis" in bnames:
        points["pelvis"] = ("body", bnames.index("pelvis") if "pelvis" in bnames else pelvis)
    for side in SIDES:
        for part, body_rx in (("ankle", r"(talus|ankle)"), ("toes", r"(toes|toe)")):
            site = f"mimic_{part}_{side[0]}"
            if site in snames:
                points[f"{part}_{side}"] = ("site", snames.index(site))
            elif hits := find_named(bnames, body_rx, side):
                points[f"{part}_{side}"] = ("body", hits[0])
    return points


@dataclass(frozen=True, kw_only=True)
class Recording:
    """A motion to validate: kinematics, plus muscle states and physics when it comes from a rollout."""

    fps: float
    """Frames per second."""
    qpos: np.ndarray
    """qpos: joint positions (T, nq)."""
    qvel: np.ndarray
    """qvel: joint velocities (T, nv)."""
    act: np.ndarray | None = None
    """act: muscle activations (T, na); None for a kinematic clip."""
    ctrl: np.ndarray | None = None
    """ctrl: muscle excitations (T, nu); None for a kinematic clip."""
    segments: tuple[tuple[int, int], ...] = ()
    """Continuous stretches [start, stop) of frames (episodes); empty = one stretch of all frames."""
    dynamic: bool = False
    """True for a physics rollout: GRF from contacts and moments by inverse dynamics are meaningful."""

    def spans(self) -> tuple[tuple[int, int], ...]:
        return self.segments or ((0, len(self.qpos)),)


@dataclass(frozen=True, kw_only=True)
class Signals:
    """Per-frame quantities of a recording, one column per side (left, right)."""

    values: dict[str, np.ndarray]
    """Quantity (or ``excitation_<emg channel>``) -> values in the reference units (T, 2)."""
    site_pos: dict[str, np.ndarray]
    """``pelvis``, ``ankle_left``, ... -> world positions (T, 3)."""
    progression: np.ndarray
    """Unit horizontal direction of progression per frame (T, 3)."""
    foot_force: np.ndarray | None
    """World ground reaction force on each foot, N (T, 2, 3); None for kinematic clips."""


def _foot_heading(site_pos: dict[str, np.ndarray], t: int | slice) -> np.ndarray:
    v = sum(site_pos[f"toes_{s}"][t] - site_pos[f"ankle_{s}"][t] for s in SIDES)
    v = np.array(v, dtype=float)
    v[..., 2] = 0.0
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _point(data: mujoco.MjData, p: tuple[str, int]) -> np.ndarray:
    return data.site_xpos[p[1]] if p[0] == "site" else data.xpos[p[1]]


def compute_signals(model: mujoco.MjModel, jm: JointMap, rec: Recording) -> Signals:
    """Evaluate every quantity the model and recording allow, per frame and side."""
    import mujoco

    missing = [
        k for k in ("pelvis", "ankle_left", "ankle_right", "toes_left", "toes_right") if k not in jm.points
    ]
    if missing:
        raise ValueError(
            f"the model has no landmark for {missing}: gait events need the sites mimic_pelvis, mimic_ankle_l/_r, "
            "mimic_toes_l/_r (or bodies pelvis, talus_l/_r, toes_l/_r); name them like the built-in embodiments"
        )
    data = mujoco.MjData(model)
    anterior0, local_axes = _default_pose_axes(model, data, jm)
    site_pos, axes, foot_force, qfrc = _replay(model, data, jm, rec, local_axes)
    fallback = anterior0 if jm.pelvis_body is None else _foot_heading(site_pos, slice(None)).mean(axis=0)
    fallback = fallback / np.linalg.norm(fallback)
    prog = gait.progression(site_pos["pelvis"], rec.fps, fallback, rec.spans())
    values = _joint_angles(jm, rec.qpos)
    values |= _segment_angles(axes, prog)
    if rec.dynamic:
        assert foot_force is not None and qfrc is not None
        values |= _kinetics(jm, values, foot_force, qfrc, prog, rec.qvel)
    values |= _muscle_signals(model, jm, rec)
    return Signals(values=values, site_pos=site_pos, progression=prog, foot_force=foot_force)


def _default_pose_axes(
    model: mujoco.MjModel, data: mujoco.MjData, jm: JointMap
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Body axes calibrated at the default pose: anterior = heel-to-toe heading (3,), up = +z; and ``pelvis`` /
    ``trunk`` -> (anterior, right) in that body's frame."""
    import mujoco

    data.qpos[:] = model.qpos0
    mujoco.mj_kinematics(model, data)
    sp0 = {k: _point(data, p)[None].copy() for k, p in jm.points.items()}
    anterior0 = _foot_heading(sp0, 0)
    right0 = np.cross(anterior0, UP)
    local_axes = {}
    for key, body in (("pelvis", jm.pelvis_body), ("trunk", jm.trunk_body)):
        if body is not None:
            R0 = data.xmat[body].reshape(3, 3)
            local_axes[key] = (R0.T @ anterior0, R0.T @ right0)
    return anterior0, local_axes


def _replay(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    jm: JointMap,
    rec: Recording,
    local_axes: dict[str, tuple[np.ndarray, np.ndarray]],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None, np.ndarray | None]:
    """Put the model in each recorded state: landmark positions ``(T, 3)`` each, the world (anterior, right) axes
    of the pelvis and trunk ``(T, 2, 3)`` and, for a rollout, the ground reaction force on each foot ``(T, 2, 3)``
    and the net internal joint forces ``(T, nv)`` (None for a kinematic clip)."""
    import mujoco

    T = len(rec.qpos)
    site_pos = {k: np.zeros((T, 3)) for k in jm.points}
    axes = {k: np.zeros((T, 2, 3)) for k in local_axes}  # world anterior and right axis of the body
    foot_force = np.zeros((T, 2, 3)) if rec.dynamic else None
    qfrc = np.zeros((T, model.nv)) if rec.dynamic else None
    foot_of_body = {bid: i for i, side in enumerate(SIDES) for bid in jm.foot_bodies[side]}
    for t in range(T):
        data.qpos[:] = rec.qpos[t]
        data.qvel[:] = rec.qvel[t]
        if rec.dynamic:
            if rec.act is not None and model.na:
                data.act[:] = rec.act[t]
            if rec.ctrl is not None:
                data.ctrl[:] = rec.ctrl[t]
            mujoco.mj_forward(model, data)
            _add_foot_forces(model, data, foot_of_body, foot_force[t])
            # Inverse dynamics at the forward-dynamics acceleration of the recorded state: finite differences of
            # 100 Hz states are too coarse for MuJoCo's soft contacts and limits (r ~ 0.4 against the applied
            # muscle moment on tiny, against 1.0 this way). Net internal moment = muscles + passive joint elements.
            mujoco.mj_inverse(model, data)
            qfrc[t] = data.qfrc_inverse + data.qfrc_passive
        else:
            mujoco.mj_kinematics(model, data)
        for k, p in jm.points.items():
            site_pos[k][t] = _point(data, p)
        for k, (a_loc, r_loc) in local_axes.items():
            R = data.xmat[jm.pelvis_body if k == "pelvis" else jm.trunk_body].reshape(3, 3)
            axes[k][t, 0] = R @ a_loc
            axes[k][t, 1] = R @ r_loc
    return site_pos, axes, foot_force, qfrc


def _add_foot_forces(
    model: mujoco.MjModel, data: mujoco.MjData, foot_of_body: dict[int, int], out: np.ndarray
) -> None:
    """Add to ``out (2, 3)`` the world force on each foot (side index ``foot_of_body[body]``) of every contact
    between a foot and the static world (body 0): the ground reaction."""
    import mujoco

    f6 = np.zeros(6)
    for c in range(data.ncon):
        con = data.contact[c]
        b1, b2 = model.geom_bodyid[con.geom1], model.geom_bodyid[con.geom2]
        if b1 == 0 and b2 in foot_of_body:
            side_i, sgn = foot_of_body[b2], 1.0
        elif b2 == 0 and b1 in foot_of_body:
            side_i, sgn = foot_of_body[b1], -1.0
        else:
            continue
        mujoco.mj_contactForce(model, data, c, f6)
        frame = con.frame.reshape(3, 3)
        out[side_i] += sgn * (frame.T @ f6[:3])


def _joint_angles(jm: JointMap, qpos: np.ndarray) -> dict[str, np.ndarray]:
    """Joint angle quantities (deg, (T, 2)) that the model has on both sides."""
    deg = 180.0 / math.pi
    return {
        q: np.stack([per_side[s][2] * qpos[:, per_side[s][0]] * deg for s in SIDES], axis=1)
        for q, per_side in jm.angle_dofs.items()
        if len(per_side) == 2
    }


def _segment_angles(axes: dict[str, np.ndarray], prog: np.ndarray) -> dict[str, np.ndarray]:
    """Pelvis tilt, obliquity and rotation and trunk tilt (deg, (T, 2)) from the bodies' world axes and the
    direction of progression ``prog (T, 3)``."""
    deg = 180.0 / math.pi
    values = {}
    if "pelvis" in axes:
        A, Rt = axes["pelvis"][:, 0], axes["pelvis"][:, 1]
        tilt = np.arcsin(np.clip(-A[:, 2], -1, 1)) * deg
        obl_r = np.arcsin(np.clip(Rt[:, 2], -1, 1)) * deg
        left_dir = np.cross(UP, prog)
        rot_r = np.arctan2(np.sum(A * left_dir, axis=1), np.sum(A * prog, axis=1)) * deg
        values["pelvis_anterior_tilt"] = np.stack([tilt, tilt], axis=1)
        values["pelvis_obliquity_up"] = np.stack([-obl_r, obl_r], axis=1)
        values["pelvis_internal_rotation"] = np.stack([-rot_r, rot_r], axis=1)
    if "trunk" in axes:
        tilt = np.arcsin(np.clip(-axes["trunk"][:, 0, 2], -1, 1)) * deg
        values["trunk_anterior_tilt"] = np.stack([tilt, tilt], axis=1)
    return values


def _kinetics(
    jm: JointMap,
    angles: dict[str, np.ndarray],
    foot_force: np.ndarray,
    qfrc: np.ndarray,
    prog: np.ndarray,
    qvel: np.ndarray,
) -> dict[str, np.ndarray]:
    """GRF (body weights), joint moments (N*m/kg) and joint powers (W/kg), (T, 2) each, of a rollout; moments and
    powers only of the joints in ``angles``."""
    bw = jm.mass * GRAVITY
    values = {
        "grf_vertical": foot_force[..., 2] / bw,
        "grf_anterior": np.einsum("tsk,tk->ts", foot_force, prog) / bw,
    }
    for q, (angle_q, sign) in MOMENT_JOINTS.items():
        if angle_q in angles:
            per_side = jm.angle_dofs[angle_q]
            values[q] = (
                np.stack([sign * per_side[s][2] * qfrc[:, per_side[s][1]] for s in SIDES], 1) / jm.mass
            )
    for q, angle_q in POWER_JOINTS.items():
        if angle_q in angles:
            per_side = jm.angle_dofs[angle_q]
            cols = [qfrc[:, per_side[s][1]] * qvel[:, per_side[s][1]] for s in SIDES]
            values[q] = np.stack(cols, axis=1) / jm.mass
    return values


def _muscle_signals(model: mujoco.MjModel, jm: JointMap, rec: Recording) -> dict[str, np.ndarray]:
    """EMG channels from the activations and ``excitation_<channel>`` from the excitations, (T, 2) each, each
    normalised to its maximum over the recording (as the reference EMG envelopes)."""
    values = {}
    if rec.act is not None and model.na:
        for ch, per_side in jm.emg_acts.items():
            if len(per_side) == 2:
                a = np.stack([rec.act[:, per_side[s]].mean(axis=1) for s in SIDES], axis=1)
                values[ch] = a / np.maximum(a.max(axis=0, keepdims=True), 1e-6)
    if rec.ctrl is not None:
        # Excitations (the policy's muscle commands), shown beside the activations.
        for ch, per_side in jm.emg_ctrls.items():
            if len(per_side) == 2:
                u = np.stack([rec.ctrl[:, per_side[s]].mean(axis=1) for s in SIDES], axis=1)
                values[EXCITATION_PREFIX + ch] = u / np.maximum(u.max(axis=0, keepdims=True), 1e-6)
    return values
