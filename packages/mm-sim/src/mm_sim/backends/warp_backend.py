"""MuJoCo Warp backend: all worlds in one ``mjw.Data``, on CUDA or on Warp's CPU device.

The torch tensors are zero-copy views of the Warp arrays (``wp.to_torch``), float32. On CUDA the control step
(all substeps, then kinematics, tendons, transmission and velocities of the new state) is captured once in a CUDA
graph and replayed. Contact and constraint
budgets per world come from the embodiment (``physics.nconmax`` / ``physics.njmax``); MuJoCo Warp flags a world
that overflows them in ``d.overflow``, which is checked after every control step and reported with a warning and
:attr:`BatchedSim.overflow_count`, never silently.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from mm_sim.backends.base import DERIVED_FIELDS, STATE_FIELDS, BatchedSim

if TYPE_CHECKING:  # pragma: no cover
    import mujoco
    import torch

    from mm_core.contracts import PhysicsOptions


def warp_available() -> bool:
    try:
        import mujoco_warp  # noqa: F401
        import warp  # noqa: F401
    except ImportError:
        return False
    return True


class WarpSim(BatchedSim):
    """MuJoCo Warp worlds; ``device`` None picks ``cuda:0`` when CUDA is available, else ``cpu``."""

    name = "warp"

    def __init__(
        self, model: mujoco.MjModel, num_worlds: int, physics: PhysicsOptions, device: str | None = None
    ) -> None:
        import mujoco_warp as mjw
        import torch
        import warp as wp

        # Module-load timings are INFO level in Warp; keep them out of the user's console.
        if hasattr(wp, "LOG_WARNING"):
            wp.config.log_level = max(wp.config.log_level, wp.LOG_WARNING)
        wp.config.quiet = True
        wp.init()
        if num_worlds < 1:
            raise ValueError(f"num_worlds must be >= 1, got {num_worlds}")
        if device is None:
            device = "cuda:0" if wp.is_cuda_available() else "cpu"
        elif device.startswith("cuda") and not wp.is_cuda_available():
            raise ValueError(f"device {device!r} asked for, but Warp sees no CUDA device; use device='cpu'")
        self.model, self.num_worlds, self.substeps = model, num_worlds, physics.substeps
        self._wp, self._mjw = wp, mjw
        self._wdevice = wp.get_device(device)
        self.device = (
            torch.device("cuda", self._wdevice.ordinal) if self._wdevice.is_cuda else torch.device("cpu")
        )
        self.nconmax, self.njmax = physics.nconmax, physics.njmax
        with wp.ScopedDevice(self._wdevice):
            self.wm = mjw.put_model(model)
            # We report overflows ourselves (below); kernel printf from inside a CUDA graph is noise.
            self.wm.opt.warn_overflow = 0
            # make_data (not put_data of a forwarded MjData): the initial contacts may exceed the budget, which
            # must show up as a reported overflow, not as a construction error.
            self.wd = mjw.make_data(model, nworld=num_worlds, nconmax=physics.nconmax, njmax=physics.njmax)
        for f in STATE_FIELDS + DERIVED_FIELDS:
            setattr(self, f, wp.to_torch(getattr(self.wd, f)))
        self._overflow = wp.to_torch(self.wd.overflow)
        # Budget overflows only: the solver's iteration-limit bits are expected at 4 iterations.
        o = mjw.OverflowType
        self._budget_bits = int(o.ALL & ~(o.ITERATIONS | o.LS_ITERATIONS))
        self.nonfinite = torch.zeros(num_worlds, dtype=torch.bool, device=self.device)
        self._graphs: dict[str, Any] = {}
        self.forward()

    def _physics(self) -> None:
        for _ in range(self.substeps):
            self._mjw.step(self.wm, self.wd)

    def _control_step(self) -> None:
        # The position- and velocity-dependent quantities of the new state that the task reads (bodies, sites,
        # actuator lengths and velocities), as the C backend's batch computes them after its step.
        mjw, m, d = self._mjw, self.wm, self.wd
        self._physics()
        mjw.kinematics(m, d)
        mjw.com_pos(m, d)
        mjw.tendon(m, d)
        mjw.transmission(m, d)
        mjw.fwd_velocity(m, d)

    def _launch(self, fn: Any, graph: bool = True) -> None:
        """Run ``fn`` (Warp launches) ordered with torch's work on the device; on CUDA replay it as a CUDA graph
        (captured at the first call, keyed by the function's name)."""
        wp = self._wp
        with wp.ScopedDevice(self._wdevice):
            if not self._wdevice.is_cuda:
                fn()
                return
            import torch

            # Warp launches on its own stream: wait for torch's writes (ctrl, resets) before, and make torch's
            # stream wait for the physics after, so the zero-copy views are never read mid-step.
            torch_stream = wp.stream_from_torch(torch.cuda.current_stream(self.device))
            stream = self._wdevice.stream
            stream.wait_stream(torch_stream)
            if not graph:
                fn()
            else:
                key = fn.__name__
                if key in self._graphs:
                    wp.capture_launch(self._graphs[key])
                else:
                    fn()  # this call's step; it also compiles and loads every kernel before the capture
                    with wp.ScopedCapture(device=self._wdevice) as capture:
                        fn()  # recorded, not run
                    self._graphs[key] = capture.graph
            torch_stream.wait_stream(stream)

    def step(self) -> None:
        self._launch(self._control_step)
        q, v, a = self.qpos, self.qvel, self.act
        self.nonfinite = ~(q.isfinite().all(1) & v.isfinite().all(1) & a.isfinite().all(1))
        self._check_overflow()

    def physics_step(self) -> None:
        self._launch(self._physics)

    def _check_overflow(self) -> None:
        bad = (self._overflow & self._budget_bits) != 0
        if bool(bad.any()):
            self.overflow_count += 1
            n, flags = int(bad.sum()), int(self._overflow[bad][0])
            warnings.warn(
                f"MuJoCo Warp: {n} world(s) overflowed their budget (flags {flags:#x}: "
                f"{self._mjw.OverflowType(flags & self._budget_bits)!r}; nconmax={self.nconmax}, "
                f"njmax={self.njmax} per world); raise physics.nconmax / physics.njmax of the embodiment",
                RuntimeWarning,
                stacklevel=3,
            )
            self._overflow.zero_()

    def forward(self, worlds: torch.Tensor | None = None) -> None:
        # mjw.forward has no world mask; recomputing the others from their unchanged state is harmless.
        self._overflow[worlds if worlds is not None else slice(None)] = 0
        self._launch(self._forward, graph=False)

    def _forward(self) -> None:
        self._mjw.forward(self.wm, self.wd)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "nconmax": self.nconmax,
            "njmax": self.njmax,
            "cuda_graph": self._wdevice.is_cuda,
        }
