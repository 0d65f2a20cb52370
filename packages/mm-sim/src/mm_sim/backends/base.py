"""The batched-simulation interface shared by every backend.

A backend holds ``num_worlds`` copies of one ``MjModel`` and exposes their state as torch tensors, world dimension
first, with MuJoCo's field names. One :meth:`BatchedSim.step` is one *control* step: ``substeps`` physics steps
followed by a pass over the new state (kinematics, tendons, actuator transmission, velocities), so positions,
orientations and velocities of bodies and sites and ``actuator_length/velocity`` match the state after the step.
``actuator_force`` and acceleration-dependent sensors (touch) are those computed during the last physics step
(2 ms old at the training settings): recomputing them would cost a whole extra forward pass per control step.
Position- and velocity-dependent sensors in ``sensordata`` are of the new state on the C backend and of the last
physics step on Warp (the task reads only touch sensors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import mujoco
    import torch

#: Fields every backend exposes as torch tensors (world dimension first, MuJoCo's names and layouts).
STATE_FIELDS = ("qpos", "qvel", "act", "ctrl", "qacc_warmstart")
DERIVED_FIELDS = (
    "actuator_length",  # (N, nu)
    "actuator_velocity",  # (N, nu)
    "actuator_force",  # (N, nu)
    "sensordata",  # (N, nsensordata)
    "xpos",  # (N, nbody, 3)
    "xquat",  # (N, nbody, 4)
    "site_xpos",  # (N, nsite, 3)
    "site_xmat",  # (N, nsite, 3, 3)
    "cvel",  # (N, nbody, 6) com-based velocity [rot, lin]
    "subtree_com",  # (N, nbody, 3)
)


class BatchedSim:
    """``num_worlds`` worlds of one model; subclasses implement the physics.

    Attributes (torch tensors, world-first): ``qpos (N, nq)``, ``qvel (N, nv)``, ``act (N, na)``, ``ctrl (N, nu)``,
    ``qacc_warmstart (N, nv)``, and the derived fields listed in :data:`DERIVED_FIELDS`. Write state through these
    views (e.g. ``sim.ctrl[:] = u``); after changing positions or velocities of some worlds call :meth:`forward`.
    """

    name: str = ""
    model: mujoco.MjModel
    """The host model (training physics options applied)."""
    num_worlds: int
    substeps: int
    """Physics steps per control step."""
    device: torch.device
    nonfinite: torch.Tensor
    """Worlds whose state went non-finite (or that MuJoCo had to reset for bad values) in the last step (N,)."""
    overflow_count: int = 0
    """Control steps in which some world overflowed its contact / constraint budget (always 0 for C MuJoCo)."""

    qpos: torch.Tensor
    qvel: torch.Tensor
    act: torch.Tensor
    ctrl: torch.Tensor
    qacc_warmstart: torch.Tensor
    actuator_length: torch.Tensor
    actuator_velocity: torch.Tensor
    actuator_force: torch.Tensor
    sensordata: torch.Tensor
    xpos: torch.Tensor
    xquat: torch.Tensor
    site_xpos: torch.Tensor
    site_xmat: torch.Tensor
    cvel: torch.Tensor
    subtree_com: torch.Tensor

    def step(self) -> None:
        """One control step: ``substeps`` physics steps, then kinematics; updates :attr:`nonfinite`."""
        raise NotImplementedError

    def physics_step(self) -> None:
        """Only the ``substeps`` physics steps with the current ``ctrl`` (no kinematics, no checks, state tensors
        not refreshed): the raw-physics baseline of the bench."""
        raise NotImplementedError

    def forward(self, worlds: torch.Tensor | None = None) -> None:
        """Recompute all derived quantities (``mj_forward``) of ``worlds`` (bool (N,); None = all)."""
        raise NotImplementedError

    def set_worlds(self, ids: torch.Tensor, qpos: torch.Tensor, qvel: torch.Tensor) -> None:
        """Start worlds ``ids`` (long (n,), increasing) afresh at ``qpos (n, nq)``, ``qvel (n, nv)`` with ``act``,
        ``ctrl`` and ``qacc_warmstart`` 0, then :meth:`forward` them (the task's resets)."""
        import torch

        self.qpos[ids] = qpos.to(self.qpos.dtype)
        self.qvel[ids] = qvel.to(self.qvel.dtype)
        for f in (self.act, self.ctrl, self.qacc_warmstart):
            f[ids] = 0
        mask = torch.zeros(self.num_worlds, dtype=torch.bool, device=self.device)
        mask[ids] = True
        self.forward(mask)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "num_worlds": self.num_worlds, "device": str(self.device)}
