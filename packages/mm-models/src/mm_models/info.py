"""Summaries of registered embodiments for ``mm models`` (compiles each model once)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mm_core.contracts import EmbodimentSpec
from mm_core.registry import embodiments


def _sizes(emb: EmbodimentSpec) -> dict[str, Any]:
    """Model sizes; a model that fails to compile gets ``error`` instead, so one broken plugin does not hide the
    others from ``mm models list``."""
    import mujoco

    try:
        m = emb.compile()
    except Exception as e:  # any plugin's model: report it, do not crash the listing
        return {
            "error": f"{emb.name}: model does not compile ({type(e).__name__}: {e}); see `mm plugins check`"
        }
    return {
        "joints": int(m.njnt),
        "nq": int(m.nq),
        "nv": int(m.nv),
        "actuators": int(m.nu),
        "muscles": int((m.actuator_gaintype == mujoco.mjtGain.mjGAIN_MUSCLE).sum()),
        "tendons": int(m.ntendon),
        "equality_constraints": int(m.neq),
        "bodies": int(m.nbody),
        "sites": int(m.nsite),
        "geoms": int(m.ngeom),
    }


def summary(name: str, provider: str, emb: EmbodimentSpec) -> dict[str, Any]:
    """One row of ``mm models list``."""
    return {
        "name": name,
        "root": emb.root,
        **_sizes(emb),
        "tracked_sites": list(emb.tracked_sites),
        "source": emb.source,
        "provider": provider,
        "description": emb.description,
    }


def summarize_all() -> list[dict[str, Any]]:
    return [summary(name, provider, emb) for name, (provider, emb) in sorted(embodiments.items().items())]


def task_defaults(emb: EmbodimentSpec) -> dict[str, Any]:
    """``EmbodimentSpec.task`` as plain data; a None field is shown as ``root default (<root>)``: mm-sim's set
    for the root type (``mm_sim.tasks.config``), or for ``eval_terminations``, ``none (the training terminations)``."""
    out: dict[str, Any] = {}
    for key, value in asdict(emb.task).items():
        if value is None:
            value = (
                "none (the training terminations)"
                if key == "eval_terminations"
                else f"root default ({emb.root})"
            )
        out[key] = value
    return out


def details(name: str) -> dict[str, Any]:
    """Everything ``mm models show`` prints; raises ``UnknownNameError`` listing valid names."""
    emb = embodiments.get(name)
    out = summary(name, embodiments.provider(name), emb)
    out |= {
        "main_site": emb.main_site,
        "default_keyframe": emb.default_keyframe,
        "physics": asdict(emb.physics) | {"control_dt": emb.physics.control_dt},
        "smpl_joint_map": dict(emb.smpl_joint_map),
        "site_to_smpl": {s: j for j, s in emb.smpl_joint_map.items()},
        "touch_sensors": list(emb.touch_sensors),
        "feet": {k: list(v) for k, v in emb.feet.items()},
        "muscle_groups": {g: list(m) for g, m in emb.muscle_groups.items()},
        "forward": emb.forward,
        "task": task_defaults(emb),
    }
    return out
