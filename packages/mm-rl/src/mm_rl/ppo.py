"""PPO in one readable module: rollout storage, GAE with truncation bootstrapping, the clipped update.

A rollout is ``T`` control steps of ``N`` worlds. Episodes end in two ways that GAE must tell apart:
``terminated`` (failure: the future is worth nothing) and ``truncated`` (time limit or end of motion: the future
is worth the value of the true next state, ``info["final_obs"]``, not of the reset state that follows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mm_rl.config import PPOConfig
from mm_rl.policy import ActorCritic, RunningNorm


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    bootstrap: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation.

    rewards: reward of step t (T, N); values: V(s_t) (T, N); dones: episode ended at step t, terminated or
    truncated (T, N) bool; bootstrap: V(true next state) where step t was truncated, else 0 (T, N);
    last_value: V(s_T), the state after the last step (N,). Returns advantages (T, N), returns (T, N).
    """
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    gae = torch.zeros_like(last_value)
    not_done = (~dones).to(rewards.dtype)
    for t in reversed(range(T)):
        next_value = last_value if t == T - 1 else values[t + 1]
        # Within an episode bootstrap from the next stored state; at a truncation from the true final state
        # (``bootstrap``); at a termination from nothing. The GAE trace never crosses an episode boundary.
        target = rewards[t] + gamma * (not_done[t] * next_value + bootstrap[t])
        delta = target - values[t]
        gae = delta + gamma * lam * not_done[t] * gae
        adv[t] = gae
    return adv, adv + values


@dataclass
class Rollout:
    """One rollout of ``T`` steps over ``N`` worlds (raw observations; the policy normalises them)."""

    obs: torch.Tensor
    """Observations before each step (T, N, num_obs)."""
    actions: torch.Tensor
    """Sampled (unclipped) actions (T, N, num_actions)."""
    rewards: torch.Tensor
    """Raw task rewards (T, N)."""
    terminated: torch.Tensor
    """Failure at step t (T, N) bool."""
    truncated: torch.Tensor
    """Time limit / end of motion at step t (T, N) bool."""
    last_obs: torch.Tensor | None = None
    """Observation after the last step (N, num_obs)."""
    final_obs: list[tuple[int, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    """(t, world indices (K,), true next observations (K, num_obs)) for worlds truncated at step t."""

    @classmethod
    def empty(cls, T: int, N: int, num_obs: int, num_actions: int, device: torch.device) -> Rollout:
        z = dict(device=device)
        return cls(
            obs=torch.zeros(T, N, num_obs, **z),
            actions=torch.zeros(T, N, num_actions, **z),
            rewards=torch.zeros(T, N, **z),
            terminated=torch.zeros(T, N, dtype=torch.bool, **z),
            truncated=torch.zeros(T, N, dtype=torch.bool, **z),
        )


class ReturnNorm(nn.Module):
    """Scales rewards by the running std of the discounted return (saved in checkpoints, unlike the reference).

    Buffers: ``ret (N,)`` the discounted return accumulated per world, plus a :class:`RunningNorm` of it.
    """

    def __init__(self, num_envs: int, gamma: float) -> None:
        super().__init__()
        self.gamma = gamma
        self.stats = RunningNorm(1)
        self.register_buffer("ret", torch.zeros(num_envs, dtype=torch.float64))

    @torch.no_grad()
    def __call__(self, rewards: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        """rewards, dones (T, N) -> scaled rewards (T, N); updates the statistics with this rollout."""
        rets = torch.empty_like(rewards, dtype=torch.float64)
        ret = self.ret.to(rewards.device)
        for t in range(rewards.shape[0]):
            ret = ret * self.gamma + rewards[t].to(torch.float64)
            rets[t] = ret
            ret = ret * (~dones[t]).to(torch.float64)
        self.ret.copy_(ret)
        self.stats.update(rets.reshape(-1))
        return (rewards / self.stats.std.to(rewards.dtype)).to(rewards.dtype)


def make_optimizers(policy: nn.Module, cfg: PPOConfig) -> list[torch.optim.Optimizer]:
    """Muon for 2-D weights, Adam for the rest (biases, LayerNorm, log-std)."""
    matrices = [p for p in policy.parameters() if p.ndim == 2]
    others = [p for p in policy.parameters() if p.ndim != 2]
    if not cfg.muon:
        return [torch.optim.Adam(list(policy.parameters()), lr=cfg.lr, eps=1e-5)]
    from mm_rl.muon import make_muon

    return [make_muon(matrices, cfg.lr, cfg.muon_lr_scale), torch.optim.Adam(others, lr=cfg.lr, eps=1e-5)]


class PPO:
    """Holds the policy, optimisers and reward normaliser; turns rollouts into updates."""

    def __init__(self, policy: ActorCritic, cfg: PPOConfig, num_envs: int) -> None:
        self.policy, self.cfg = policy, cfg
        self.optimizers = make_optimizers(policy, cfg)
        self.return_norm = ReturnNorm(num_envs, cfg.gamma).to(next(policy.parameters()).device)
        self.skipped_updates = 0
        """Minibatch updates skipped because the loss or a gradient was not finite."""

    def set_lr(self, lr: float) -> None:
        for opt in self.optimizers:
            for g in opt.param_groups:
                g["lr"] = lr

    @torch.no_grad()
    def prepare(self, ro: Rollout) -> dict[str, torch.Tensor]:
        """Update normalisers with the rollout, then values, log-probs, advantages and returns under them.

        Recomputing old log-probs and values after the normaliser update makes the first ratio exactly 1.
        Returns the flattened batch: obs, actions, logp, values, advantages, returns (B = T * N leading).
        """
        T, N = ro.rewards.shape
        self.policy.obs_norm.update(ro.obs.reshape(T * N, -1))
        dones = ro.terminated | ro.truncated
        rewards = self.return_norm(ro.rewards, dones) if self.cfg.normalize_reward else ro.rewards
        flat_obs = ro.obs.reshape(T * N, -1)
        flat_act = ro.actions.reshape(T * N, -1)
        logp = torch.cat(
            [self.policy.distribution(o).log_prob(a).sum(-1) for o, a in _chunks(flat_obs, flat_act)]
        )
        values = torch.cat([self.policy.value(o) for o, _ in _chunks(flat_obs, flat_act)]).reshape(T, N)
        bootstrap = torch.zeros_like(rewards)
        for t, idx, fobs in ro.final_obs:
            # Only truncations that are not also failures bootstrap (a failure's future is worth nothing).
            keep = ~ro.terminated[t, idx]
            bootstrap[t, idx[keep]] = self.policy.value(fobs[keep])
        assert ro.last_obs is not None
        last_value = self.policy.value(ro.last_obs)
        adv, ret = compute_gae(rewards, values, dones, bootstrap, last_value, self.cfg.gamma, self.cfg.lam)
        return dict(
            obs=flat_obs,
            actions=flat_act,
            logp=logp,
            values=values.reshape(-1),
            advantages=adv.reshape(-1),
            returns=ret.reshape(-1),
        )

    def loss(self, mb: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The PPO loss of one minibatch (keys as :meth:`prepare` returns) and its parts (detached).

        Advantages are normalised over the minibatch (on every data-parallel rank together); the policy loss is
        the clipped surrogate, the value loss clipped around the rollout's values (``value_clip > 0``).
        """
        cfg = self.cfg
        adv = normalise_advantages(mb["advantages"])
        logp, ent, v = self.policy.evaluate(mb["obs"], mb["actions"])
        log_ratio = logp - mb["logp"]
        ratio = log_ratio.exp()
        pg_loss = clipped_surrogate(ratio, adv, cfg.clip)
        v_loss = value_loss(v, mb["values"], mb["returns"], cfg.value_clip)
        loss = pg_loss + cfg.value_coef * v_loss - cfg.entropy_coef * ent.mean()
        with torch.no_grad():
            parts = {
                "policy_loss": pg_loss.detach(),
                "value_loss": v_loss.detach(),
                "entropy": ent.mean(),
                "approx_kl": ((ratio - 1) - log_ratio).mean(),
                "clip_frac": ((ratio - 1).abs() > cfg.clip).float().mean(),
            }
        return loss, parts

    def update(
        self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> dict[str, float]:
        """Clipped PPO over ``epochs`` x ``num_minibatches``; returns mean losses and diagnostics."""
        cfg, policy = self.cfg, self.policy
        B = batch["obs"].shape[0]
        mb = B // cfg.num_minibatches
        params = [p for p in policy.parameters() if p.requires_grad]
        stats: dict[str, list[float]] = {
            k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac")
        }
        grad_norms: list[float] = []
        for _ in range(cfg.epochs):
            perm = torch.randperm(B, generator=generator, device="cpu").to(batch["obs"].device)
            for i in range(cfg.num_minibatches):
                idx = perm[i * mb : (i + 1) * mb]
                loss, parts = self.loss({k: v[idx] for k, v in batch.items()})
                for opt in self.optimizers:
                    opt.zero_grad(set_to_none=False)
                loss.backward()
                grads = [p.grad for p in params]
                _average_grads(grads)
                total_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                # Every rank sees the same averaged gradients, so all skip (or step) together.
                if not torch.isfinite(total_norm) or not torch.isfinite(loss):
                    self.skipped_updates += 1
                    continue
                for opt in self.optimizers:
                    opt.step()
                grad_norms.append(float(total_norm))
                for k, v in parts.items():
                    stats[k].append(float(v))
        out = _mean_over_ranks({k: (sum(v) / len(v) if v else float("nan")) for k, v in stats.items()})
        out["grad_norm"] = sum(grad_norms) / len(grad_norms) if grad_norms else float("nan")
        with torch.no_grad():
            ret, val = batch["returns"], batch["values"]
            var = ret.var()
            out["explained_variance"] = float(1 - (ret - val).var() / var) if var > 0 else float("nan")
            out["action_std"] = float(policy.log_std.exp().mean())
        out["skipped_updates"] = float(self.skipped_updates)
        return out

    # --- state for checkpoints (tensors go to safetensors, the rest to JSON) ---

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        for k, v in self.policy.state_dict().items():
            tensors[f"policy.{k}"] = v
        for k, v in self.return_norm.state_dict().items():
            tensors[f"return_norm.{k}"] = v
        meta: dict[str, Any] = {"skipped_updates": self.skipped_updates, "optimizers": []}
        for i, opt in enumerate(self.optimizers):
            sd = opt.state_dict()
            opt_meta: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
            for pid, st in sd["state"].items():
                opt_meta["state"][str(pid)] = {}
                for name, val in st.items():
                    if isinstance(val, torch.Tensor):
                        tensors[f"optim.{i}.{pid}.{name}"] = val
                        opt_meta["state"][str(pid)][name] = "tensor"
                    else:
                        opt_meta["state"][str(pid)][name] = val
            meta["optimizers"].append(opt_meta)
        return tensors, meta

    def load_state(
        self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], with_optim: bool = True
    ) -> None:
        self.policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
        rn = {k[12:]: v for k, v in tensors.items() if k.startswith("return_norm.")}
        if rn and rn["ret"].shape == self.return_norm.ret.shape:
            self.return_norm.load_state_dict(rn)
        elif rn:  # another world count (fine-tuning on a different setup): keep the statistics only
            self.return_norm.stats.load_state_dict(
                {k[6:]: v for k, v in rn.items() if k.startswith("stats.")}
            )
        if not with_optim:
            return
        self.skipped_updates = int(meta.get("skipped_updates", 0))
        for i, (opt, om) in enumerate(zip(self.optimizers, meta["optimizers"], strict=True)):
            state = {}
            for pid, st in om["state"].items():
                state[int(pid)] = {
                    name: (tensors[f"optim.{i}.{pid}.{name}"] if val == "tensor" else val)
                    for name, val in st.items()
                }
            opt.load_state_dict({"state": state, "param_groups": om["param_groups"]})


def clipped_surrogate(ratio: torch.Tensor, adv: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's policy loss: mean of max(-A r, -A clip(r, 1 - clip, 1 + clip)) over ratios r and advantages A (B,)."""
    return torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()


def value_loss(v: torch.Tensor, old_v: torch.Tensor, ret: torch.Tensor, clip: float) -> torch.Tensor:
    """0.5 * mean squared error of values v (B,) to returns; with ``clip > 0`` the larger (pessimistic) of the
    error of v and of v kept within +- clip of the rollout's values old_v."""
    err = (v - ret) ** 2
    if clip > 0:
        v_clipped = old_v + (v - old_v).clamp(-clip, clip)
        err = torch.max(err, (v_clipped - ret) ** 2)
    return 0.5 * err.mean()


def normalise_advantages(adv: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(adv - mean) / (std + eps) with the mean and (unbiased) std of the minibatch over all data-parallel ranks,
    so K processes compute what one process would on their K minibatches together."""
    from mm_rl.policy import _all_reduce_

    a = adv.to(torch.float64)
    sums = torch.stack([a.new_tensor(float(a.numel())), a.sum(), (a * a).sum()])
    _all_reduce_(sums)
    n, s, ss = sums.unbind()
    mean = s / n
    std = ((ss - n * mean * mean).clamp_min(0.0) / (n - 1).clamp_min(1.0)).sqrt()
    return ((a - mean) / (std + eps)).to(adv.dtype)


def _mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Each figure's mean over data-parallel ranks (every rank's minibatches are the same size)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(values, (t / dist.get_world_size()).tolist(), strict=True))


def _average_grads(grads: list[torch.Tensor | None]) -> None:
    """All-reduce the mean gradient over data-parallel ranks, in one flat buffer."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    gs = [g for g in grads if g is not None]
    flat = torch.cat([g.reshape(-1) for g in gs])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in gs:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def _chunks(obs: torch.Tensor, act: torch.Tensor, size: int = 16384):
    for i in range(0, obs.shape[0], size):
        yield obs[i : i + size], act[i : i + size]
