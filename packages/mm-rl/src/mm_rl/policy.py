"""Gaussian actor-critic with observation normalisation inside the module (saved with its weights)."""

from __future__ import annotations

import math

import torch
from torch import nn

from mm_rl.config import PolicyConfig


def _all_reduce_(*tensors: torch.Tensor) -> None:
    """Sum tensors over data-parallel ranks (no-op in a single process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        for t in tensors:
            dist.all_reduce(t)


class RunningNorm(nn.Module):
    """Running mean / variance of a stream of vectors (Chan's parallel update), synced across ranks.

    Buffers (saved with the module): ``mean (D,)``, ``var (D,)``, ``count ()``. Only :meth:`update` changes them;
    the trainer calls it on rollout data, so evaluation never moves the statistics.
    """

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip, self.eps = clip, eps
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """x: samples (B, D), or (B,) for a scalar stream."""
        x = x.reshape(-1, self.mean.numel()).to(torch.float64)
        # Sums rather than moments so that an all-reduce over ranks gives the global statistics.
        n = torch.tensor(float(x.shape[0]), dtype=torch.float64, device=x.device)
        s, ss = x.sum(0), (x * x).sum(0)
        _all_reduce_(n, s, ss)
        if n.item() == 0:
            return
        b_mean = s / n
        b_var = (ss / n - b_mean * b_mean).clamp_min(0.0)
        total = self.count + n
        delta = b_mean - self.mean
        self.mean += delta * n / total
        self.var = (self.var * self.count + b_var * n + delta * delta * self.count * n / total) / total
        self.count.copy_(total)

    @property
    def std(self) -> torch.Tensor:
        return torch.sqrt(self.var + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return y.clamp(-self.clip, self.clip)


def mlp(n_in: int, width: int, depth: int, n_out: int, out_gain: float) -> nn.Sequential:
    """``depth`` x (Linear -> LayerNorm -> SiLU), then a Linear output; orthogonal init (gain sqrt 2)."""
    layers: list[nn.Module] = []
    d = n_in
    for _ in range(depth):
        lin = nn.Linear(d, width)
        nn.init.orthogonal_(lin.weight, math.sqrt(2.0))
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.LayerNorm(width), nn.SiLU()]
        d = width
    out = nn.Linear(d, n_out)
    nn.init.orthogonal_(out.weight, out_gain)
    nn.init.zeros_(out.bias)
    layers.append(out)
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Gaussian policy with state-independent log-std, and a separate value network.

    Both read observations through ``obs_norm`` (running mean/std buffers inside this module).
    """

    def __init__(self, num_obs: int, num_actions: int, cfg: PolicyConfig, init_std: float) -> None:
        super().__init__()
        self.num_obs, self.num_actions = num_obs, num_actions
        self.obs_norm = RunningNorm(num_obs, clip=cfg.obs_clip)
        # Output gain 0.01: the initial mean action is ~0 (half activation) whatever the observation.
        self.actor = mlp(num_obs, cfg.actor_width, cfg.actor_depth, num_actions, 0.01)
        self.critic = mlp(num_obs, cfg.critic_width, cfg.critic_depth, 1, 1.0)
        self.log_std = nn.Parameter(torch.full((num_actions,), math.log(init_std)))

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        """obs: raw observations (B, num_obs) -> Normal over actions (B, num_actions)."""
        mean = self.actor(self.obs_norm(obs))
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """obs: raw observations (B, num_obs) -> values (B,)."""
        return self.critic(self.obs_norm(obs)).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """Actions for the environment (B, num_actions), clipped to [-1, 1]; deterministic = the mean."""
        mean = self.actor(self.obs_norm(obs))
        a = mean if deterministic else mean + self.log_std.exp() * torch.randn_like(mean)
        return a.clamp(-1.0, 1.0)

    def evaluate(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """log-prob (B,), entropy (B,), value (B,) of raw ``actions`` (B, num_actions) at ``obs`` (B, num_obs)."""
        x = self.obs_norm(obs)
        mean = self.actor(x)
        dist = torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))
        return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1), self.critic(x).squeeze(-1)

    def reset_std(self, std: float) -> None:
        with torch.no_grad():
            self.log_std.fill_(math.log(std))
