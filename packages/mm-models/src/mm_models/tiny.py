"""``tiny``: a pair of muscle-driven legs hanging from a pelvis fixed 1 m above the floor (the CPU demo model).

Per leg: hip flexion, knee and ankle hinges (sagittal plane, MyoSuite joint names and sign conventions: flexion,
knee flexion and dorsiflexion positive) and 8 Hill-type MuJoCo muscles on spatial tendons, three of them
biarticular (rectus femoris, hamstrings, gastrocnemius). Cylinders centred on the hip, knee and ankle axes act as
wrapping surfaces so no moment arm falls below the cylinder radius or flips sign over the joint range (hip flexion
stops at 90 degrees: beyond it the hip extensors' paths slip over the front of the hip cylinder). Touch sensors sit
under each foot and toes; the feet hang 8 cm above the floor and touch it only when the toes point down.

Muscle forces: the hip muscles are about human-sized (they swing the whole 11 kg leg at walking cadence); the knee
and ankle muscles are a fifth to a tenth of a human's: they carry no body weight here, and human forces on the light
shank and foot would give accelerations of thousands of rad/s^2, which makes the model stiff for PPO.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

#: Hip-to-knee and knee-to-ankle lengths (m); the sole is 7 cm below the ankle, so the feet hang 8 cm above the
#: floor when the legs are straight.
THIGH, SHANK = 0.43, 0.42
#: Hip centres are this far left/right of the pelvis origin (m).
HIP_WIDTH = 0.09
PELVIS_HEIGHT = 1.0

#: Muscle name (without side) -> peak isometric force (N).
MUSCLE_FORCES: dict[str, float] = {
    "iliopsoas": 2000.0,
    "gluteus_maximus": 2000.0,
    "rectus_femoris": 600.0,
    "hamstrings": 1200.0,
    "vasti": 1000.0,
    "gastrocnemius": 400.0,
    "soleus": 400.0,
    "tibialis_anterior": 300.0,
}

#: Tendon paths: muscle -> ordered points, each ``("site", body, (x, y, z))`` in the body frame with y pointing to
#: the side's outside (mirrored for the right leg), or ``("wrap", cylinder, side)`` to wrap around the hip, knee
#: or ankle cylinder on the anterior (+1) or posterior (-1) side.
_PATHS: dict[str, list[tuple]] = {
    "iliopsoas": [
        ("site", "pelvis", (0.02, -0.03, 0.12)),
        ("wrap", "hip", 1),
        ("site", "femur", (0.0, -0.01, -0.08)),
    ],
    "gluteus_maximus": [
        ("site", "pelvis", (-0.11, 0.0, 0.06)),
        ("wrap", "hip", -1),
        ("site", "femur", (-0.03, 0.01, -0.11)),
    ],
    "rectus_femoris": [
        ("site", "pelvis", (0.05, 0.0, 0.02)),
        ("wrap", "hip", 1),
        ("site", "femur", (0.045, 0.0, -0.37)),
        ("wrap", "knee", 1),
        ("site", "tibia", (0.045, 0.0, -0.07)),
    ],
    "hamstrings": [
        ("site", "pelvis", (-0.07, -0.01, -0.06)),
        ("wrap", "hip", -1),
        ("site", "femur", (-0.045, 0.0, -0.36)),
        ("wrap", "knee", -1),
        ("site", "tibia", (-0.035, 0.0, -0.08)),
    ],
    "vasti": [
        ("site", "femur", (0.035, 0.0, -0.2)),
        ("site", "femur", (0.045, 0.0, -0.37)),
        ("wrap", "knee", 1),
        ("site", "tibia", (0.045, 0.0, -0.07)),
    ],
    "gastrocnemius": [
        ("site", "femur", (-0.045, 0.0, -0.37)),
        ("wrap", "knee", -1),
        ("site", "tibia", (-0.04, 0.0, -0.25)),
        ("wrap", "ankle", -1),
        ("site", "talus", (-0.055, 0.0, -0.03)),
    ],
    "soleus": [
        ("site", "tibia", (-0.035, 0.0, -0.18)),
        ("wrap", "ankle", -1),
        ("site", "talus", (-0.055, 0.0, -0.03)),
    ],
    "tibialis_anterior": [
        ("site", "tibia", (0.025, 0.0, -0.15)),
        ("site", "tibia", (0.04, 0.0, -0.37)),
        ("wrap", "ankle", 1),
        ("site", "talus", (0.08, 0.0, -0.035)),
    ],
}
#: Wrapping cylinders: name -> (body holding it, centre in that body, radius). Each is centred on a joint axis.
_WRAPS = {
    "hip": ("pelvis", (0.0, 0.0, 0.0), 0.035),
    "knee": ("femur", (0.0, 0.0, -THIGH), 0.035),
    "ankle": ("tibia", (0.0, 0.0, -SHANK), 0.03),
}

SIDES = ("l", "r")


def muscle_names() -> list[str]:
    return [f"{m}_{s}" for s in SIDES for m in MUSCLE_FORCES]


def _v(x: tuple[float, ...]) -> str:
    return " ".join(f"{c:.4g}" for c in x)


def _leg_bodies(side: str, y: float, extra: dict[str, str]) -> str:
    """MJCF of one leg, attached to the pelvis at the hip centre; ``extra[body]`` (tendon sites, wrapping
    cylinders) goes inside that body."""
    return f"""
      <body name="femur_{side}" pos="0 {y:.4g} 0">
        <inertial pos="0 0 -0.185" mass="7.0" diaginertia="0.11 0.11 0.02"/>
        <joint name="hip_flexion_{side}" axis="0 -1 0" range="-0.5236 1.5708" damping="2" armature="0.02"/>
        <site name="mimic_hip_{side}" size="0.02"/>
        <geom name="thigh_{side}" type="capsule" fromto="0 0 0 0 0 {-THIGH + 0.03:.4g}" size="0.055"/>
        {extra["femur"]}
        <body name="tibia_{side}" pos="0 0 {-THIGH}">
          <inertial pos="0 0 -0.18" mass="3.3" diaginertia="0.05 0.05 0.005"/>
          <joint name="knee_angle_{side}" axis="0 1 0" range="0 2.0944" damping="1" armature="0.01"/>
          <site name="mimic_knee_{side}" size="0.02"/>
          <geom name="shank_{side}" type="capsule" fromto="0 0 -0.02 0 0 {-SHANK + 0.04:.4g}" size="0.04"/>
          {extra["tibia"]}
          <body name="talus_{side}" pos="0 0 {-SHANK}">
            <inertial pos="0.04 0 -0.04" mass="1.0" diaginertia="0.001 0.004 0.004"/>
            <joint name="ankle_angle_{side}" axis="0 -1 0" range="-0.6981 0.5236" damping="0.5" armature="0.01"/>
            <site name="mimic_ankle_{side}" size="0.02"/>
            <geom name="foot_{side}" class="foot" fromto="-0.05 0 -0.05 0.13 0 -0.05" size="0.02"/>
            <site name="{side}_foot_touch" type="box" pos="0.04 0 -0.05" size="0.11 0.045 0.035" group="4"/>
            {extra["talus"]}
            <body name="toes_{side}" pos="0.13 0 -0.05">
              <inertial pos="0.02 0 0" mass="0.1" diaginertia="0.0001 0.0001 0.0001"/>
              <site name="mimic_toes_{side}" size="0.02"/>
              <geom name="toes_{side}" class="foot" fromto="0 0 0 0.05 0 0" size="0.02"/>
              <site name="{side}_toes_touch" type="box" pos="0.025 0 0" size="0.05 0.045 0.035" group="4"/>
            </body>
          </body>
        </body>
      </body>"""


def _mjcf(lengthranges: dict[str, tuple[float, float]] | None) -> str:
    """The model's MJCF; ``lengthranges`` None lets the compiler compute them (see :func:`_lengthranges`)."""
    pelvis, legs, tendons, muscles, sensors = [], [], [], [], []
    for side, sign in (("l", 1.0), ("r", -1.0)):
        hip_y = sign * HIP_WIDTH
        # Body -> elements to declare inside it; the pelvis is shared by both legs.
        extra: dict[str, list[str]] = {"pelvis": pelvis, "femur": [], "tibia": [], "talus": []}

        def at(body: str, x: float, y: float, z: float) -> tuple[float, float, float]:
            # Table coordinates: y points to this side's outside; pelvis points are relative to the hip centre.
            return (x, sign * y + (hip_y if body == "pelvis" else 0.0), z)  # noqa: B023

        for wrap, (body, (x, y, z), radius) in _WRAPS.items():
            c = at(body, x, y, z)
            extra[body] += [
                f'<geom name="{wrap}_wrap_{side}" class="wrap" pos="{_v(c)}" zaxis="0 1 0" size="{radius} 0.05"/>',
                f'<site name="{wrap}_front_{side}" pos="{_v((c[0] + 2 * radius, *c[1:]))}" size="0.005" group="4"/>',
                f'<site name="{wrap}_back_{side}" pos="{_v((c[0] - 2 * radius, *c[1:]))}" size="0.005" group="4"/>',
            ]
        for muscle, path in _PATHS.items():
            name = f"{muscle}_{side}"
            elems = []
            for k, (kind, a, b) in enumerate(path):
                if kind == "site":
                    extra[a].append(
                        f'<site name="{name}_p{k}" pos="{_v(at(a, *b))}" size="0.006" group="4"/>'
                    )
                    elems.append(f'<site site="{name}_p{k}"/>')
                else:
                    sidesite = f"{a}_{'front' if b > 0 else 'back'}_{side}"
                    elems.append(f'<geom geom="{a}_wrap_{side}" sidesite="{sidesite}"/>')
            tendons.append(f'<spatial name="{name}_tendon" width="0.004">{"".join(elems)}</spatial>')
            lr = f' lengthrange="{_v(lengthranges[name])}"' if lengthranges else ""
            muscles.append(
                f'<muscle name="{name}" tendon="{name}_tendon" force="{MUSCLE_FORCES[muscle]:g}"'
                f' ctrlrange="0 1" timeconst="0.01 0.04"{lr}/>'
            )
        legs.append(_leg_bodies(side, hip_y, {b: "".join(e) for b, e in extra.items()}))
        sensors += [f'<touch name="{side}_{p}" site="{side}_{p}_touch"/>' for p in ("foot", "toes")]
    return f"""
<mujoco model="tiny">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.002"/>
  <default>
    <geom contype="0" conaffinity="0" rgba="0.8 0.6 0.5 1"/>
    <default class="foot"><geom type="capsule" contype="1" friction="1 0.005 0.0001"/></default>
    <default class="wrap"><geom type="cylinder" group="3" rgba="0.5 0.5 0.9 0.3" mass="0"/></default>
  </default>
  <worldbody>
    <light pos="0 -2 3" dir="0 1 -1"/>
    <geom name="floor" type="plane" size="0 0 0.05" contype="1" conaffinity="1" rgba="0.7 0.7 0.7 1"/>
    <body name="pelvis" pos="0 0 {PELVIS_HEIGHT}">
      <inertial pos="0 0 0.05" mass="10" diaginertia="0.1 0.1 0.1"/>
      <site name="mimic_pelvis" size="0.03"/>
      <geom name="pelvis" type="capsule" fromto="0 -0.1 0.05 0 0.1 0.05" size="0.06"/>
      {"".join(pelvis)}{"".join(legs)}
    </body>
  </worldbody>
  <tendon>{"".join(tendons)}</tendon>
  <actuator>{"".join(muscles)}</actuator>
  <sensor>{"".join(sensors)}</sensor>
</mujoco>
"""


@lru_cache(maxsize=1)
def _lengthranges() -> dict[str, tuple[float, float]]:
    """Muscle tendon length ranges over the joints' ranges, computed once.

    Every muscle spans only its own leg's hip, knee and ankle, so a grid over those three joints (both legs moved
    alike) covers every combination. Exact and fast, unlike MuJoCo's simulation-based lengthrange step, which
    does not converge on the wrapped biarticular paths.
    """
    import itertools

    import mujoco
    import numpy as np

    # A placeholder range keeps the compiler from running its own lengthrange step.
    m = mujoco.MjSpec.from_string(_mjcf(dict.fromkeys(muscle_names(), (0.0, 1.0)))).compile()
    d = mujoco.MjData(m)
    grids = [np.linspace(*m.joint(f"{j}_l").range, 15) for j in ("hip_flexion", "knee_angle", "ankle_angle")]
    adr = [
        [m.joint(f"{j}_{s}").qposadr[0] for s in SIDES] for j in ("hip_flexion", "knee_angle", "ankle_angle")
    ]
    lo, hi = np.full(m.nu, np.inf), np.full(m.nu, -np.inf)
    for q in itertools.product(*grids):
        for a, v in zip(adr, q, strict=True):
            d.qpos[a] = v
        mujoco.mj_fwdPosition(m, d)
        lo, hi = np.minimum(lo, d.actuator_length), np.maximum(hi, d.actuator_length)
    return {m.actuator(i).name: (float(lo[i]), float(hi[i])) for i in range(m.nu)}


def tiny_spec() -> mujoco.MjSpec:
    """A fresh MjSpec of the tiny legs."""
    import mujoco

    return mujoco.MjSpec.from_string(_mjcf(_lengthranges()))
