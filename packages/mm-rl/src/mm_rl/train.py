"""The training runner: environment, rollouts, PPO updates, metrics, checkpoints, resume, data parallelism.

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

import csv
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mm_rl import checkpoint
from mm_rl.config import ConfigError, TrainConfig, to_dict
from mm_rl.motions import demo_clip_path, resolve_motion_paths
from mm_rl.policy import ActorCritic
from mm_rl.ppo import PPO, Rollout
from mm_rl.sampling import FailureWeightedSampler

# Keys that may differ when re-running a command on an existing run dir (budget and bookkeeping only).
RESUMABLE_KEYS = {
    "max_samples",
    "max_updates",
    "max_minutes",
    "eval_every",
    "checkpoint_every",
    "keep_checkpoints",
}
#: Keys added after runs were made, with the behaviour those runs had: dotted key -> value. A run whose
#: config.json lacks one is compared as if it had that value.
LEGACY_DEFAULTS = {"ppo.muon_lr_scale": "match_adamw"}


def lr_at(cfg: TrainConfig, update: int, total_updates: int | None, elapsed_s: float) -> float:
    """Learning rate for PPO update ``update`` (0-based): ``ppo.lr``, decayed linearly to 0 over the update budget
    (``total_updates``) or, with only a time budget, over ``max_minutes`` of training time ``elapsed_s``."""
    if not cfg.ppo.lr_decay:
        return cfg.ppo.lr
    if total_updates:
        frac = update / total_updates
    elif cfg.max_minutes:
        frac = elapsed_s / (60 * cfg.max_minutes)
    else:
        frac = 0.0
    return cfg.ppo.lr * max(1.0 - frac, 0.0)


class TrainError(RuntimeError):
    """Training cannot start or continue; the message says why and what to do."""


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Join the process group that a launcher describes through RANK / WORLD_SIZE (no-op when absent)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


def pick_device(name: str | None, rank: int = 0) -> torch.device:
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", rank))
        return torch.device("cuda", local % torch.cuda.device_count())
    return torch.device("cpu")


def task_config(spec: Any, overrides: dict[str, Any], evaluation: bool = False) -> Any:
    """mm-sim's TaskConfig for the embodiment (its evaluation thresholds with ``evaluation``), with ``overrides``
    (dotted keys, e.g. ``horizon``, ``rewards.site_pos.weight``) applied."""
    from mm_sim.tasks import TaskConfig

    cfg = TaskConfig.for_embodiment(spec, evaluation=evaluation)
    for key, value in overrides.items():
        cfg = _replace_dotted(cfg, key.split("."), value, key)
    return cfg


def _replace_dotted(obj: Any, parts: list[str], value: Any, key: str) -> Any:
    """A copy of dataclass ``obj`` (frozen or not) with the field at ``parts`` set to ``value``."""
    if isinstance(obj, dict):
        new = dict(obj)
        new[parts[0]] = value if len(parts) == 1 else _replace_dotted(obj[parts[0]], parts[1:], value, key)
        return new
    names = [f.name for f in dataclasses.fields(obj)] if dataclasses.is_dataclass(obj) else []
    if parts[0] not in names:
        raise ConfigError(
            f"task override {key!r}: {type(obj).__name__} has no field {parts[0]!r}; fields: {names}"
        )
    if len(parts) > 1:
        value = _replace_dotted(getattr(obj, parts[0]), parts[1:], value, key)
    elif isinstance(getattr(obj, parts[0]), tuple) and isinstance(value, list):
        value = tuple(value)
    return dataclasses.replace(obj, **{parts[0]: value})


def make_env(
    cfg: TrainConfig,
    motion_paths: list[Path],
    device: torch.device,
    seed: int,
    num_worlds: int | None = None,
    evaluation: bool = False,
):
    """mm-sim's ImitationEnv for a train config (``evaluation``: the embodiment's evaluation thresholds)."""
    import mm_sim
    from mm_core import get_embodiment

    spec = get_embodiment(cfg.embodiment)
    return mm_sim.make_env(
        cfg.embodiment,
        [str(p) for p in motion_paths],
        backend=cfg.backend,
        num_worlds=num_worlds or cfg.num_worlds,
        config=task_config(spec, cfg.task, evaluation),
        device=str(device),
        seed=seed,
    )


def initial_std(cfg: TrainConfig) -> float:
    if cfg.policy.init_std is not None:
        return float(cfg.policy.init_std)
    from mm_core import get_embodiment

    return float(get_embodiment(cfg.embodiment).extras.get("initial_std", 1.0))


def _changed_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys (``ppo.lr``) whose values differ between two nested config dicts."""
    keys = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += _changed_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            keys.append(prefix + k)
    return keys


class MetricsLog:
    """metrics.csv: one row per update; the header is fixed by the first row (resume appends)."""

    def __init__(self, path: Path, resume_update: int | None) -> None:
        self.path = path
        self.columns: list[str] | None = None
        if resume_update is not None and path.is_file():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            # Rows logged after the checkpoint we resume from are replayed, so drop them.
            rows = [r for r in rows if int(float(r["update"])) <= resume_update]
            if rows:
                self.columns = list(rows[0].keys())
            from mm_core.outputs import atomic_path

            # A temporary file renamed over the old one: a kill -9 (or a full disk) here loses no row.
            with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
                if self.columns:
                    w = csv.DictWriter(f, self.columns)
                    w.writeheader()
                    w.writerows(rows)
        elif path.exists():
            path.unlink()

    def write(self, row: dict[str, Any]) -> None:
        new = self.columns is None
        if new:
            self.columns = list(row)
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, self.columns, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: row.get(k, "") for k in self.columns})


def _budget_updates(cfg: TrainConfig, per_update: int) -> int | None:
    caps = []
    if cfg.max_updates is not None:
        caps.append(cfg.max_updates)
    if cfg.max_samples is not None:
        caps.append(math.ceil(cfg.max_samples / per_update))
    return min(caps) if caps else None


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
        self.device = pick_device(cfg.device)
        self.dist = init_distributed(self.device)
        if self.device.type == "cuda" and cfg.device is None:
            self.device = pick_device(None, self.dist.rank)
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)  # NCCL's object collectives use the current device
        self.ckpt_dir = self.run_dir / "checkpoints"

        existing = checkpoint.list_checkpoints(self.run_dir) if self.run_dir.is_dir() else []
        self.resuming = bool(existing)
        if self.resuming:
            self._check_same_run()
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self._barrier()

        if cfg.motions:
            self.motion_paths = resolve_motion_paths(cfg.motions)
        else:
            cache = self.run_dir / "motions"
            if self.dist.main:
                cache.mkdir(parents=True, exist_ok=True)
                demo_clip_path(cfg.embodiment, cache)
            self._barrier()
            self.motion_paths = [demo_clip_path(cfg.embodiment, cache)]

        if cfg.torch_threads > 0:
            torch.set_num_threads(cfg.torch_threads)
        torch.manual_seed(cfg.seed + self.dist.rank)
        # Minibatch shuffling draws from its own generator, identical on every rank.
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        self.env = make_env(cfg, self.motion_paths, self.device, cfg.seed + 1000 * self.dist.rank)
        env = self.env
        self.policy = ActorCritic(env.num_obs, env.num_actions, cfg.policy, initial_std(cfg)).to(self.device)
        self.ppo = PPO(self.policy, cfg.ppo, env.num_envs)
        self.sampler = FailureWeightedSampler(env.motions.num_clips, cfg.sampling)
        self.update = 0
        self.samples = 0
        self.elapsed = 0.0
        self.per_update = env.num_envs * cfg.ppo.num_steps * self.dist.world

        self.obs = env.reset()
        if self.resuming:
            self._load(checkpoint.resolve(self.run_dir), full=True)
        elif resume_from is not None:
            self._load(checkpoint.resolve(resume_from), full=False)
            # Only here, at the start of a fine-tune: re-running the command resumes with the trained std.
            if reset_std is not None:
                self.policy.reset_std(reset_std)
        if self.dist.world > 1:  # identical start on every rank, whatever each one seeded
            import torch.distributed as dist

            for t in list(self.policy.parameters()) + list(self.policy.buffers()):
                dist.broadcast(t.data, 0)

        if self.policy.obs_norm.count.item() == 0:
            self.policy.obs_norm.update(self.obs)
        if self.dist.main:
            from mm_core.outputs import atomic_path

            with atomic_path(self.run_dir / "config.json") as tmp:  # a kill -9 never leaves half a config
                tmp.write_text(json.dumps(to_dict(cfg), indent=2))
        self.log = (
            MetricsLog(self.run_dir / "metrics.csv", self.update if self.resuming else None)
            if self.dist.main
            else None
        )
        if not self.resuming:
            self.save_checkpoint()
        self._clock = time.perf_counter()

    def _barrier(self) -> None:
        import torch.distributed as dist

        if self.dist.world > 1:
            dist.barrier()

    def _check_same_run(self) -> None:
        saved = self.run_dir / "config.json"
        if not saved.is_file():
            return
        old = json.loads(saved.read_text())
        legacy = []
        for dotted, value in LEGACY_DEFAULTS.items():
            section, key = dotted.split(".")
            if isinstance(old.get(section), dict) and key not in old[section]:
                old[section][key] = value
                legacy.append(dotted)
        new = to_dict(self.cfg)
        diff = [k for k in _changed_keys(old, new) if k.split(".")[0] not in RESUMABLE_KEYS]
        if diff:
            hint = "".join(
                f"; the run predates {k} and was trained with {LEGACY_DEFAULTS[k]!r}: add --set "
                f"{k}={LEGACY_DEFAULTS[k]} to continue it"
                for k in legacy
                if k in diff
            )
            raise TrainError(
                f"{self.run_dir} holds a run with a different config ({', '.join(diff)} differ); to continue it "
                f"re-run the same command, to fine-tune from it use a new --run-dir with --resume-from{hint}"
            )

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

    def _gather_rank_states(self) -> list[dict[str, torch.Tensor]]:
        state = self._rank_state()
        if self.dist.world == 1:
            return [state]
        import torch.distributed as dist

        states: list[Any] = [None] * self.dist.world
        dist.all_gather_object(states, state)
        return states

    def _from_main(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (decisions taken from a clock must agree across ranks)."""
        if self.dist.world == 1:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(t, 0)
        return float(t.item())

    def _tick(self) -> None:
        """Add the wall-clock time since the last tick to ``elapsed`` (training time, cumulative over resumes;
        rank 0's clock on every rank)."""
        now = time.perf_counter()
        self.elapsed = self._from_main(self.elapsed + now - self._clock)
        self._clock = now

    def param_digests(self) -> list[str]:
        """SHA-256 of the policy's parameters and buffers on every rank (all equal when data parallelism works)."""
        import hashlib

        h = hashlib.sha256()
        for t in list(self.policy.parameters()) + list(self.policy.buffers()):
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        if self.dist.world == 1:
            return [h.hexdigest()]
        import torch.distributed as dist

        out: list[Any] = [None] * self.dist.world
        dist.all_gather_object(out, h.hexdigest())
        return out

    def save_checkpoint(self) -> Path | None:
        rank_states = self._gather_rank_states()
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
            "task": self.cfg.task,
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
        if self.dist.world > 1:  # every rank's episodes: the sampler (and its saved state) is the same on all
            import torch.distributed as dist

            dist.all_reduce(counts)
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
        return _budget_updates(self.cfg, self.per_update)

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
        bar = _Progress(self.total_updates(), self.update, enabled=self.progress and self.dist.main)
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
        import torch.distributed as dist

        if self.dist.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def evaluate(self):
        from mm_rl.evaluate import evaluate_policy

        self.policy.eval()
        try:
            return evaluate_policy(
                self.policy, self.cfg, self.motion_paths, checkpoint=f"update {self.update}"
            )
        finally:
            self.policy.train()


class _Progress:
    """A rich progress bar with live figures (or nothing, for --json and non-zero ranks)."""

    def __init__(self, total: int | None, start: int, enabled: bool) -> None:
        self.enabled, self.total, self.start = enabled, total, start
        self.progress: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[figures]}"),
                transient=False,
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("train", total=self.total, completed=self.start, figures="")
        return self

    def advance(self, row: dict[str, Any]) -> None:
        if self.progress is None:
            return
        figures = (
            f"reward {row['reward']:.3f}  ET {row['early_termination_rate']:.2f}  "
            f"ep.len {row['episode_length']:.0f}  {row['samples_per_s']:.0f} samples/s"
        )
        self.progress.update(self.task, advance=1, figures=figures)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


def main(argv: list[str] | None = None) -> None:
    """``python -m mm_rl.train`` / ``torchrun ... -m mm_rl.train``: the same options as ``mm train``."""
    from mm_rl.cli import train_app

    train_app(argv)


if __name__ == "__main__":
    main()
