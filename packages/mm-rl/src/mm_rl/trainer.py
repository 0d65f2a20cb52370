"""The training loop of one run: environment, rollouts, PPO updates, metrics, checkpoints, resume, data parallelism.

Data parallel (``torchrun --nproc-per-node K -m mm_rl.train ...`` or any launcher that sets ``RANK``/
``WORLD_SIZE``): every process simulates its own worlds; gradients (averaged), advantage, observation and return
statistics and the motion sampler's counts are all-reduced, and the clock (learning-rate decay, ``--minutes``) is
rank 0's, so parameters and decisions stay identical; rank 0 writes the run directory, with every rank's RNG and
environment state.

Resume (re-running the same command on a run dir) continues exactly where the checkpoint was written: weights,
optimiser moments, normalisers, every RNG, the environment's episodes (physics state, clip, frame, episode
counters, reset RNG), the per-world discounted returns of the return normaliser and the current observations are
all restored (packages/mm-rl/README.md, "Resume").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from mm_rl import checkpoint, distributed
from mm_rl.config import TrainConfig, to_dict
from mm_rl.envs import initial_std, make_env
from mm_rl.metrics_log import MetricsLog
from mm_rl.motions import demo_clip_path, resolve_motion_paths
from mm_rl.policy import ActorCritic
from mm_rl.ppo import PPO, Rollout
from mm_rl.progress import Progress
from mm_rl.run_dir import check_same_run, write_config
from mm_rl.sampling import FailureWeightedSampler
from mm_rl.schedule import budget_updates, lr_at


class TrainError(RuntimeError):
    """Training cannot start or continue; the message says why and what to do."""


class Trainer:
    """One training run in ``run_dir`` (created, or resumed from its latest checkpoint)."""

    def __init__(
        self,
        cfg: TrainConfig,
        run_dir: Path,
        *,
        resume_from: str | Path | None = None,
        reset_std: float | None = None,
        progress: bool = True,
    ) -> None:
        from mm_core import get_embodiment

        get_embodiment(cfg.embodiment)  # an unknown name fails here, listing the valid ones
        self.cfg, self.run_dir, self.progress = cfg, Path(run_dir), progress
        self.device, self.dist = distributed.setup(cfg.device)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.resuming = self._open_run_dir()
        self.motion_paths = self._motion_paths()
        self._build()
        self._restore(resume_from, reset_std)
        self._open_outputs()

    def _open_run_dir(self) -> bool:
        """Make the run directory; True if it holds a run to continue (with the same config)."""
        resuming = bool(checkpoint.list_checkpoints(self.run_dir)) if self.run_dir.is_dir() else False
        if resuming:
            check_same_run(self.run_dir, self.cfg)
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.dist.barrier()
        return resuming

    def _motion_paths(self) -> list[Path]:
        """The configured motions, or the generated demo walk (made once, by rank 0, in the run directory)."""
        if self.cfg.motions:
            return resolve_motion_paths(self.cfg.motions)
        cache = self.run_dir / "motions"
        if self.dist.main:
            cache.mkdir(parents=True, exist_ok=True)
            demo_clip_path(self.cfg.embodiment, cache)
        self.dist.barrier()
        return [demo_clip_path(self.cfg.embodiment, cache)]

    def _build(self) -> None:
        """Seeds, the environment, the policy, PPO, the motion sampler and the counters of a new run."""
        cfg = self.cfg
        if cfg.torch_threads > 0:
            torch.set_num_threads(cfg.torch_threads)
        torch.manual_seed(cfg.seed + self.dist.rank)
        # Minibatch shuffling draws from its own generator, identical on every rank.
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        self.env = env = make_env(cfg, self.motion_paths, self.device, cfg.seed + 1000 * self.dist.rank)
        env.tracking = False  # training reads no info["tracking"]: skip computing it every step
        self.policy = ActorCritic(env.num_obs, env.num_actions, cfg.policy, initial_std(cfg)).to(self.device)
        self.ppo = PPO(self.policy, cfg.ppo, env.num_envs)
        self.sampler = FailureWeightedSampler(env.motions.num_clips, cfg.sampling)
        self.update, self.samples, self.elapsed = 0, 0, 0.0
        self.per_update = env.num_envs * cfg.ppo.num_steps * self.dist.world
        self.obs = env.reset()

    def _restore(self, resume_from: str | Path | None, reset_std: float | None) -> None:
        """Continue the run in the directory, or start from another run's weights (a fine-tune); then the same
        parameters on every rank and observation statistics from the first observations if there are none."""
        if self.resuming:
            self._load(checkpoint.resolve(self.run_dir), full=True)
        elif resume_from is not None:
            self._load(checkpoint.resolve(resume_from), full=False)
            # Only here, at the start of a fine-tune: re-running the command resumes with the trained std.
            if reset_std is not None:
                self.policy.reset_std(reset_std)
        # Identical start on every rank, whatever each one seeded.
        self.dist.broadcast_tensors(list(self.policy.parameters()) + list(self.policy.buffers()))
        if self.policy.obs_norm.count.item() == 0:
            self.policy.obs_norm.update(self.obs)

    def _open_outputs(self) -> None:
        """config.json, the metrics log and (for a new run) the step-0 checkpoint; starts the clock."""
        if self.dist.main:
            write_config(self.run_dir, self.cfg)
        self.log = (
            MetricsLog(self.run_dir / "metrics.csv", self.update if self.resuming else None)
            if self.dist.main
            else None
        )
        if not self.resuming:
            self.save_checkpoint()
        self._clock = time.perf_counter()

    def _load(self, path: Path, full: bool) -> None:
        tensors, meta = checkpoint.load(path, self.device)
        for key, want in (("num_obs", self.env.num_obs), ("num_actions", self.env.num_actions)):
            if meta.get(key) != want:
                raise TrainError(
                    f"{path}: checkpoint has {key}={meta.get(key)} but the {self.cfg.embodiment} task has {want}; "
                    "it was trained on another embodiment or task config"
                )
        if meta["config"]["policy"] != to_dict(self.cfg)["policy"] | {
            "init_std": meta["config"]["policy"]["init_std"]
        }:
            raise TrainError(
                f"{path}: network sizes differ from this config's policy.*; use the checkpoint's sizes"
            )
        self.ppo.load_state(tensors, meta["ppo"], with_optim=full)
        # Episodes start afresh (a fine-tune, an older checkpoint): so do their discounted returns.
        self.ppo.return_norm.ret.zero_()
        if not full:
            return
        self.update, self.samples, self.elapsed = meta["update"], meta["samples"], meta["elapsed"]
        rank_key = f"rng.torch.{self.dist.rank}"
        if rank_key in tensors:
            torch.set_rng_state(tensors[rank_key].cpu())
        if "rng.shuffle" in tensors:
            self.shuffle.set_state(tensors["rng.shuffle"].cpu())
        self.sampler.load_state(meta["sampler"])
        if self.cfg.sampling.adaptive:
            self.env.motions.set_weights(torch.as_tensor(self.sampler.weights(), dtype=torch.float32))
        cuda_key = f"rng.cuda.{self.dist.rank}"
        if cuda_key in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors[cuda_key].cpu(), self.device)
        prefix = f"env.{self.dist.rank}."
        env_state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if env_state and meta.get("world_size", 1) == self.dist.world:
            # The episodes go on where they were (checkpoints before this format, or written with another
            # number of processes, start new episodes instead).
            self.obs = env_state.pop("trainer.obs").to(self.device)
            self.ppo.return_norm.ret.copy_(env_state.pop("trainer.return_ret"))
            self.env.load_state_dict(env_state)

    def _rank_state(self) -> dict[str, torch.Tensor]:
        """This rank's RNGs (action sampling), environment state, current observations and per-world discounted
        returns: what an exact continuation needs besides the shared learner state."""
        out = {"rng.torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            out["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        env_state = self.env.state_dict()
        env_state["trainer.obs"] = self.obs
        env_state["trainer.return_ret"] = self.ppo.return_norm.ret
        out.update({f"env.{k}": v.detach().cpu().clone() for k, v in env_state.items()})
        return out

    def _tick(self) -> None:
        """Add the wall-clock time since the last tick to ``elapsed`` (training time, cumulative over resumes;
        rank 0's clock on every rank)."""
        now = time.perf_counter()
        self.elapsed = self.dist.from_main(self.elapsed + now - self._clock, self.device)
        self._clock = now

    def param_digests(self) -> list[str]:
        """SHA-256 of the policy's parameters and buffers on every rank (all equal when data parallelism works)."""
        import hashlib

        h = hashlib.sha256()
        for t in list(self.policy.parameters()) + list(self.policy.buffers()):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return self.dist.gather_objects(h.hexdigest())

    def save_checkpoint(self) -> Path | None:
        rank_states = self.dist.gather_objects(self._rank_state())
        digests = self.param_digests()
        if len(set(digests)) > 1:
            raise TrainError(
                f"data-parallel ranks diverged at update {self.update} (parameter digests {digests})"
            )
        if not self.dist.main:
            return None
        tensors, ppo_meta = self.ppo.state()
        for r, state in enumerate(rank_states):
            for k, v in state.items():
                head, _, rest = k.partition(".")
                # rng.torch -> rng.torch.<rank>; env.<field> -> env.<rank>.<field>
                tensors[f"{k}.{r}" if head == "rng" else f"{head}.{r}.{rest}"] = v
        tensors["rng.shuffle"] = self.shuffle.get_state()
        meta = {
            "embodiment": self.cfg.embodiment,
            "num_obs": self.env.num_obs,
            "num_actions": self.env.num_actions,
            "update": self.update,
            "samples": self.samples,
            "elapsed": self.elapsed,
            "config": to_dict(self.cfg),
            "task": to_dict(self.cfg.task),
            "motions": [str(p.resolve()) for p in self.motion_paths],
            "clip_names": list(self.env.motions.clip_names),
            "ppo": ppo_meta,
            "sampler": self.sampler.state(),
            "world_size": self.dist.world,
            "rank_param_sha256": digests,
        }
        path = checkpoint.save(self.ckpt_dir, self.update, tensors, meta)
        self._prune()
        return path

    def _prune(self) -> None:
        periodic = [
            p for p in checkpoint.list_checkpoints(self.run_dir) if not p.name.startswith("step_00000000")
        ]
        for old in periodic[: -self.cfg.keep_checkpoints]:
            old.unlink(missing_ok=True)
            old.with_suffix(".safetensors").unlink(missing_ok=True)

    # --- one update ---

    def rollout(self) -> tuple[Rollout, dict[str, float]]:
        """``num_steps`` control steps of every world with the stochastic policy.

        Statistics accumulate on the device and are read once at the end, so a GPU rollout does not wait on the
        host each step (only truncations, which are rare, gather their final observations).
        """
        env, cfg, dev = self.env, self.cfg.ppo, self.device
        T, N, C = cfg.num_steps, env.num_envs, env.motions.num_clips
        ro = Rollout.empty(T, N, env.num_obs, env.num_actions, dev)
        t_env = t_act = 0.0
        term_sums: dict[str, torch.Tensor] = {}
        ep = torch.zeros(
            3, dtype=torch.float64, device=dev
        )  # finished episodes, of which failed, their steps
        clip_episodes = torch.zeros(C, dtype=torch.float64, device=dev)
        clip_failures = torch.zeros(C, dtype=torch.float64, device=dev)
        obs = self.obs
        for t in range(T):
            t0 = time.perf_counter()
            with torch.no_grad():
                action = self.policy.distribution(obs).sample()
            t1 = time.perf_counter()
            # Raw samples: the env clips them to [-1, 1] and penalises the excess (action_out_of_range).
            next_obs, reward, terminated, truncated, info = env.step(action)
            t2 = time.perf_counter()
            t_act += t1 - t0
            t_env += t2 - t1
            ro.obs[t], ro.actions[t], ro.rewards[t] = obs, action, reward
            ro.terminated[t], ro.truncated[t] = terminated, truncated
            trunc_idx = torch.nonzero(truncated, as_tuple=False).squeeze(-1)
            if trunc_idx.numel():
                ro.final_obs.append((t, trunc_idx, info["final_obs"][trunc_idx].clone()))
            for name, val in info.get("reward_terms", {}).items():
                term_sums[name] = term_sums.get(name, 0.0) + val.float().mean()
            done, failed = (terminated | truncated).double(), terminated.double()
            ep += torch.stack([done.sum(), failed.sum(), (info["episode_length"].double() * done).sum()])
            clip_episodes.index_add_(0, info["clip"], done)
            clip_failures.index_add_(0, info["clip"], failed)
            obs = next_obs
        self.obs = obs
        ro.last_obs = obs
        counts = torch.cat([ep, clip_episodes, clip_failures])
        self.dist.all_reduce(counts)  # every rank's episodes: the sampler (and its state) is the same on all
        counts = counts.cpu()
        self.sampler.record_counts(counts[3 : 3 + C].numpy(), counts[3 + C :].numpy())
        stats = {f"reward_{k}": float(v) / T for k, v in term_sums.items()}
        stats["reward"] = float(ro.rewards.mean())
        stats.update(self._episode_stats(counts[:3]))
        stats["time_env"], stats["time_act"] = t_env, t_act
        stats["nan_resets"] = float(info.get("nan_resets", 0))
        return ro, stats

    @staticmethod
    def _episode_stats(ep: torch.Tensor) -> dict[str, float]:
        """ep: finished episodes, failed ones, their summed lengths (3,), summed over ranks."""
        n, failed, length = (float(x) for x in ep)
        return {
            "episodes": n,
            "early_termination_rate": failed / n if n else float("nan"),
            "episode_length": length / n if n else float("nan"),
        }

    def total_updates(self) -> int | None:
        return budget_updates(self.cfg, self.per_update)

    def lr_now(self) -> float:
        return lr_at(self.cfg, self.update, self.total_updates(), self.elapsed)

    def step(self) -> dict[str, float]:
        """One rollout and one PPO update; returns the logged row."""
        t0 = time.perf_counter()
        lr = self.lr_now()
        self.ppo.set_lr(lr)
        self.sampler.decay()  # older episodes count less; this rollout's count in full
        ro, stats = self.rollout()
        t1 = time.perf_counter()
        batch = self.ppo.prepare(ro)
        losses = self.ppo.update(batch, self.shuffle)
        t2 = time.perf_counter()
        if self.cfg.sampling.adaptive:
            self.env.motions.set_weights(torch.as_tensor(self.sampler.weights(), dtype=torch.float32))
        self.update += 1
        self.samples += self.per_update
        self._tick()
        total = t2 - t0
        row = {
            "update": self.update,
            "samples": self.samples,
            "elapsed_s": self.elapsed,
            "lr": lr,
            **stats,
            **losses,
            "samples_per_s": self.per_update / total,
            "time_learn": t2 - t1,
            "frac_env": stats["time_env"] / total,
            "frac_act": stats["time_act"] / total,
            "frac_learn": (t2 - t1) / total,
        }
        return row

    def done(self) -> bool:
        """The budget is spent (``elapsed`` is rank 0's, so every rank stops after the same update)."""
        total = self.total_updates()
        if total is not None and self.update >= total:
            return True
        return self.cfg.max_minutes is not None and self.elapsed >= 60 * self.cfg.max_minutes

    def run(self, on_row: Any = None) -> dict[str, Any]:
        """Train until the budget is spent; returns the last row and where things are."""
        cfg = self.cfg
        if self.total_updates() is None and cfg.max_minutes is None:
            raise TrainError(
                "no budget: give --samples, --updates or --minutes (or max_* in the config file)"
            )
        self._clock = time.perf_counter()
        last: dict[str, Any] = {}
        bar = Progress(self.total_updates(), self.update, enabled=self.progress and self.dist.main)
        with bar:
            while not self.done():
                row = self.step()
                if cfg.eval_every and self.update % cfg.eval_every == 0 and self.dist.main:
                    row.update({f"eval_{k}": v for k, v in self.evaluate().overall.items()})
                self._tick()  # evaluation time counts towards --minutes (checkpoint time: in the next update's)
                row["elapsed_s"] = self.elapsed
                if self.log is not None:
                    self.log.write(row)
                if self.update % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
                bar.advance(row)
                if on_row:
                    on_row(row)
                last = row
        if self.update % cfg.checkpoint_every != 0:
            self.save_checkpoint()
        return {"run_dir": str(self.run_dir), "update": self.update, "samples": self.samples, "last": last}

    def close(self) -> None:
        """Leave the process group (data-parallel runs) once every rank is done."""
        self.dist.close()

    def evaluate(self):
        from mm_rl.evaluate import evaluate_policy

        self.policy.eval()
        try:
            return evaluate_policy(
                self.policy, self.cfg, self.motion_paths, checkpoint=f"update {self.update}"
            )
        finally:
            self.policy.train()
