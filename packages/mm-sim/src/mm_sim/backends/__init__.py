"""Batched physics backends: ``warp`` (MuJoCo Warp) and ``mujoco`` (C MuJoCo, ``mujoco.batch`` on C threads).

Both return a :class:`~mm_sim.backends.base.BatchedSim`; pick one by name with :func:`make_sim`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from mm_sim.backends.base import BatchedSim


def make_sim(name: str, model: Any, num_worlds: int, physics: Any, device: str | None = None) -> BatchedSim:
    """The backend registered under ``name`` (``mm_sim_backends`` hook), built for ``num_worlds`` worlds."""
    from mm_core import get_sim_backend

    backend = get_sim_backend(name)
    if not backend.is_available():
        raise RuntimeError(
            f"simulation backend {name!r} is not available on this machine ({backend.description})"
        )
    return backend.factory(model, num_worlds, physics, device)


def default_backend() -> str:
    """``warp`` when CUDA is present, else ``mujoco``."""
    import torch

    return "warp" if torch.cuda.is_available() else "mujoco"
