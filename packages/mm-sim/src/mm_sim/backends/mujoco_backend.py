"""C MuJoCo backend: all worlds in one ``mujoco.batch.Batch`` (MuJoCo >= 4.0), stepped on its C thread pool.

One control step is one C call for all worlds (``mjb_step``: ``substeps`` x ``mj_step``, then the position and
velocity stages at the new state), with no per-world Python and the GIL released. The batch keeps one ``MjData``
per world (``persistent``), so the stages computed after the step are the ones the next ``mj_step`` starts from:
the kinematics pass costs nothing extra. The torch tensors share memory with the batch: state fields (``qpos``,
``ctrl``, ...) are strided views of its state rows (a write is the world's state at the next call), derived fields
views of the buffers it copies out after every call. Results are bit-identical to a loop of ``mj_step`` over one
``MjData`` per world, at any thread count.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from mm_sim.backends.base import DERIVED_FIELDS, STATE_FIELDS, BatchedSim

if TYPE_CHECKING:  # pragma: no cover
    import mujoco
    import torch

    from mm_core.contracts import PhysicsOptions


def default_threads(num_worlds: int) -> int:
    """One thread per CPU this process may run on (the caller's included), at most one per world."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(num_worlds, cpus))


class MujocoSim(BatchedSim):
    """C MuJoCo worlds; ``device`` is always the CPU (tensors are float64, like MuJoCo).

    ``num_threads``: threads of the batch, the calling thread included (None: :func:`default_threads`).
    """

    name = "mujoco"

    def __init__(
        self,
        model: mujoco.MjModel,
        num_worlds: int,
        physics: PhysicsOptions,
        device: str | None = None,
        num_threads: int | None = None,
    ) -> None:
        import mujoco
        import torch

        if device not in (None, "cpu"):
            raise ValueError(
                f"the 'mujoco' backend runs on the CPU only, got device={device!r}; use backend 'warp'"
            )
        if num_worlds < 1:
            raise ValueError(f"num_worlds must be >= 1, got {num_worlds}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 (or None for one per CPU), got {num_threads}")
        try:
            from mujoco.batch import Batch
        except ImportError as e:  # pragma: no cover - the dependency pins mujoco >= 4.0
            raise RuntimeError(
                f"the 'mujoco' backend needs mujoco >= 4.0 (mujoco.batch), found {mujoco.__version__}; "
                "upgrade it with `uv sync` or `pip install -U mujoco`"
            ) from e
        self.model, self.num_worlds, self.substeps = model, num_worlds, physics.substeps
        self.device = torch.device("cpu")
        self.num_threads = num_threads or default_threads(num_worlds)
        self.batch = Batch(model, num_worlds, nthread=self.num_threads, persistent=True)
        self._stage_vel = int(mujoco.mjtStage.mjSTAGE_VEL)
        for f in STATE_FIELDS + DERIVED_FIELDS:
            arr = self.batch.bind(f)
            if f not in STATE_FIELDS:
                # Outputs are read-only to numpy (a write is lost at the next call); torch has no such flag.
                arr.flags.writeable = True
            if f == "site_xmat":
                arr = arr.reshape(num_worlds, model.nsite, 3, 3)
            setattr(self, f, torch.from_numpy(arr))
        self._state = {f: self.batch.bind(f) for f in STATE_FIELDS}  # numpy views of the state rows
        w = mujoco.mjtWarning
        bad = [int(w.mjWARN_BADQPOS), int(w.mjWARN_BADQVEL), int(w.mjWARN_BADQACC)]
        # consecutive in mjtWarning: a slice reads them without numpy's fancy-indexing copy (~4 us per step)
        self._bad: slice | list[int] = (
            slice(bad[0], bad[-1] + 1) if bad == list(range(bad[0], bad[-1] + 1)) else bad
        )
        self._nonfinite = np.zeros(num_worlds, dtype=bool)
        self.nonfinite = torch.from_numpy(self._nonfinite)
        self.forward()
        self._warn_count = self._bad_warnings()

    def _bad_warnings(self) -> np.ndarray:
        """Bad-value warnings counted per world so far (N,); the batch's counters are (N, mjNWARNING, [lastinfo,
        number]), updated by every call."""
        return self.batch.warning[:, self._bad, 1].sum(1)

    def _check_bad_values(self) -> None:
        # MuJoCo resets a world whose qpos/qvel/qacc went bad and counts a warning: that is our signal.
        count = self._bad_warnings()
        np.not_equal(count, self._warn_count, out=self._nonfinite)
        self._warn_count = count

    def step(self) -> None:
        self.batch.step(nstep=self.substeps, stage=self._stage_vel)
        self._check_bad_values()

    def physics_step(self) -> None:
        self.batch.step(nstep=self.substeps)

    def forward(self, worlds: torch.Tensor | None = None) -> None:
        ids = None if worlds is None else np.flatnonzero(worlds.cpu().numpy())
        self.batch.forward(ids)

    def set_worlds(self, ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        # numpy writes into the state rows: a few us each where torch's indexed writes cost 3-8 us.
        i, st = ids.numpy(), self._state
        st["qpos"][i], st["qvel"][i] = qpos.numpy(), qvel.numpy()
        for f in ("act", "ctrl", "qacc_warmstart"):
            st[f][i] = 0
        self.batch.forward(i)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "threads": self.num_threads}

    def close(self) -> None:
        """Nothing to release early: the batch's threads stop when it is garbage-collected."""
