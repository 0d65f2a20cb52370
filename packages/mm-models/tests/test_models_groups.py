"""Muscle groups of every built-in embodiment name real actuators, consistently across models."""

from __future__ import annotations

import pytest

from mm_core.registry import embodiments, get_embodiment

BUILTIN = ["bimanual", "bimanual-nofingers", "myofullbody", "myofullbody-nofingers", "tiny"]


@pytest.mark.parametrize("name", BUILTIN)
def test_groups_refer_to_real_actuators(name: str) -> None:
    emb = get_embodiment(name)
    assert embodiments.provider(name) == "models"
    m = emb.compile()
    actuators = {m.actuator(i).name for i in range(m.nu)}
    assert emb.muscle_groups, "no muscle groups"
    for group, members in emb.muscle_groups.items():
        assert members, f"group {group} is empty"
        assert len(set(members)) == len(members), f"group {group} repeats a muscle"
        assert set(members) <= actuators, f"group {group}: unknown {sorted(set(members) - actuators)[:5]}"


def test_leg_groups_are_shared_by_tiny_and_fullbody() -> None:
    """mm-validate compares groups by name, so the leg groups exist in both leg models."""
    tiny, full = get_embodiment("tiny").muscle_groups, get_embodiment("myofullbody-nofingers").muscle_groups
    for g in ("hip_flexors", "hip_extensors", "knee_extensors", "hamstrings", "plantarflexors", "dorsiflexors",
              "vasti", "gastrocnemius", "soleus", "tibialis_anterior", "rectus_femoris", "gluteus_maximus"):  # fmt: skip
        for side in ("l", "r"):
            assert f"{g}_{side}" in tiny and f"{g}_{side}" in full


def test_fullbody_trunk_groups_cover_the_210_trunk_muscles() -> None:
    groups = get_embodiment("myofullbody").muscle_groups
    trunk = {a for g in ("abdominals", "back_extensors", "quadratus_lumborum", "lumbar_psoas") for s in "lr"
             for a in groups[f"{g}_{s}"]}  # fmt: skip
    assert len(trunk) == 210
    m = get_embodiment("myofullbody").compile()
    # The trunk fascicles are the ones with the slower (0.015, 0.05) s activation dynamics.
    slow = {m.actuator(i).name for i in range(m.nu) if abs(m.actuator_dynprm[i, 0] - 0.015) < 1e-9}
    assert trunk == slow


def test_arm_groups_use_the_left_suffix() -> None:
    groups = get_embodiment("bimanual").muscle_groups
    assert groups["elbow_flexors_r"] == ("BIClong", "BICshort", "BRA", "BRD")
    assert groups["elbow_flexors_l"] == ("BIClong_left", "BICshort_left", "BRA_left", "BRD_left")
    assert "fingers_r" in groups and "fingers_r" not in get_embodiment("bimanual-nofingers").muscle_groups
