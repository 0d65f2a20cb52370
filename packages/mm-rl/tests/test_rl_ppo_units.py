"""Unit tests of the PPO pieces that need no simulator: GAE, normalisers, optimisers, sampler, config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mm_rl.config import ConfigError, PolicyConfig, PPOConfig, SamplingConfig, TrainConfig, resolve, set_key
from mm_rl.policy import ActorCritic, RunningNorm
from mm_rl.ppo import PPO, compute_gae, make_optimizers
from mm_rl.sampling import FailureWeightedSampler


def test_gae_bootstraps_truncation_with_true_next_state_not_termination() -> None:
    """Hand-made rollout of 3 steps, 3 worlds: world 0 runs through, world 1 is truncated at t=1 (time limit),
    world 2 terminates (fails) at t=1. Expected advantages computed by hand."""
    g, lam = 0.9, 0.5
    rewards = torch.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 2.0], [1.0, 1.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 7.0, 7.0]])  # V(reset state) = 7 at t=2
    dones = torch.tensor([[False] * 3, [False, True, True], [False] * 3])
    final_value = 3.0  # V(true next state of world 1 at its truncation), not V(reset state) = 7
    bootstrap = torch.zeros(3, 3)
    bootstrap[1, 1] = final_value
    last_value = torch.tensor([0.25, 0.25, 0.25])
    adv, ret = compute_gae(rewards, values, dones, bootstrap, last_value, g, lam)

    def gae_chain(r, v, nv):  # plain GAE inside one episode
        deltas = [r[t] + g * nv[t] - v[t] for t in range(len(r))]
        out, acc = [0.0] * len(r), 0.0
        for t in reversed(range(len(r))):
            acc = deltas[t] + g * lam * acc
            out[t] = acc
        return out

    # World 0: one episode over all three steps, bootstrapped by last_value.
    w0 = gae_chain([1, 1, 1], [0.5, 0.5, 0.5], [0.5, 0.5, 0.25])
    # World 1: episode [t0, t1] ends truncated -> bootstrap from the true final state (3.0); new episode at t2.
    w1 = gae_chain([1, 2], [0.5, 0.5], [0.5, final_value]) + gae_chain([1], [7.0], [0.25])
    # World 2: episode [t0, t1] ends terminated -> no bootstrap at all.
    w2 = gae_chain([1, 2], [0.5, 0.5], [0.5, 0.0]) + gae_chain([1], [7.0], [0.25])
    expected = torch.tensor([w0, w1, w2]).T
    assert torch.allclose(adv, expected, atol=1e-6), (adv, expected)
    assert torch.allclose(ret, adv + values)
    # The trap the reference fell into: bootstrapping the truncation from the next (reset) state's value.
    wrong = gae_chain([1, 2], [0.5, 0.5], [0.5, 7.0])
    assert not math.isclose(float(adv[1, 1]), wrong[1], abs_tol=1e-3)


def test_running_norm_matches_batch_statistics() -> None:
    x = torch.randn(1000, 5, dtype=torch.float64) * torch.tensor([1.0, 2, 3, 4, 5]) + 3
    n = RunningNorm(5)
    for chunk in x.split(137):
        n.update(chunk)
    assert torch.allclose(n.mean, x.mean(0), atol=1e-9)
    assert torch.allclose(n.var, x.var(0, unbiased=False), atol=1e-9)
    before = n.mean.clone()
    n(x.float())  # applying it never moves the statistics (evaluation is frozen)
    assert torch.equal(n.mean, before)


def test_policy_architecture_and_init() -> None:
    cfg = PolicyConfig(actor_width=32, actor_depth=3, critic_width=16, critic_depth=2)
    pol = ActorCritic(10, 4, cfg, init_std=3.0)
    kinds = [type(m).__name__ for m in pol.actor]
    assert kinds == ["Linear", "LayerNorm", "SiLU"] * 3 + ["Linear"]
    assert len([m for m in pol.critic if isinstance(m, torch.nn.Linear)]) == 3
    assert torch.allclose(pol.log_std.exp(), torch.full((4,), 3.0))
    w = pol.actor[0].weight  # orthogonal, gain sqrt 2: rows orthogonal with norm sqrt 2 (32 >= 10 -> columns)
    assert torch.allclose(w.T @ w, 2.0 * torch.eye(10), atol=1e-4)
    assert pol.actor[-1].weight.abs().max() < 0.02  # output gain 0.01
    a = pol.act(torch.randn(7, 10) * 100)
    assert a.shape == (7, 4) and a.abs().max() <= 1.0


def test_muon_for_matrices_adam_for_the_rest() -> None:
    pol = ActorCritic(6, 2, PolicyConfig(actor_width=8, actor_depth=2, critic_width=8, critic_depth=1), 1.0)
    muon, adam = make_optimizers(pol, PPOConfig(lr=1e-3))
    assert type(muon).__name__ == "Muon" and isinstance(adam, torch.optim.Adam)
    assert all(p.ndim == 2 for g in muon.param_groups for p in g["params"])
    assert all(p.ndim != 2 for g in adam.param_groups for p in g["params"])
    n_params = sum(len(g["params"]) for o in (muon, adam) for g in o.param_groups)
    assert n_params == len(list(pol.parameters()))


def _fake_batch(pol: ActorCritic, B: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(B, pol.num_obs, generator=g)
    act = torch.randn(B, pol.num_actions, generator=g)
    with torch.no_grad():
        logp = pol.distribution(obs).log_prob(act).sum(-1)
        values = pol.value(obs)
    adv = torch.randn(B, generator=g)
    return dict(obs=obs, actions=act, logp=logp, values=values, advantages=adv, returns=values + adv)


def test_update_diagnostics_and_non_finite_skip() -> None:
    torch.manual_seed(0)
    pol = ActorCritic(6, 3, PolicyConfig(actor_width=16, actor_depth=2, critic_width=16, critic_depth=2), 1.0)
    ppo = PPO(pol, PPOConfig(num_minibatches=4, lr=1e-3), num_envs=8)
    batch = _fake_batch(pol, 64)
    out = ppo.update(batch)
    for k in ("policy_loss", "value_loss", "approx_kl", "clip_frac", "explained_variance", "grad_norm"):
        assert math.isfinite(out[k]), k
    assert out["skipped_updates"] == 0
    before = [p.detach().clone() for p in pol.parameters()]
    batch["returns"][:] = float("nan")  # every minibatch's value loss is NaN: no update may happen
    out = ppo.update(batch)
    assert out["skipped_updates"] == 4
    assert all(torch.equal(a, b) for a, b in zip(before, pol.parameters(), strict=True))


def test_failure_weighted_sampler_shifts_probability_to_failing_clips() -> None:
    s = FailureWeightedSampler(3, SamplingConfig(adaptive=True, uniform_mix=0.1))
    assert np.allclose(s.weights(), 1 / 3)
    clips = np.array([0] * 50 + [1] * 50 + [2] * 50)
    failed = np.array([False] * 50 + [True] * 50 + [False] * 45 + [True] * 5)
    s.record(clips, failed)
    w = s.weights()
    assert w.sum() == pytest.approx(1.0)
    assert w[1] > 0.7 and w[0] >= 0.1 / 3 - 1e-9 and w[1] > w[2] > w[0]


def test_config_overrides_and_errors(tmp_path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("num_worlds = 12\n[ppo]\nlr = 0.002\n[policy]\nactor_width = 64\n")
    cfg = resolve("tiny", toml, ["ppo.num_steps=7", "task.horizon=50", "sampling.adaptive=true"], seed=3)
    assert cfg.num_worlds == 12 and cfg.ppo.lr == 0.002 and cfg.policy.actor_width == 64
    assert cfg.ppo.num_steps == 7 and cfg.task == {"horizon": 50} and cfg.sampling.adaptive and cfg.seed == 3
    with pytest.raises(ConfigError, match="unknown key 'ppo.lrr'"):
        resolve("tiny", None, ["ppo.lrr=1"])
    with pytest.raises(ConfigError, match="expected an integer"):
        resolve("tiny", None, ["num_worlds=many"])
    with pytest.raises(ConfigError, match="expected key=value"):
        resolve("tiny", None, ["num_worlds"])
    bad = tmp_path / "bad.toml"
    bad.write_text("num_worlds = = 3")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        resolve("tiny", bad)
    big = resolve("myofullbody-nofingers", None, [], max_samples=10)
    assert big.policy.actor_depth == 16 and big.policy.actor_width == 1024 and big.ppo.num_minibatches == 128
    cfg = TrainConfig()
    set_key(cfg, "policy.init_std", 2)
    assert cfg.policy.init_std == 2.0


def test_small_muon_matches_torch_muon() -> None:
    from mm_rl.muon import SmallMuon, orthogonalise

    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no torch.optim.Muon to compare with")
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(24, 40, generator=g)
    grads = [torch.randn(24, 40, generator=g) for _ in range(3)]
    a, b = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    ours = SmallMuon([a], lr=0.01)
    ref = torch.optim.Muon([b], lr=0.01, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")
    for grad in grads:
        a.grad, b.grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
    # torch orthogonalises in bfloat16, ours in float32 on CPU: equal up to bfloat16 precision.
    assert torch.allclose(a, b, atol=3e-3), (a - b).abs().max()
    assert not torch.allclose(a, w0, atol=1e-2)
    s = torch.linalg.svdvals(orthogonalise(grads[0]))
    assert float(s.min()) > 0.5 and float(s.max()) < 1.5  # ~orthogonal: singular values near 1
