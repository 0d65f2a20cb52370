"""The batched motion-imitation environment: physics backend + motion library + task terms.

All task maths runs in torch on the backend's tensors after the physics step, the same on every backend. The
step is vectorised over worlds; name -> index lookups are resolved here, at construction.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mm_sim.tasks.config import TaskConfig, TermCfg
from mm_sim.tasks.state import TaskState

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from mm_core.contracts import EmbodimentSpec, MotionClip
    from mm_sim.backends.base import BatchedSim
    from mm_sim.motion_library import MotionLibrary


def _bind(fn: Callable[..., Any], env: ImitationEnv, params: dict[str, Any]) -> Callable[[ImitationEnv], Any]:
    """A term as ``f(env)``: functions get their params bound; classes are instantiated with ``(env, **params)``."""
    return fn(env, **params) if inspect.isclass(fn) else partial(fn, **params)


class ImitationEnv:
    """``num_envs`` worlds imitating reference motions (API: docs/internals.md, "Simulation").

    Per-world episode state: ``clip (N,)``, ``frame (N,)`` (reference frame index in the clip), ``episode_length
    (N,)``, ``offset3 (N, 1, 3)`` (root xy the reference was moved by at reset). While the terms run, ``cur`` and
    ``ref`` hold the compared quantities of the state after the step and of its reference frame, each a
    :class:`~mm_sim.tasks.state.TaskState` (None between steps; call ``_features`` to fill them). The terms are
    the registered ones (``mm_*_terms`` hooks) that ``config`` names; ``terms[kind][name]`` holds each bound
    term's resolved weight and params. ``step`` publishes per-world tracking errors in ``info["tracking"]``
    (see :meth:`tracking_errors`); ``reset(clips=..., frames=...)`` gives a deterministic start.
    """

    def __init__(
        self,
        spec: EmbodimentSpec,
        motions: Sequence[MotionClip | str | Path],
        *,
        backend: str,
        num_worlds: int,
        config: TaskConfig | None = None,
        device: str | None = None,
        seed: int = 0,
        tracking: bool = True,
    ) -> None:
        import torch

        from mm_sim.backends import make_sim
        from mm_sim.motion_library import MotionLibrary

        self.spec = spec
        #: Publish ``info["tracking"]`` from :meth:`step` (evaluation); training turns it off to save the work.
        self.tracking = tracking
        self.config = copy.deepcopy(config) if config is not None else TaskConfig.for_embodiment(spec)
        self.model = m = spec.compile()
        self.sim: BatchedSim = make_sim(backend, m, num_worlds, spec.physics, device)
        self.device = self.sim.device
        self.num_envs = num_worlds
        self.num_actions = m.nu
        self.motions: MotionLibrary = MotionLibrary(motions, m, spec, self.device)
        self.free_root = spec.root == "free"
        self._lookups()
        self._bind_terms()
        self._init_episode_state(seed)
        if self.config.compile:
            self._evaluate = torch.compile(self._evaluate, dynamic=False)  # type: ignore[method-assign]
            self._reobserve = torch.compile(self._reobserve, dynamic=False)  # type: ignore[method-assign]
        self.num_obs = int(self.reset().shape[1])

    def _lookups(self) -> None:
        """Name -> index lookups into the model, once: tracked sites, activations, touch sensors, lookahead steps;
        and the reference root velocity in the root frame per frame (free roots)."""
        import mujoco
        import torch

        from mm_models.kinematics import has_free_root, site_ids

        m, spec, dev, long = self.model, self.spec, self.device, torch.long
        if self.free_root and not has_free_root(m):
            raise ValueError(
                f"embodiment {spec.name!r} says root='free' but its first joint is not a free joint"
            )
        sids = site_ids(m, spec.tracked_sites)
        self.site_id = torch.as_tensor(sids, device=dev)
        self.site_body = torch.as_tensor(m.site_bodyid[sids], device=dev)
        self.site_root = torch.as_tensor(m.body_rootid[m.site_bodyid[sids]], device=dev)
        adr = np.where(m.actuator_actadr >= 0, m.actuator_actadr + m.actuator_actnum - 1, m.na)
        self.act_index = torch.as_tensor(adr, dtype=long, device=dev)
        touch = []
        for name in spec.touch_sensors:
            sid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SENSOR, name)
            if sid < 0:
                raise ValueError(f"embodiment {spec.name!r}: touch sensor {name!r} not in the model")
            touch.append(m.sensor_adr[sid])
        self.touch_adr = torch.as_tensor(touch, dtype=long, device=dev)
        fps = 1.0 / spec.physics.control_dt
        self.lookahead_steps = torch.as_tensor([round(s * fps) for s in self.config.lookahead_s], device=dev)
        self._check_clip_lengths(fps)
        if self.free_root:  # reference root velocity in the root frame, per frame (F, 6)
            from mm_sim.rotations import quat_to_mat

            lib = self.motions
            rmat = quat_to_mat(lib.qpos[:, 3:7])
            lin = (rmat.transpose(1, 2) @ lib.qvel[:, :3].unsqueeze(2)).squeeze(2)
            self._ref_root_vel_local = torch.cat((lin, lib.qvel[:, 3:6]), 1)

    def _bind_terms(self) -> None:
        """Look up the config's terms in the registry (``mm_*_terms`` hooks; an unknown name lists the valid ones)
        and bind each as ``f(env)``: params = the record's updated by the config's, weight = the config's or, when
        None, the record's (:attr:`~mm_core.records.RewardTerm.weight`). The config itself is not modified; the
        resolved entries are in ``self.terms[kind]`` (kind: observation, reward, penalty, termination)."""
        from mm_core.registry import observation_terms, reward_terms, termination_terms

        cfg = self.config
        self.terms: dict[str, dict[str, TermCfg]] = {}
        bound: dict[str, dict[str, Callable[[ImitationEnv], Any]]] = {}
        for kind, entries, reg in (
            ("observation", cfg.observations, observation_terms),
            ("reward", cfg.rewards, reward_terms),
            ("penalty", cfg.penalties, reward_terms),
            ("termination", cfg.terminations, termination_terms),
        ):
            self.terms[kind], bound[kind] = {}, {}
            for name, t in entries.items():
                if not isinstance(t, TermCfg):
                    raise TypeError(
                        f"task config: {kind} term {name!r} is {t!r}, not a TermCfg; build the config with "
                        "TaskConfig(...), TaskConfig.from_dict or mm_sim.tasks.config.coerce_term"
                    )
                rec = reg.get(name)
                weight = t.weight if t.weight is not None else getattr(rec, "weight", None)
                resolved = TermCfg(weight=weight, params={**rec.params, **t.params})
                self.terms[kind][name] = resolved
                bound[kind][name] = _bind(rec.fn, self, resolved.params)
        self.obs_terms = bound["observation"]
        self.reward_terms, self.penalty_terms = bound["reward"], bound["penalty"]
        self.termination_terms = bound["termination"]

    def _init_episode_state(self, seed: int) -> None:
        """Per-world episode tensors (all zero until :meth:`reset`), the reset RNG and the term state slots."""
        import torch

        n, nu, dev, long = self.num_envs, self.num_actions, self.device, torch.long
        self.generator = torch.Generator(device=dev).manual_seed(seed)
        self.clip = torch.zeros(n, dtype=long, device=dev)
        self.frame = torch.zeros(n, dtype=long, device=dev)
        self.episode_length = torch.zeros(n, dtype=long, device=dev)
        self.offset3 = torch.zeros(n, 1, 3, device=dev)
        self.actions = torch.zeros(n, nu, device=dev)
        self.ctrl_action = torch.zeros(n, nu, device=dev)
        self.prev_ctrl_action = self.ctrl_action
        self.nan_resets = 0
        self._start: tuple[torch.Tensor, torch.Tensor] | None = None  # deterministic (clip, frame) per world
        self._heading_invariant = self.free_root and self.config.heading_invariant
        self.cur: TaskState | None = None
        self.ref: TaskState | None = None

    # ----------------------------------------------------------------------------------------------- features
    def _features(self) -> None:
        """Fill ``cur`` (state after the step) and ``ref`` (its reference frame), float32, world-first."""
        import torch

        from mm_sim.rotations import mat_tmul, vec_mat

        s, lib, f32 = self.sim, self.motions, torch.float32
        q, v = s.qpos.to(f32), s.qvel.to(f32)
        sp = s.site_xpos[:, self.site_id].to(f32)  # (N, S, 3)
        sm = s.site_xmat[:, self.site_id].to(f32)  # (N, S, 3, 3)
        cv = s.cvel[:, self.site_body].to(f32)  # (N, S, 6) [rot, lin] at the subtree com of the body's root
        w = cv[..., :3]
        lin = cv[..., 3:] + torch.linalg.cross(w, sp - s.subtree_com[:, self.site_root].to(f32))
        idx = lib.clip_start[self.clip] + self.frame
        rq = lib.qpos[idx]
        cur = TaskState(
            qpos=q,
            qvel=v,
            act=s.act.to(f32),
            site_pos=sp,
            site_mat=sm,
            rel_pos=sp[:, 1:] - sp[:, :1],
            rel_mat=mat_tmul(sm[:, :1], sm[:, 1:]),
            rel_linvel=lin[:, 1:] - lin[:, :1],
            rel_angvel=w[:, 1:] - w[:, :1],
        )
        ref = TaskState(
            qpos=rq,
            qvel=lib.qvel[idx],
            site_pos=lib.site_pos[idx] - self.offset3,
            site_mat=lib.site_xmat[idx],
            rel_pos=lib.rel_pos[idx],
            rel_mat=lib.rel_mat[idx],
            rel_linvel=lib.rel_linvel[idx],
            rel_angvel=lib.rel_angvel[idx],
        )
        if self.free_root:
            from mm_sim.rotations import quat_to_mat

            cur.root_pos, cur.root_quat = q[:, :3], q[:, 3:7]
            rmat = quat_to_mat(cur.root_quat)
            cur.root_vel_local = torch.cat((vec_mat(v[:, :3], rmat), v[:, 3:6]), 1)
            ref.root_pos, ref.root_quat = rq[:, :3] - self.offset3[:, 0], rq[:, 3:7]
            ref.qpos = torch.cat((ref.root_pos, rq[:, 3:]), 1)
            ref.root_vel_local = self._ref_root_vel_local[idx]
            if self._heading_invariant:
                cur.yaw = torch.atan2(rmat[:, 1, 0], rmat[:, 0, 0])
                cur.heading = (cur.yaw.cos(), cur.yaw.sin())
        self.cur, self.ref = cur, ref

    def to_heading(self, vec: torch.Tensor) -> torch.Tensor:
        """World-axis vectors (N, ..., 3) in the root's heading frame (unchanged unless heading-invariant)."""
        if not self._heading_invariant:
            return vec
        from mm_sim.rotations import yaw_inverse

        return yaw_inverse(vec, *self.cur.heading)

    def root_quat_obs(self) -> torch.Tensor:
        """Root quaternion (N, 4), with the heading removed when heading-invariant: q_yaw^-1 * q."""
        import torch

        q = self.cur.root_quat
        if not self._heading_invariant:
            return q
        half = 0.5 * self.cur.yaw
        ch, sh = half.cos(), half.sin()
        w, x, y, z = q.unbind(1)
        return torch.stack((ch * w + sh * z, ch * x + sh * y, ch * y - sh * x, ch * z - sh * w), 1)

    def root_angle_error(self) -> torch.Tensor:
        """Angle (rad) between the root orientation and the reference's (N,): root quaternion for free roots,
        main site frame otherwise."""
        from mm_sim.rotations import mat_log, mat_tmul, quat_angle

        if self.free_root:
            return quat_angle(self.cur.root_quat, self.ref.root_quat)
        return mat_log(mat_tmul(self.cur.site_mat[:, 0], self.ref.site_mat[:, 0]))[1]

    def site_rot_error(self) -> torch.Tensor:
        """Angle (rad) between each site's orientation relative to the main site and the reference's (N, S-1)."""
        from mm_sim.rotations import mat_log, mat_tmul

        return mat_log(mat_tmul(self.cur.rel_mat, self.ref.rel_mat))[1]

    def lookahead_index(self) -> torch.Tensor:
        """Global reference-frame indices (N, L) of the lookahead times, clamped to each clip's last frame."""
        lib = self.motions
        last = (lib.clip_len[self.clip] - 1).unsqueeze(1)
        local = (self.frame.unsqueeze(1) + self.lookahead_steps).minimum(last)
        return lib.clip_start[self.clip].unsqueeze(1) + local

    def _observe(self) -> torch.Tensor:
        import torch

        return torch.cat([f(self) for f in self.obs_terms.values()], 1)

    def observation_layout(self) -> dict[str, int]:
        """Observation term -> width, in order."""
        self._features()
        layout = {k: int(f(self).shape[1]) for k, f in self.obs_terms.items()}
        self.cur = self.ref = None
        return layout

    # ------------------------------------------------------------------------------------------------- reset
    def _check_clip_lengths(self, fps: float) -> None:
        """Warn about clips shorter than the lookahead (``MotionClip`` itself guarantees the 2 frames of a step)."""
        lib = self.motions
        need = int(self.lookahead_steps.max()) + 1 if len(self.lookahead_steps) else 2
        lengths = lib.clip_len.tolist()
        short = [f"{n!r} ({k} frames)" for n, k in zip(lib.clip_names, lengths, strict=True) if k < need]
        if short:
            warnings.warn(
                f"motion(s) {', '.join(short)} are shorter than the task's {need} frames ({need / fps:g} s: the "
                f"longest lookahead {max(self.config.lookahead_s):g} s + 1 frame): their episodes last at most "
                "frames - 1 control steps and their lookahead stops at their last frame; give longer clips",
                UserWarning,
                stacklevel=4,
            )

    def _start_of(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(clip, frame) (n,) for the worlds ``ids`` being reset: the deterministic start if set, else a draw."""
        if self._start is not None:
            return self._start[0][ids], self._start[1][ids]
        return self.motions.sample(int(ids.shape[0]), self.generator)

    def _reset_worlds(self, mask: torch.Tensor) -> None:
        """Reference-state init of the worlds in ``mask`` (N,): a random clip and frame (or the deterministic start
        given to :meth:`reset`), qpos/qvel from the motion, root xy at the origin (free roots), act = ctrl = 0."""
        ids = mask.nonzero().squeeze(1)
        lib = self.motions
        clip, frame = self._start_of(ids)
        idx = lib.clip_start[clip] + frame
        qpos = lib.qpos[idx]  # a copy (advanced indexing)
        if self.free_root:
            self.offset3[ids, 0, :2] = qpos[:, :2]
            qpos[:, :2] = 0
        self.sim.set_worlds(ids, qpos, lib.qvel[idx])  # state writes + forward of those worlds
        self.clip[ids], self.frame[ids] = clip, frame
        self.episode_length[ids] = 0
        self.ctrl_action[ids] = -1  # ctrl 0

    def reset(
        self,
        clips: Sequence[int | str] | torch.Tensor | None = None,
        frames: Sequence[int] | torch.Tensor | int | None = None,
    ) -> torch.Tensor:
        """Reset every world (reference-state init); returns obs (N, num_obs).

        Without arguments each world starts at a random clip (drawn by the motion weights) and frame, and so does
        every auto-reset after it. With ``clips`` and/or ``frames`` the start is deterministic: world ``i`` starts
        at frame ``frames[i]`` (default 0; an int applies to all) of clip ``clips[i]`` (a clip index or name;
        default ``i % num_clips``), and starts there again at each of its auto-resets, until the next ``reset()``
        without them. Evaluation (``mm eval``, ``mm render``, ``mm validate``) uses
        ``env.reset(clips=torch.arange(N) % env.motions.num_clips)``: world ``i`` runs clip ``i`` from its first
        frame. A start frame must leave one step: 0 <= frame <= frames in the clip - 2.
        """
        import torch

        if clips is None and frames is None:
            self._start = None
        else:
            self._start = self._deterministic_start(clips, frames)
        self._reset_worlds(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        self.prev_ctrl_action = self.ctrl_action.clone()
        return self._reobserve()

    def _deterministic_start(self, clips: Any, frames: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Checked (clip (N,), frame (N,)) tensors for :meth:`reset`."""
        import torch

        lib, n, long = self.motions, self.num_envs, torch.long
        if clips is None:
            clip = torch.arange(n, device=self.device) % lib.num_clips
        else:
            items = clips.tolist() if isinstance(clips, torch.Tensor) else list(clips)
            if len(items) != n:
                raise ValueError(
                    f"reset(clips=...): got {len(items)} clips for {n} worlds; give one per world"
                )
            index = {name: i for i, name in enumerate(lib.clip_names)}
            ids = []
            for c in items:
                if isinstance(c, str):
                    if c not in index:
                        raise ValueError(f"reset(clips=...): no clip named {c!r}; clips: {lib.clip_names}")
                    c = index[c]
                if not 0 <= int(c) < lib.num_clips:
                    raise ValueError(f"reset(clips=...): clip index {c} out of range 0..{lib.num_clips - 1}")
                ids.append(int(c))
            clip = torch.as_tensor(ids, dtype=long, device=self.device)
        if frames is None:
            frame = torch.zeros(n, dtype=long, device=self.device)
        elif isinstance(frames, int | np.integer):
            frame = torch.full((n,), frames, dtype=long, device=self.device)
        else:
            frame = torch.as_tensor(frames, dtype=long, device=self.device).reshape(-1)
            if frame.shape[0] != n:
                raise ValueError(f"reset(frames=...): got {frame.shape[0]} frames for {n} worlds")
        last = lib.clip_len[clip] - 2
        bad = ((frame < 0) | (frame > last)).nonzero().squeeze(1).tolist()
        if bad:
            i = bad[0]
            raise ValueError(
                f"reset(frames=...): world {i} starts at frame {int(frame[i])} of clip "
                f"{lib.clip_names[int(clip[i])]!r}, which has {int(lib.clip_len[clip[i]])} frames"
                f"; a start frame must be in 0..{int(last[i])} (one step must remain)"
            )
        return clip, frame

    def _reobserve(self) -> torch.Tensor:
        """Observation (N, num_obs) of the current state (after resets); compiled with ``config.compile``."""
        self._features()
        obs = self._observe()
        self.cur = self.ref = None
        return obs

    # -------------------------------------------------------------------------------------------------- step
    def tracking_errors(self) -> dict[str, torch.Tensor]:
        """Per-world tracking errors (N,) of the current state against reference frame ``frame`` (after
        :meth:`_features`; the same tensors and root offsets as the reward). ``step`` publishes them in
        ``info["tracking"]``; evaluation averages them over an episode's steps (README, "Evaluation metrics"):

        - ``site_rel_m``: mean over the non-main sites of |site position relative to the main site - reference|
          (the reference's relative site error, its ``RelSitePosition`` Euclidean distance);
        - ``site_abs_m``: mean over all tracked sites of |site position - reference| in world axes, the
          reference's root xy moved like the world's at reset (its absolute site error);
        - ``site_rel_sq_m2``, ``site_abs_sq_m2``: the same with squared distances (for RMSEs);
        - ``joint_rad``: mean |joint position - reference| over the non-root joints (rad; m for slide joints);
        - ``root_pos_m``: |root position - reference| (0 for fixed roots);
        - ``root_rot_rad``: angle between the root orientation and the reference's (main site for fixed roots).
        """
        import torch

        cur, ref = self.cur, self.ref
        rel = (cur.rel_pos - ref.rel_pos).norm(dim=-1)  # (N, S-1)
        ab = (cur.site_pos - ref.site_pos).norm(dim=-1)  # (N, S)
        if rel.shape[1] == 0:  # one tracked site: nothing relative to it
            rel = torch.zeros_like(ab)
        j = 7 if self.free_root else 0
        joint = (cur.qpos[:, j:] - ref.qpos[:, j:]).abs()
        zero = ab.new_zeros(ab.shape[0])
        return {
            "site_rel_m": rel.mean(1),
            "site_abs_m": ab.mean(1),
            "site_rel_sq_m2": rel.square().mean(1),
            "site_abs_sq_m2": ab.square().mean(1),
            "joint_rad": joint.mean(1) if joint.shape[1] else zero,
            "root_pos_m": (cur.root_pos - ref.root_pos).norm(dim=-1) if self.free_root else zero,
            "root_rot_rad": self.root_angle_error(),
        }

    def score(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Reward (N,), failure (N,) and weighted reward terms of the current state against reference frame
        ``frame`` (after :meth:`_features`); ``step`` uses it, and it scores a kinematically replayed motion."""
        import torch

        weights = self.terms["reward"]
        terms = {n: weights[n].weight * f(self) for n, f in self.reward_terms.items()}
        reward = torch.stack(list(terms.values())).sum(0) if terms else self.actions.new_zeros(self.num_envs)
        if self.penalty_terms:
            pens = {n: -self.terms["penalty"][n].weight * f(self) for n, f in self.penalty_terms.items()}
            terms.update(pens)
            reward = reward + torch.stack(list(pens.values())).sum(0).clamp_min(self.config.penalty_floor)
        failed = self.sim.nonfinite.clone()
        for f in self.termination_terms.values():
            failed |= f(self)
        return reward.clamp_min(0.0), failed, terms

    def _evaluate(self) -> tuple[Any, ...]:
        """Advance the episode counters, then features, reward, termination and observation of the state after
        the step, and the episode tensors for ``info`` (pure tensor maths, compiled with ``torch.compile`` when
        ``config.compile``: everything here becomes one graph, so it is kept free of Python branching on data).
        The tracking errors only when ``self.tracking`` (evaluation; training does not read them): each output of
        a compiled graph costs wrapper work on every call, and their maths ~1-2 us per world on a CPU."""
        self.frame += 1
        self.episode_length += 1
        self._features()
        reward, terminated, terms = self.score()
        tracking = self.tracking_errors() if self.tracking else None
        truncated = ~terminated & (
            (self.episode_length >= self.config.horizon)
            | (self.frame >= self.motions.clip_len[self.clip] - 1)
        )
        obs = self._observe()
        # cur/ref live only while the terms run: kept on self, a compiled step would have to output every tensor.
        self.cur = self.ref = None
        done = terminated | truncated
        episode = {
            "clip": self.clip.clone(),
            "frame": self.frame.clone(),
            "episode_length": self.episode_length.clone(),
        }
        return obs, reward, terminated, truncated, terms, tracking, episode, done, done.any()

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Apply actions (N, nu) in [-1, 1] (ctrl = (a + 1) / 2), step the physics, score against frame k+1.

        Returns ``obs (N, num_obs), reward (N,), terminated (N,), truncated (N,), info``; done worlds are reset
        and ``obs`` is theirs after reset, ``info["final_obs"]`` before it. ``info["tracking"]`` (when
        ``self.tracking``, the default): the per-world errors of the state after the step, before any reset
        (:meth:`tracking_errors`); ``info["frame"]``: the reference frame they compare with.
        """
        import torch

        a = torch.as_tensor(actions, device=self.device).to(torch.float32)
        if a.shape != self.actions.shape:
            raise ValueError(
                f"actions must be (num_envs, nu) = {tuple(self.actions.shape)}, got {tuple(a.shape)}"
            )
        self.actions = a
        self.prev_ctrl_action, self.ctrl_action = self.ctrl_action, a.clamp(-1.0, 1.0)
        self.sim.ctrl.copy_((self.ctrl_action + 1.0) * 0.5)
        self.sim.step()
        obs, reward, terminated, truncated, terms, tracking, episode, done, any_done = self._evaluate()
        info: dict[str, Any] = {"reward_terms": terms, **episode}
        final_obs = obs
        if bool(any_done):
            nonfinite = self.sim.nonfinite
            if bool(nonfinite.any()):
                self.nan_resets += int(nonfinite.sum())
                reward = torch.where(nonfinite, 0.0, reward)
                if tracking is not None:
                    tracking = {k: torch.where(nonfinite, 0.0, v) for k, v in tracking.items()}
                final_obs = torch.nan_to_num(obs, nan=0.0, posinf=0.0, neginf=0.0)
            self._reset_worlds(done)
            obs = self._reobserve()
        if tracking is not None:
            info["tracking"] = tracking
        info["final_obs"] = final_obs
        info["nan_resets"] = self.nan_resets
        info["overflow_count"] = self.sim.overflow_count
        return obs, reward, terminated, truncated, info

    #: Per-world episode state saved by :meth:`state_dict` besides the physics state.
    EPISODE_FIELDS = (
        "clip",
        "frame",
        "episode_length",
        "offset3",
        "actions",
        "ctrl_action",
        "prev_ctrl_action",
    )

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything the next steps depend on, to continue exactly after :meth:`load_state_dict` (e.g. a resumed
        training run): the physics state (``sim.<qpos, qvel, act, ctrl, qacc_warmstart>``), the episode state
        (:data:`EPISODE_FIELDS`), the reset RNG (``generator``), the clip sampling weights and ``nan_resets``.
        Derived quantities (sensors, actuator forces) are recomputed on load, so an observation taken right after
        loading may differ from the one before saving in those terms: keep the observation if it matters."""
        import torch

        from mm_sim.backends.base import STATE_FIELDS

        out = {f"sim.{f}": getattr(self.sim, f) for f in STATE_FIELDS}
        out.update({f: getattr(self, f) for f in self.EPISODE_FIELDS})
        out["generator"] = self.generator.get_state()
        out["motion_weights"] = self.motions.weights
        out["nan_resets"] = torch.tensor(self.nan_resets)
        return {k: v.detach().clone() for k, v in out.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore a :meth:`state_dict` of an env with the same embodiment, motions and world count."""
        from mm_sim.backends.base import STATE_FIELDS

        needed = {f"sim.{f}" for f in STATE_FIELDS} | {"generator", "motion_weights", *self.EPISODE_FIELDS}
        missing = sorted(needed - set(state))
        if missing:
            raise ValueError(f"env state lacks {missing}; it was not written by ImitationEnv.state_dict")
        for f in STATE_FIELDS:
            dst = getattr(self.sim, f)
            if state[f"sim.{f}"].shape != dst.shape:
                raise ValueError(
                    f"env state: sim.{f} is {tuple(state[f'sim.{f}'].shape)} but this env has {tuple(dst.shape)} "
                    "(another embodiment or number of worlds)"
                )
            dst.copy_(state[f"sim.{f}"])
        for f in self.EPISODE_FIELDS:
            setattr(self, f, state[f].to(getattr(self, f).device, getattr(self, f).dtype).clone())
        self.generator.set_state(state["generator"].cpu())
        self.motions.set_weights(state["motion_weights"])
        self.nan_resets = int(state.get("nan_resets", 0))
        self.sim.forward()

    def close(self) -> None:
        """Release the backend's threads (C MuJoCo); the env is unusable afterwards."""
        close = getattr(self.sim, "close", None)
        if close is not None:
            close()


def make_env(
    embodiment: str | EmbodimentSpec,
    motions: Sequence[MotionClip | str | Path],
    *,
    backend: str | None = None,
    num_worlds: int,
    config: TaskConfig | None = None,
    device: str | None = None,
    seed: int = 0,
) -> ImitationEnv:
    """An :class:`ImitationEnv` for ``embodiment`` (registry name or spec) on ``backend`` (None: ``warp`` with
    CUDA, else ``mujoco``)."""
    from mm_core import get_embodiment
    from mm_sim.backends import default_backend

    spec = get_embodiment(embodiment) if isinstance(embodiment, str) else embodiment
    return ImitationEnv(
        spec,
        motions,
        backend=backend or default_backend(),
        num_worlds=num_worlds,
        config=config,
        device=device,
        seed=seed,
    )
