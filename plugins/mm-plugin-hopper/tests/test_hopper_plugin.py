"""The hopper plugin passes mm's conformance kit, and its model behaves like a hopping leg."""

from __future__ import annotations

import mujoco
import numpy as np

from mm_core.registry import embodiments, get_embodiment
from mm_core.testing import EmbodimentConformance


class TestHopperConformance(EmbodimentConformance):
    """mm's conformance kit: compiles, unique names, sites and SMPL map, steps on C MuJoCo and on MuJoCo Warp."""

    embodiment_name = "hopper"


def test_registered_by_this_plugin() -> None:
    assert embodiments.provider("hopper") == "hopper"
    assert get_embodiment("hopper").source == "mm-plugin-hopper"


def test_falls_onto_the_floor_and_the_touch_sensor_feels_it() -> None:
    m = get_embodiment("hopper").compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    assert d.sensor("foot_touch").data[0] == 0  # starts 8 cm above the floor
    for _ in range(250):  # 0.5 s, muscles off
        mujoco.mj_step(m, d)
    assert d.sensor("foot_touch").data[0] > 0
    assert np.all(np.isfinite(d.qpos))


def test_vasti_and_soleus_push_the_pelvis_up() -> None:
    """Standing on a bent knee, the knee and ankle extensors raise the pelvis: the muscles can hop."""
    m = get_embodiment("hopper").compile()
    d = mujoco.MjData(m)
    z, knee = m.joint("hop_z").qposadr[0], m.joint("knee_angle").qposadr[0]
    hip = m.joint("hip_flexion").qposadr[0]
    d.qpos[hip], d.qpos[knee] = 0.5, 1.0  # crouch, then drop to the floor
    d.qpos[z] = -0.12
    for _ in range(200):
        mujoco.mj_step(m, d)
    low = d.qpos[z]
    for name in ("vasti", "soleus", "gluteus_maximus"):
        d.ctrl[m.actuator(name).id] = 1.0
    for _ in range(150):
        mujoco.mj_step(m, d)
    assert d.qpos[z] > low + 0.05, f"pelvis rose {d.qpos[z] - low:+.3f} m"
