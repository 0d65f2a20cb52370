"""MyoFullBody and MyoBimanualArm from ``musclemimic-models``, edited with MuJoCo's MjSpec.

The XML is never copied: each spec is parsed from the installed package, then edited here: the finger joints,
muscles and their tendons are removed for the ``-nofingers`` variants (keyframes, equality constraints and sensors
are kept consistent), the muscles' ctrl range is declared as the [0, 1] that acts, and the tracked ``mimic_*`` sites
are added at body origins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

Model = Literal["myofullbody", "bimanual"]

#: The 20 finger joints of one hand (suffix ``_r``/``_l`` added per side).
FINGER_JOINTS: tuple[str, ...] = ("cmc_flexion", "cmc_abduction", "mp_flexion", "ip_flexion") + tuple(
    f"{j}{n}_{k}"
    for n in range(2, 6)
    for j, k in (("mcp", "flexion"), ("mcp", "abduction"), ("pm", "flexion"), ("md", "flexion"))
)
#: The 31 finger muscles of one hand (the right hand has no suffix, the left ``_left``).
FINGER_MUSCLES: tuple[str, ...] = (
    tuple(f"{m}{n}" for m in ("FDS", "FDP", "EDC") for n in range(2, 6))
    + ("EDM", "EIP", "EPL", "EPB", "FPL", "APL", "OP")
    + tuple(f"{m}{n}" for m in ("RI", "LU_RB", "UI_UB") for n in range(2, 6))
)


def finger_joint_names() -> list[str]:
    return [f"{j}_{s}" for s in ("r", "l") for j in FINGER_JOINTS]


def finger_muscle_names() -> list[str]:
    return list(FINGER_MUSCLES) + [f"{m}_left" for m in FINGER_MUSCLES]


#: Tracked site -> body whose origin it marks, in tracking order (the first is the main site).
FULLBODY_SITES: dict[str, str] = {
    "mimic_pelvis": "pelvis",
    "mimic_upper_body": "lumbar1",
    "mimic_head": "head",
    **{
        f"mimic_{part}_{s}": f"{body}_{s}"
        for s in ("l", "r")
        for part, body in (("shoulder", "humerus"), ("elbow", "ulna"), ("hand", "lunate"))
    },
    **{
        f"mimic_{part}_{s}": f"{body}_{s}"
        for s in ("l", "r")
        for part, body in (("hip", "femur"), ("knee", "tibia"), ("ankle", "talus"), ("toes", "toes"))
    },
}
BIMANUAL_SITES: dict[str, str] = {
    "mimic_upper_body": "thorax",
    **{
        k: v
        for k, v in FULLBODY_SITES.items()
        if k.startswith(("mimic_shoulder", "mimic_elbow", "mimic_hand"))
    },
}
_SMPL_PARTS = {
    "shoulder": "Shoulder",
    "elbow": "Elbow",
    "hand": "Wrist",
    "hip": "Hip",
    "knee": "Knee",
    "ankle": "Ankle",
    "toes": "Foot",
}


def smpl_map(sites: Mapping[str, str]) -> dict[str, str]:
    """SMPL joint -> tracked site, for the sites of one model."""
    out = {}
    for site in sites:
        part = site.removeprefix("mimic_")
        if part == "pelvis":
            out["Pelvis"] = site
        elif part == "upper_body":
            out["Spine3"] = site
        elif part == "head":
            out["Head"] = site
        else:
            name, side = part.rsplit("_", 1)
            out[f"{side.upper()}_{_SMPL_PARTS[name]}"] = site
    return out


def build_spec(model: Model, fingers: bool) -> mujoco.MjSpec:
    """A fresh, edited MjSpec of ``model`` (``fingers=False``: the finger-less variant).

    The edit runs once per process (MjSpec deletes cost ~10 ms each, ~1.5 s for the fingers); callers get a copy.
    """
    return _edited_spec(model, fingers).copy()


@lru_cache(maxsize=4)
def _edited_spec(model: Model, fingers: bool) -> mujoco.MjSpec:
    """The edited spec; private and never handed out (callers must not mutate the cached object)."""
    import mujoco
    import musclemimic_models

    path = musclemimic_models.get_xml_path(model)
    spec = mujoco.MjSpec.from_file(str(path))
    if not fingers:
        _remove_fingers(spec, model)
    for actuator in spec.actuators:
        # MuJoCo's muscle dynamics clamp ctrl to [0, 1] anyway; the XML's [-1, 1] only declares a dead half range.
        actuator.ctrlrange = [0.0, 1.0]
    sites = FULLBODY_SITES if model == "myofullbody" else BIMANUAL_SITES
    for site, body in sites.items():
        b = spec.body(body)
        if b is None:
            raise RuntimeError(
                f"{path}: body {body!r} (for tracked site {site!r}) not found; musclemimic-models changed its "
                "model? pin musclemimic-models to a version mm-models supports"
            )
        b.add_site(name=site, pos=[0.0, 0.0, 0.0], size=[0.015, 0.0, 0.0], group=5, rgba=[1.0, 0.2, 0.2, 1.0])
    return spec


@lru_cache(maxsize=2)
def _original_layout(model: Model) -> tuple[dict[str, tuple[slice, slice]], list[str]]:
    """``(joint -> (its qpos slice, its qvel slice), actuator names in order)`` of the unedited model."""
    import mujoco
    import musclemimic_models

    from mm_models.kinematics import dof_width, qpos_width

    m = mujoco.MjModel.from_xml_path(str(musclemimic_models.get_xml_path(model)))
    joints = {}
    for i in range(m.njnt):
        q, v, t = int(m.jnt_qposadr[i]), int(m.jnt_dofadr[i]), int(m.jnt_type[i])
        joints[m.joint(i).name] = (slice(q, q + qpos_width(t)), slice(v, v + dof_width(t)))
    return joints, [m.actuator(i).name for i in range(m.nu)]


def _remove_fingers(spec: mujoco.MjSpec, model: Model) -> None:
    """Delete the 40 finger joints, the 62 finger muscles and their tendons; keep keyframes and equalities valid."""
    import mujoco
    import numpy as np

    joints, actuators = _original_layout(model)
    gone_joints, gone_muscles = set(finger_joint_names()), set(finger_muscle_names())
    missing = sorted((gone_joints - set(joints)) | (gone_muscles - set(actuators)))
    if missing:
        raise RuntimeError(
            f"{model}: finger elements not in the model: {missing[:8]}; musclemimic-models changed?"
        )

    gone_tendons = set()
    for act in list(spec.actuators):
        if act.name in gone_muscles:
            gone_tendons.add(act.target)
            spec.delete(act)
    for ten in list(spec.tendons):
        if ten.name in gone_tendons:
            spec.delete(ten)
    # Equality constraints or sensors that point at a removed joint, tendon or actuator would fail to compile;
    # the shipped models have none, but a future version might, so drop them explicitly rather than crash.
    eq_gone = {mujoco.mjtEq.mjEQ_JOINT: gone_joints, mujoco.mjtEq.mjEQ_TENDON: gone_tendons}
    for eq in list(spec.equalities):
        if eq.type in eq_gone and {eq.name1, eq.name2} & eq_gone[eq.type]:
            spec.delete(eq)
    o = mujoco.mjtObj
    sensor_gone = {o.mjOBJ_JOINT: gone_joints, o.mjOBJ_TENDON: gone_tendons, o.mjOBJ_ACTUATOR: gone_muscles}
    for sensor in list(spec.sensors):
        if any(
            t in sensor_gone and n in sensor_gone[t]
            for t, n in ((sensor.objtype, sensor.objname), (sensor.reftype, sensor.refname))
        ):
            spec.delete(sensor)
    for joint in list(spec.joints):
        if joint.name in gone_joints:
            spec.delete(joint)

    # Keyframes hold full-length vectors: keep the entries of what remains. (The shipped XML has no keyframes.)
    keep_q = np.ones(max(q.stop for q, _ in joints.values()), dtype=bool)
    keep_v = np.ones(max(v.stop for _, v in joints.values()), dtype=bool)
    for name in gone_joints:
        q, v = joints[name]
        keep_q[q], keep_v[v] = False, False
    keep_u = np.array([a not in gone_muscles for a in actuators])
    for key in spec.keys:
        for fld, keep in (("qpos", keep_q), ("qvel", keep_v), ("ctrl", keep_u), ("act", keep_u)):
            values = np.asarray(getattr(key, fld))
            if values.size:  # empty means "the model's default" and stays empty
                setattr(key, fld, values[keep])


# Muscle groups. Leg muscles carry ``_r``/``_l``; arm muscles have no suffix on the right and ``_left`` on the left.
LEG_GROUPS: dict[str, tuple[str, ...]] = {
    "hip_flexors": ("iliacus", "psoas", "recfem", "sart", "tfl"),
    "hip_extensors": ("glmax1", "glmax2", "glmax3", "bflh", "semimem", "semiten", "addmagIsch"),
    "hip_abductors": ("glmed1", "glmed2", "glmed3", "glmin1", "glmin2", "glmin3", "tfl", "piri"),
    "hip_adductors": ("addbrev", "addlong", "addmagDist", "addmagIsch", "addmagMid", "addmagProx", "grac"),
    "knee_extensors": ("recfem", "vasint", "vaslat", "vasmed"),
    "knee_flexors": ("bflh", "bfsh", "semimem", "semiten", "gaslat", "gasmed", "grac", "sart"),
    "plantarflexors": ("gaslat", "gasmed", "soleus", "tibpost", "perlong", "perbrev", "fdl", "fhl"),
    "dorsiflexors": ("tibant", "edl", "ehl"),
    "iliopsoas": ("iliacus", "psoas"),
    "gluteus_maximus": ("glmax1", "glmax2", "glmax3"),
    "gluteus_medius": ("glmed1", "glmed2", "glmed3"),
    "rectus_femoris": ("recfem",),
    "vasti": ("vasint", "vaslat", "vasmed"),
    "hamstrings": ("bflh", "bfsh", "semimem", "semiten"),
    "gastrocnemius": ("gaslat", "gasmed"),
    "soleus": ("soleus",),
    "tibialis_anterior": ("tibant",),
}
SHOULDER = (
    "DELT1", "DELT2", "DELT3", "SUPSP", "INFSP", "SUBSC", "TMIN", "TMAJ",
    "PECM1", "PECM2", "PECM3", "LAT1", "LAT2", "LAT3", "CORB",
)  # fmt: skip
ARM_GROUPS: dict[str, tuple[str, ...]] = {
    "shoulder": SHOULDER,
    "deltoid": ("DELT1", "DELT2", "DELT3"),
    "rotator_cuff": ("SUPSP", "INFSP", "SUBSC", "TMIN"),
    "elbow_flexors": ("BIClong", "BICshort", "BRA", "BRD"),
    "elbow_extensors": ("TRIlong", "TRIlat", "TRImed", "ANC"),
    "forearm_rotators": ("SUP", "PT", "PQ"),
    "wrist_flexors": ("FCR", "FCU", "PL"),
    "wrist_extensors": ("ECRL", "ECRB", "ECU"),
}
#: Trunk groups by actuator-name pattern (the model has 210 trunk muscles in fascicles), per side ``_r``/``_l``.
TRUNK_PATTERNS: dict[str, str] = {
    "abdominals": r"(rect_abd|EO\d|IO\d)_{s}",
    "back_extensors": r"(IL|LTpT|LTpL|MF)_.*_{s}",
    "quadratus_lumborum": r"QL_.*_{s}",
    "lumbar_psoas": r"Ps_.*_{s}",
}


def _arm_name(muscle: str, side: str) -> str:
    return muscle if side == "r" else f"{muscle}_left"


class MuscleGroups(Mapping[str, tuple[str, ...]]):
    """Muscle groups of a MyoSuite model, resolved against its actuator names on first use (so building the
    registry stays cheap)."""

    def __init__(self, model: Model, fingers: bool) -> None:
        self.model, self.fingers = model, fingers
        self._groups: dict[str, tuple[str, ...]] | None = None

    def _resolve(self) -> dict[str, tuple[str, ...]]:
        if self._groups is None:
            _, actuators = _original_layout(self.model)
            names = set(actuators)
            if not self.fingers:
                names -= set(finger_muscle_names())
            groups: dict[str, tuple[str, ...]] = {}
            for s in ("l", "r"):
                if self.model == "myofullbody":
                    for g, ms in LEG_GROUPS.items():
                        groups[f"{g}_{s}"] = tuple(f"{m}_{s}" for m in ms)
                    for g, pattern in TRUNK_PATTERNS.items():
                        rx = re.compile(pattern.format(s=s))
                        groups[f"{g}_{s}"] = tuple(a for a in actuators if rx.fullmatch(a))
                for g, ms in ARM_GROUPS.items():
                    groups[f"{g}_{s}"] = tuple(_arm_name(m, s) for m in ms)
                if self.fingers:
                    groups[f"fingers_{s}"] = tuple(_arm_name(m, s) for m in FINGER_MUSCLES)
            unknown = sorted({a for ms in groups.values() for a in ms} - names)
            if unknown:
                raise RuntimeError(f"{self.model}: muscle groups name unknown actuators {unknown[:8]}")
            self._groups = groups
        return self._groups

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self._resolve()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolve())

    def __len__(self) -> int:
        return len(self._resolve())

    def __repr__(self) -> str:
        return f"MuscleGroups({self.model!r}, fingers={self.fingers})"
