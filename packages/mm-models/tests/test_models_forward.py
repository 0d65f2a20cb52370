"""``EmbodimentSpec.forward`` is the way each built-in model faces: up x forward points to its left side."""

from __future__ import annotations

import numpy as np
import pytest

from mm_core import get_embodiment

AXES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0)}


@pytest.mark.parametrize("name", ["tiny", "myofullbody-nofingers", "bimanual-nofingers"])
def test_forward_has_the_left_sites_on_the_left(name: str) -> None:
    import mujoco

    spec = get_embodiment(name)
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    pairs = [
        (s, s[:-2] + "_r")
        for s in spec.tracked_sites
        if s.endswith("_l") and s[:-2] + "_r" in spec.tracked_sites
    ]
    assert pairs, f"{name}: no left/right pair of tracked sites"
    left = np.cross([0.0, 0.0, 1.0], AXES[spec.forward])
    for s_l, s_r in pairs:
        lateral = d.site_xpos[m.site(s_l).id] - d.site_xpos[m.site(s_r).id]
        # The pair lies along the left axis (mostly) and on the correct side of it.
        assert lateral @ left > 0.8 * np.linalg.norm(lateral[:2]), (name, s_l, lateral, spec.forward)
