"""The hopper model: one muscle-driven leg on a vertical rail, in MJCF.

A pelvis slides along z (``hop_z``); below it hangs a right leg (hip flexion, knee, ankle) with six MuJoCo
muscles on spatial tendons: iliopsoas, gluteus maximus, vasti, hamstrings (biarticular), soleus and tibialis
anterior. The foot touches the floor (a touch sensor under the sole). Plain MJCF in a string: a plugin needs no data
files.

The ankle muscles are sized to lift the body and no more: a 2,500 N soleus on a 1 kg foot in the air accelerates it
at ~8,000 rad/s^2, and float32 (MuJoCo Warp) and float64 (C MuJoCo) rollouts then drift apart (7e-4 rad after five
control steps, against 1e-8 with these forces). Stiff models are also hard for PPO.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

MUSCLES = ("iliopsoas", "gluteus_maximus", "vasti", "hamstrings", "soleus", "tibialis_anterior")

HOPPER_XML = """
<mujoco model="hopper">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.002"/>
  <default>
    <geom contype="0" conaffinity="0" rgba="0.7 0.55 0.45 1"/>
    <site size="0.006" group="4"/>
    <muscle ctrlrange="0 1" timeconst="0.01 0.04"/>
    <default class="wrap"><geom type="cylinder" group="3" rgba="0.4 0.4 0.9 0.3"/></default>
  </default>
  <worldbody>
    <geom name="floor" type="plane" size="0 0 0.05" contype="1" conaffinity="1" rgba="0.8 0.8 0.8 1"/>
    <body name="pelvis" pos="0 0 1.0">
      <inertial pos="0 0 0.1" mass="8" diaginertia="0.1 0.1 0.1"/>
      <joint name="hop_z" type="slide" axis="0 0 1" range="-0.6 0.4" damping="5" armature="0.05"/>
      <geom name="pelvis" type="capsule" fromto="0 -0.08 0.05 0 0.08 0.05" size="0.06"/>
      <site name="mimic_pelvis" size="0.03" group="5"/>
      <site name="ilio_o" pos="0.03 0 0.12"/>
      <site name="ilio_v" pos="0.05 0 0.0"/>
      <site name="glut_o" pos="-0.11 0 0.06"/>
      <site name="glut_v" pos="-0.07 0 -0.02"/>
      <site name="hams_o" pos="-0.07 0 -0.06"/>
      <body name="femur" pos="0 -0.09 0">
        <inertial pos="0 0 -0.185" mass="7" diaginertia="0.11 0.11 0.02"/>
        <joint name="hip_flexion" axis="0 -1 0" range="-0.5 1.5" damping="2" armature="0.02"/>
        <geom name="thigh" type="capsule" fromto="0 0 0 0 0 -0.4" size="0.055"/>
        <site name="mimic_hip" size="0.02" group="5"/>
        <site name="ilio_i" pos="0.0 0 -0.08"/>
        <site name="glut_i" pos="-0.03 0 -0.11"/>
        <site name="vast_o" pos="0.035 0 -0.2"/>
        <site name="vast_v" pos="0.045 0 -0.37"/>
        <site name="hams_v" pos="-0.045 0 -0.36"/>
        <geom name="knee_wrap" class="wrap" pos="0 0 -0.43" zaxis="0 1 0" size="0.035 0.05" mass="0"/>
        <site name="knee_front" pos="0.07 0 -0.43"/>
        <site name="knee_back" pos="-0.07 0 -0.43"/>
        <body name="tibia" pos="0 0 -0.43">
          <inertial pos="0 0 -0.18" mass="3.3" diaginertia="0.05 0.05 0.005"/>
          <joint name="knee_angle" axis="0 1 0" range="0 2.0" damping="1" armature="0.01"/>
          <geom name="shank" type="capsule" fromto="0 0 -0.02 0 0 -0.38" size="0.04"/>
          <site name="mimic_knee" size="0.02" group="5"/>
          <site name="vast_i" pos="0.045 0 -0.07"/>
          <site name="hams_i" pos="-0.035 0 -0.07"/>
          <site name="sol_o" pos="-0.035 0 -0.18"/>
          <site name="ta_o" pos="0.025 0 -0.15"/>
          <site name="ta_v" pos="0.04 0 -0.37"/>
          <body name="foot" pos="0 0 -0.42">
            <inertial pos="0.04 0 -0.04" mass="1" diaginertia="0.001 0.004 0.004"/>
            <joint name="ankle_angle" axis="0 -1 0" range="-0.7 0.5" damping="0.5" armature="0.01"/>
            <geom name="foot" type="capsule" fromto="-0.05 0 -0.05 0.15 0 -0.05" size="0.02" contype="1"/>
            <site name="mimic_ankle" size="0.02" group="5"/>
            <site name="mimic_toes" pos="0.13 0 -0.05" size="0.02" group="5"/>
            <site name="sole" type="box" pos="0.05 0 -0.05" size="0.12 0.045 0.035"/>
            <site name="sol_i" pos="-0.055 0 -0.03"/>
            <site name="ta_i" pos="0.08 0 -0.035"/>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <tendon>
    <spatial name="iliopsoas_tendon"><site site="ilio_o"/><site site="ilio_v"/><site site="ilio_i"/></spatial>
    <spatial name="gluteus_maximus_tendon"><site site="glut_o"/><site site="glut_v"/><site site="glut_i"/></spatial>
    <spatial name="vasti_tendon">
      <site site="vast_o"/><site site="vast_v"/><geom geom="knee_wrap" sidesite="knee_front"/><site site="vast_i"/>
    </spatial>
    <spatial name="hamstrings_tendon">
      <site site="hams_o"/><site site="hams_v"/><geom geom="knee_wrap" sidesite="knee_back"/><site site="hams_i"/>
    </spatial>
    <spatial name="soleus_tendon"><site site="sol_o"/><site site="sol_i"/></spatial>
    <spatial name="tibialis_anterior_tendon"><site site="ta_o"/><site site="ta_v"/><site site="ta_i"/></spatial>
  </tendon>
  <actuator>
    <muscle name="iliopsoas" tendon="iliopsoas_tendon" force="1000"/>
    <muscle name="gluteus_maximus" tendon="gluteus_maximus_tendon" force="1500"/>
    <muscle name="vasti" tendon="vasti_tendon" force="3000"/>
    <muscle name="hamstrings" tendon="hamstrings_tendon" force="1500"/>
    <muscle name="soleus" tendon="soleus_tendon" force="1200"/>
    <muscle name="tibialis_anterior" tendon="tibialis_anterior_tendon" force="400"/>
  </actuator>
  <sensor>
    <touch name="foot_touch" site="sole"/>
  </sensor>
</mujoco>
"""


@lru_cache(maxsize=1)
def _lengthranges() -> list[list[float]]:
    """Muscle length ranges, computed once by MuJoCo's compiler (a ~1 s simulation)."""
    import mujoco

    return mujoco.MjSpec.from_string(HOPPER_XML).compile().actuator_lengthrange.tolist()


def hopper_spec() -> mujoco.MjSpec:
    """A fresh MjSpec of the hopper; the muscles' length ranges are filled in so compiling it is instant."""
    import mujoco

    spec = mujoco.MjSpec.from_string(HOPPER_XML)
    for actuator, lengthrange in zip(spec.actuators, _lengthranges(), strict=True):
        actuator.lengthrange = lengthrange
    return spec
