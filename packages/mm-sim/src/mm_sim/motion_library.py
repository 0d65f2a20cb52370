"""Many reference motions on the device: concatenated frames, per-clip offsets and sampling weights.

Site poses and velocities are recomputed from each clip's qpos/qvel by forward kinematics on the simulated model,
so the reference is exactly what the simulation would show in the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mm_sim.motion import joint_names, site_ids, site_kinematics

if TYPE_CHECKING:  # pragma: no cover
    import mujoco
    import torch

    from mm_core.contracts import EmbodimentSpec, MotionClip


class MotionLibrary:
    """Clips of one embodiment on ``device`` (float32).

    Frame-indexed tensors (F = total frames): ``qpos (F, nq)``, ``qvel (F, nv)``, ``site_pos (F, S, 3)``,
    ``site_xmat (F, S, 3, 3)``, ``site_linvel``/``site_angvel (F, S, 3)`` (world frame), and relative to the main
    site: ``rel_pos (F, S-1, 3)``, ``rel_mat (F, S-1, 3, 3)`` (R_main^T R_site), ``rel_linvel``/``rel_angvel
    (F, S-1, 3)`` (world axes). Per clip: ``clip_start (C,)``, ``clip_len (C,)`` frames, ``weights (C,)``.
    """

    def __init__(
        self,
        clips: Sequence[MotionClip | str | Path],
        model: mujoco.MjModel,
        spec: EmbodimentSpec,
        device: torch.device | str = "cpu",
    ) -> None:
        import torch

        loaded = _load_clips(clips, model, spec)
        self.device = torch.device(device)
        self.clip_names = [c.name or f"clip{i}" for i, c in enumerate(loaded)]
        self.sources = [c.source for c in loaded]
        self.num_clips = len(loaded)
        lengths = np.array([c.num_frames for c in loaded])
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        qpos = np.concatenate([c.qpos for c in loaded])
        qvel = np.concatenate([c.qvel for c in loaded])
        self._set_frames(qpos, qvel, site_kinematics(model, qpos, qvel, site_ids(model, spec.tracked_sites)))
        self.clip_start, self.clip_len = self._tensor(starts, torch.long), self._tensor(lengths, torch.long)
        self.weights = torch.ones(self.num_clips, device=self.device)
        self.num_frames = int(lengths.sum())

    def _tensor(self, x: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        import torch

        return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype or torch.float32, device=self.device)

    def _set_frames(self, qpos: np.ndarray, qvel: np.ndarray, kin: dict[str, np.ndarray]) -> None:
        """The frame-indexed tensors from the concatenated ``qpos``/``qvel`` and their site kinematics."""
        t = self._tensor
        main_mat = kin["xmat"][:, :1]
        self.qpos, self.qvel = t(qpos), t(qvel)
        self.site_pos, self.site_xmat = t(kin["pos"]), t(kin["xmat"])
        self.site_linvel, self.site_angvel = t(kin["linvel"]), t(kin["angvel"])
        self.rel_pos = t(kin["pos"][:, 1:] - kin["pos"][:, :1])
        self.rel_mat = t(np.swapaxes(main_mat, -1, -2) @ kin["xmat"][:, 1:])
        self.rel_linvel = t(kin["linvel"][:, 1:] - kin["linvel"][:, :1])
        self.rel_angvel = t(kin["angvel"][:, 1:] - kin["angvel"][:, :1])

    def set_weights(self, weights: torch.Tensor | np.ndarray | Sequence[float]) -> None:
        """Sampling weights (C,) of the clips for reference-state init (normalised; >= 0, not all 0)."""
        import torch

        w = torch.as_tensor(weights, dtype=torch.float32, device=self.device).reshape(-1)
        if w.shape[0] != self.num_clips:
            raise ValueError(f"set_weights: got {w.shape[0]} weights for {self.num_clips} clips")
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"set_weights: weights must be finite, >= 0 and not all 0, got {w.tolist()[:8]}")
        self.weights = w / w.sum()

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random (clip (n,), frame (n,)) with clips drawn by weight and frames uniform in [0, len - 2]."""
        import torch

        clip = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        u = torch.rand(n, device=self.device, generator=generator)
        frame = (u * (self.clip_len[clip] - 1).float()).long().clamp(max=self.clip_len[clip] - 2)
        return clip, frame


def _load_clips(
    clips: Sequence[MotionClip | str | Path], model: mujoco.MjModel, spec: EmbodimentSpec
) -> list[MotionClip]:
    """``clips`` loaded (paths via ``MotionClip.load``) and checked against ``spec``: embodiment, qpos/qvel
    widths, joint names and frame rate (the task's control rate)."""
    from mm_core.contracts import MotionClip

    if not clips:
        raise ValueError(
            f"no motions given for embodiment {spec.name!r}; pass at least one MotionClip or .npz path"
        )
    loaded = [c if isinstance(c, MotionClip) else MotionClip.load(c) for c in clips]
    control_fps = 1.0 / spec.physics.control_dt
    names = joint_names(model)
    for i, c in enumerate(loaded):
        where = f"motion {i} ({c.name or c.source or 'unnamed'})"
        if c.embodiment and c.embodiment != spec.name:
            raise ValueError(f"{where} was made for embodiment {c.embodiment!r}, not {spec.name!r}")
        if c.qpos.shape[1] != model.nq or c.qvel.shape[1] != model.nv:
            raise ValueError(
                f"{where}: qpos/qvel are (T, {c.qpos.shape[1]})/(T, {c.qvel.shape[1]}) but {spec.name!r} has "
                f"nq={model.nq}, nv={model.nv}; retarget it onto this embodiment"
            )
        if c.joint_names and tuple(c.joint_names) != names:
            raise ValueError(f"{where}: joint_names differ from the model's joints of {spec.name!r}")
        if abs(c.fps - control_fps) > 1e-6 * control_fps:
            raise ValueError(
                f"{where}: fps is {c.fps:g} but the task runs at {control_fps:g} Hz (timestep x substeps); "
                f"resample the clip to {control_fps:g} fps"
            )
    return loaded
