"""The hopper plugin's hooks: the module named by the ``mm`` entry point in pyproject.toml.

Keep this module light: it is imported whenever ``mm`` starts, so MuJoCo is imported only inside the spec builder.
"""

from __future__ import annotations

from mm_core import hookimpl
from mm_core.contracts import EmbodimentSpec, PhysicsOptions, TaskDefaults
from mm_core.records import ObservationTerm, RewardTerm, TerminationTerm
from mm_plugin_hopper import terms


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
            # The task: a fixed root's default terms (mm-sim); PPO's initial action std (actions in [-1, 1] map
            # to muscle ctrl (a + 1) / 2).
            task=TaskDefaults(initial_std=0.5),
            # The way the model faces; mm-retarget needs it for models without a left/right pair of sites.
            forward="+x",
        )
    ]


@hookimpl
def mm_observation_terms() -> list[ObservationTerm]:
    return [
        ObservationTerm(
            name="hopper_pelvis_height",
            fn=terms.pelvis_height,
            params={"scale": 1.0},
            description=terms.pelvis_height.__doc__ or "",
        )
    ]


@hookimpl
def mm_reward_terms() -> list[RewardTerm]:
    return [
        RewardTerm(
            name="hopper_height_match",
            fn=terms.pelvis_height_match,
            weight=0.2,
            params={"k": 100.0},
            description=terms.pelvis_height_match.__doc__ or "",
        )
    ]


@hookimpl
def mm_termination_terms() -> list[TerminationTerm]:
    return [
        TerminationTerm(
            name="hopper_pelvis_low",
            fn=terms.pelvis_low,
            params={"threshold": 0.5},
            description=terms.pelvis_low.__doc__ or "",
        )
    ]
