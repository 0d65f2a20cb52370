from __future__ import annotations

import pytest

from mm_core.registry import embodiments
from mm_rl.config import preset


def test_small_models_get_the_cpu_preset_and_big_ones_the_reference_recipe() -> None:
    names = embodiments.names()
    if "tiny" not in names:
        pytest.skip("mm-models is not installed")
    small = preset("tiny")
    assert small.num_worlds == 64 and small.policy.actor_depth == 2
    for plugin_model in ("hopper",):  # the example plugin: a small model that is not named tiny
        if plugin_model in names:
            assert preset(plugin_model).policy.actor_width == small.policy.actor_width
    full = preset("myofullbody-nofingers")
    assert (full.num_worlds, full.policy.actor_depth, full.policy.actor_width) == (8192, 16, 1024)
    assert full.ppo.num_steps == 20 and full.ppo.num_minibatches == 128
    bim = preset("bimanual-nofingers")
    assert (bim.policy.actor_depth, bim.ppo.num_steps, bim.ppo.num_minibatches, bim.ppo.lr_decay) == (
        4,
        10,
        32,
        False,
    )
