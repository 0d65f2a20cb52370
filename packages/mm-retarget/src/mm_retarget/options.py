"""Settings of the retargeting pipeline (:mod:`mm_retarget.retarget`) and the two methods' presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class RetargetOptions:
    """Settings of the retargeting pipeline (see :mod:`mm_retarget.retarget`)."""

    method: str = "gmr-fit"
    """Name recorded in the clip (``gmr-fit`` or ``mocap-body``)."""
    out_fps: float | None = None
    """Frame rate of the output clip; ``None``: the embodiment's control rate, 1 / (physics timestep x substeps),
    the only rate its task accepts (100 Hz for the built-ins)."""
    solve_fps: float = 30.0
    """Rate at which IK is solved; the result is resampled to ``out_fps``. 0 = the source's rate."""
    iterations: int = 3
    """IK iterations per solved frame (warm-started from the previous frame)."""
    first_iterations: int = 100
    """IK iterations for the first frame (from the reference pose)."""
    tolerance: float = 1e-5
    """Stop a frame's iterations once no coordinate moves more than this (rad or m) in one step."""
    damping: float = 1e-3
    """Levenberg-Marquardt damping of the IK QP (regularises the step)."""
    position_cost: float = 1.0
    """Cost of each tracked-site position error (per metre)."""
    posture_cost: float = 1e-2
    """Cost pulling joints towards the reference pose, resolving what the sites leave free (e.g. foot roll)."""
    limits: bool = True
    """Enforce joint limits as hard QP constraints (gmr-fit) or not (baseline)."""
    equality_cost: float = 10.0
    """Cost of the joint-equality couplings (knee, shoulder rhythm, spine); 0 = ignore them (baseline)."""
    ground: Literal["contact", "lowest", "none"] = "contact"
    """Free root: ``contact`` = floor under the feet and per-frame penetration removal; ``lowest`` = one shift
    putting the lowest point of the clip on the floor; ``none``."""
    fit_scale: bool = True
    """Scale source segments to the model's lengths (else only the root trajectory by the leg ratio)."""


#: The built-in methods' settings, by name.
METHODS: dict[str, RetargetOptions] = {
    "gmr-fit": RetargetOptions(),
    "mocap-body": RetargetOptions(
        method="mocap-body", limits=False, equality_cost=0.0, posture_cost=1e-4, ground="lowest", iterations=3
    ),
}
