"""The hopper plugin's hooks: the module named by the ``mm`` entry point in pyproject.toml.

Keep this module light: it is imported whenever ``mm`` starts, so MuJoCo is imported only inside the spec builder.
"""

from __future__ import annotations

from mm_core import hookimpl
from mm_core.contracts import EmbodimentSpec, PhysicsOptions


@hookimpl
def mm_embodiments() -> list[EmbodimentSpec]:
    from mm_plugin_hopper.model import MUSCLES, hopper_spec

    return [
        EmbodimentSpec(
            name="hopper",
            # The pelvis slides on a vertical rail: there is no free joint, so for mm the root is fixed.
            root="fixed",
            spec_builder=hopper_spec,
            tracked_sites=("mimic_pelvis", "mimic_hip", "mimic_knee", "mimic_ankle", "mimic_toes"),
            smpl_joint_map={
                "Pelvis": "mimic_pelvis",
                "R_Hip": "mimic_hip",
                "R_Knee": "mimic_knee",
                "R_Ankle": "mimic_ankle",
                "R_Foot": "mimic_toes",
            },
            muscle_groups={
                "hip_flexors_r": ("iliopsoas",),
                "hip_extensors_r": ("gluteus_maximus", "hamstrings"),
                "knee_extensors_r": ("vasti",),
                "knee_flexors_r": ("hamstrings",),
                "plantarflexors_r": ("soleus",),
                "dorsiflexors_r": ("tibialis_anterior",),
                "all": MUSCLES,
            },
            touch_sensors=("foot_touch",),
            feet={"right": ("foot",)},
            # 4 joint limits + up to 2 foot contacts (4 pyramid rows each), with margin.
            physics=PhysicsOptions(nconmax=8, njmax=48),
            source="mm-plugin-hopper",
            description="Example plugin: one muscle-driven leg hopping on a vertical rail (6 muscles)",
            extras={
                # PPO's initial action std (actions in [-1, 1] map to muscle ctrl (a + 1) / 2).
                "initial_std": 0.5,
                # The way the model faces; mm-retarget needs it for models without a left/right pair of sites.
                "forward": "+x",
            },
        )
    ]
