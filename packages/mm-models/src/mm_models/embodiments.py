"""The built-in embodiments as :class:`~mm_core.contracts.EmbodimentSpec` records (no MuJoCo at import)."""

from __future__ import annotations

from mm_core.contracts import EmbodimentSpec, PhysicsOptions, TaskDefaults

#: Per-embodiment deviations from mm-sim's task defaults for the root type (``mm_sim.tasks.config``: a ``free``
#: root gets the reference's MyoFullBody reward weights, a ``fixed`` root its bimanual ones; each term's ``k`` is
#: its registered parameter).
FULLBODY_TASK = TaskDefaults(
    # Training: the free root's terminations (mean error of the 16 non-main sites relative to the main site 1.0 m,
    # root position 1.0 m, root orientation 1.0 rad); evaluation uses the tighter site threshold.
    eval_terminations={"site_rel_error": 0.5},
    # Actions in [-1, 1] map to ctrl (a + 1) / 2 (no dead half range), so the reference's std 3.0 (on a
    # [-1, 1] -> clip-to-[0, 1] map) would saturate ~75 % of samples. Std 1.0 is a ctrl std of 0.5: it still
    # explores the whole activation range, and the activation dynamics (10-40 ms) smooth it.
    initial_std=1.0,
)
BIMANUAL_TASK = TaskDefaults(
    # Mean absolute error of the tracked sites (m), training and evaluation.
    terminations={"site_abs_error": 0.05},
    # The reference's std 0.2 is in ctrl units (its actions map to ctrl one to one); ours map through
    # (a + 1) / 2, so 0.4 explores the same ctrl spread.
    initial_std=0.4,
)
TINY_TASK = TaskDefaults(
    # The pelvis is fixed, so only the leg sites can drift: mean absolute site error (m).
    terminations={"site_abs_error": 0.3},
    eval_terminations={"site_abs_error": 0.2},
    # Actions in [-1, 1] map to ctrl (a + 1) / 2, so std 0.5 is a ctrl std of 0.25: broad exploration that
    # rarely saturates; the small model learns within minutes from there.
    initial_std=0.5,
)


DESCRIPTIONS = {
    "myofullbody": "MyoFullBody: whole body on a free root, 416 muscles",
    "myofullbody-nofingers": "MyoFullBody without the 40 finger joints and 62 finger muscles: 354 muscles",
    "bimanual": "MyoBimanualArm: both arms on a fixed torso, 126 muscles",
    "bimanual-nofingers": "MyoBimanualArm without the fingers: 64 muscles",
}


def myo(model: str, fingers: bool) -> EmbodimentSpec:
    """One of the four MyoSuite-based embodiments (``model`` is ``myofullbody`` or ``bimanual``)."""
    from functools import partial

    from mm_models.myo import BIMANUAL_SITES, FULLBODY_SITES, MuscleGroups, build_spec, smpl_map

    full = model == "myofullbody"
    name = model + ("" if fingers else "-nofingers")
    sites = FULLBODY_SITES if full else BIMANUAL_SITES
    return EmbodimentSpec(
        name=name,
        root="free" if full else "fixed",
        spec_builder=partial(build_spec, model, fingers),
        tracked_sites=tuple(sites),
        smpl_joint_map=smpl_map(sites),
        muscle_groups=MuscleGroups(model, fingers),
        touch_sensors=("r_foot", "r_toes", "l_foot", "l_toes") if full else (),
        feet={"left": ("calcn_l", "toes_l"), "right": ("calcn_r", "toes_r")} if full else {},
        # The XML reserves one empty keyframe (<size nkey="1">), i.e. qpos0, which already is the standing pose.
        default_keyframe=None,
        physics=PhysicsOptions(nconmax=96, njmax=768) if full else PhysicsOptions(nconmax=10, njmax=256),
        # MyoSuite models face -y (left shoulder at +x, toes towards -y), not MuJoCo's usual +x.
        forward="-y",
        source="musclemimic-models",
        description=DESCRIPTIONS[name],
        task=FULLBODY_TASK if full else BIMANUAL_TASK,
    )


TINY_GROUPS = {
    "hip_flexors": ("iliopsoas", "rectus_femoris"),
    "hip_extensors": ("gluteus_maximus", "hamstrings"),
    "knee_extensors": ("vasti", "rectus_femoris"),
    "knee_flexors": ("hamstrings", "gastrocnemius"),
    "plantarflexors": ("gastrocnemius", "soleus"),
    "dorsiflexors": ("tibialis_anterior",),
    **{m: (m,) for m in ("iliopsoas", "gluteus_maximus", "rectus_femoris", "vasti", "hamstrings")},
    **{m: (m,) for m in ("gastrocnemius", "soleus", "tibialis_anterior")},
}


def tiny() -> EmbodimentSpec:
    from mm_models.tiny import tiny_spec

    parts = {"hip": "Hip", "knee": "Knee", "ankle": "Ankle", "toes": "Foot"}
    sites = ("mimic_pelvis",) + tuple(f"mimic_{p}_{s}" for s in ("l", "r") for p in parts)
    smpl = {"Pelvis": "mimic_pelvis"} | {
        f"{s.upper()}_{j}": f"mimic_{p}_{s}" for s in "lr" for p, j in parts.items()
    }
    return EmbodimentSpec(
        name="tiny",
        root="fixed",
        spec_builder=tiny_spec,
        tracked_sites=sites,
        smpl_joint_map=smpl,
        muscle_groups={
            f"{g}_{s}": tuple(f"{m}_{s}" for m in ms) for s in "lr" for g, ms in TINY_GROUPS.items()
        },
        touch_sensors=("l_foot", "l_toes", "r_foot", "r_toes"),
        feet={"left": ("talus_l", "toes_l"), "right": ("talus_r", "toes_r")},
        # Joint limits (6) + at most 8 foot contacts x 4 pyramid rows; with margin.
        physics=PhysicsOptions(nconmax=16, njmax=64),
        source="mm-models",
        description="Two muscle-driven legs (hip/knee/ankle, 8 muscles each), pelvis fixed 1 m up: the CPU demo",
        task=TINY_TASK,
    )


def builtin_embodiments() -> list[EmbodimentSpec]:
    return [
        myo("myofullbody", True),
        myo("myofullbody", False),
        myo("bimanual", True),
        myo("bimanual", False),
        tiny(),
    ]
