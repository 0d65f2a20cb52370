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
    assert cfg.ppo.num_steps == 7 and cfg.task.horizon == 50 and cfg.sampling.adaptive and cfg.seed == 3
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
    ours = SmallMuon([a], lr=0.01, lr_scale="match_adamw")
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


# --- PPO's pieces by value, against hand computations (each fails if its piece of ppo.py is broken) ---


def _small_policy(seed: int = 0) -> ActorCritic:
    torch.manual_seed(seed)
    return ActorCritic(5, 2, PolicyConfig(actor_width=8, actor_depth=1, critic_width=8, critic_depth=1), 0.5)


def _handmade_minibatch(
    pol: ActorCritic, ratios: list[float], adv: list[float], dv: list[float], dr: list[float]
):
    """A minibatch whose policy ratios are ``ratios`` under ``pol``, whose rollout values are ``v - dv`` and whose
    returns are ``v + dr`` (v: the critic's current values)."""
    g = torch.Generator().manual_seed(1)
    B = len(ratios)
    obs, act = torch.randn(B, pol.num_obs, generator=g), torch.randn(B, pol.num_actions, generator=g)
    with torch.no_grad():
        logp, _, v = pol.evaluate(obs, act)
    r = torch.tensor(ratios)
    return dict(
        obs=obs,
        actions=act,
        logp=logp - r.log(),
        values=v - torch.tensor(dv),
        advantages=torch.tensor(adv),
        returns=v + torch.tensor(dr),
    ), v


def test_ppo_loss_by_hand_clipped_surrogate_value_clipping_and_advantage_normalisation() -> None:
    pol = _small_policy()
    ppo = PPO(pol, PPOConfig(clip=0.2, value_clip=0.2, value_coef=0.5, entropy_coef=0.0), num_envs=6)
    ratios = [0.5, 1.5, 1.1, 0.9, 1.5, 0.5]
    adv = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    dv = [0.5, 0.5, -0.5, 0.1, 0.0, -0.3]  # v - old value
    dr = [-0.3, 0.3, 0.2, 0.1, 0.0, -0.4]  # return - v
    mb, _ = _handmade_minibatch(pol, ratios, adv, dv, dr)
    loss, parts = ppo.loss(mb)

    # Advantages normalised over the minibatch: mean 3.5, unbiased std sqrt(17.5 / 5).
    std = math.sqrt(17.5 / 5)
    a_hat = [(a - 3.5) / (std + 1e-8) for a in adv]
    # Clipped surrogate per sample: max(-A r, -A clip(r, 0.8, 1.2)).
    pg = []
    for r, a in zip(ratios, a_hat, strict=True):
        rc = min(max(r, 0.8), 1.2)
        pg.append(max(-a * r, -a * rc))
    # Value loss per sample: the larger of (v - ret)^2 = dr^2 and (old_v + clip(v - old_v) - ret)^2.
    vl = []
    for d, e in zip(dv, dr, strict=True):
        dc = min(max(d, -0.2), 0.2)
        vl.append(max(e * e, (dc - d - e) ** 2))
    assert float(parts["policy_loss"]) == pytest.approx(sum(pg) / 6, rel=1e-5)
    assert float(parts["value_loss"]) == pytest.approx(0.5 * sum(vl) / 6, rel=1e-5)
    assert float(loss.detach()) == pytest.approx(sum(pg) / 6 + 0.5 * 0.5 * sum(vl) / 6, rel=1e-5)
    # Clip fraction: ratios off 1 by more than 0.2 (0.5, 1.5, 1.5, 0.5); approx KL = mean((r - 1) - log r).
    assert float(parts["clip_frac"]) == pytest.approx(4 / 6)
    kl = sum((r - 1) - math.log(r) for r in ratios) / 6
    assert float(parts["approx_kl"]) == pytest.approx(kl, rel=1e-5)
    # Sanity of the hand computation: the clipped value term decides sample 1 (0.36 > 0.09).
    assert vl[1] == pytest.approx(0.36) and vl[0] == pytest.approx(0.09)


def test_advantage_normalisation_is_per_minibatch() -> None:
    """Shifting and scaling one minibatch's advantages leaves its loss unchanged (normalised per minibatch)."""
    pol = _small_policy()
    ppo = PPO(pol, PPOConfig(), num_envs=4)
    mb, _ = _handmade_minibatch(pol, [0.9, 1.3, 1.0, 0.7], [0.1, -0.4, 0.3, 0.2], [0, 0, 0, 0], [0, 0, 0, 0])
    a, _ = ppo.loss(mb)
    mb["advantages"] = mb["advantages"] * 50 + 7
    b, _ = ppo.loss(mb)
    assert float(a) == pytest.approx(float(b), rel=1e-5)


def test_value_loss_without_clipping_is_plain_mse() -> None:
    pol = _small_policy()
    ppo = PPO(pol, PPOConfig(value_clip=0.0), num_envs=3)
    mb, _ = _handmade_minibatch(pol, [1, 1, 1], [1, 2, 3], [0.5, -0.5, 2.0], [0.3, -0.1, 0.2])
    _, parts = ppo.loss(mb)
    assert float(parts["value_loss"]) == pytest.approx(0.5 * (0.09 + 0.01 + 0.04) / 3, rel=1e-5)


def test_gradients_are_clipped_to_max_grad_norm() -> None:
    """After an update of one minibatch, the gradients the optimisers used are the loss's, scaled to the norm
    ``max_grad_norm`` (computed here by hand); the logged norm is the one before clipping."""
    import copy

    pol = _small_policy()
    ppo = PPO(pol, PPOConfig(num_minibatches=1, max_grad_norm=0.05, lr=1e-9), num_envs=6)
    mb, _ = _handmade_minibatch(pol, [0.5, 1.5, 1.1, 0.9, 1.5, 0.5], [1, 2, 3, 4, 5, 6], [0.5] * 6, [0.3] * 6)
    twin = copy.deepcopy(pol)
    loss, _ = PPO(twin, ppo.cfg, num_envs=6).loss(mb)
    raw = torch.autograd.grad(loss, list(twin.parameters()))
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in raw))
    assert norm > 0.5  # well above the clip, so clipping must act
    out = ppo.update(mb)
    assert out["grad_norm"] == pytest.approx(norm, rel=1e-5)
    scale = 0.05 / (norm + 1e-6)
    for g, p in zip(raw, pol.parameters(), strict=True):
        assert torch.allclose(p.grad, g * scale, rtol=1e-4, atol=1e-9)


def test_learning_rate_schedule_by_hand() -> None:
    from mm_rl.schedule import lr_at

    cfg = TrainConfig(max_updates=10, ppo=PPOConfig(lr=1e-3))
    assert [lr_at(cfg, u, 10, 0.0) for u in (0, 5, 9, 10, 12)] == pytest.approx([1e-3, 5e-4, 1e-4, 0.0, 0.0])
    timed = TrainConfig(max_minutes=2.0, ppo=PPOConfig(lr=1e-3))  # time budget only: decay over 120 s
    assert lr_at(timed, 7, None, 30.0) == pytest.approx(7.5e-4)
    assert lr_at(timed, 7, None, 200.0) == 0.0
    flat = TrainConfig(max_updates=10, ppo=PPOConfig(lr=1e-3, lr_decay=False))
    assert lr_at(flat, 9, 10, 100.0) == 1e-3
    # The update budget wins over the time budget when both are given.
    both = TrainConfig(max_updates=10, max_minutes=1.0, ppo=PPOConfig(lr=1e-3))
    assert lr_at(both, 5, 10, 59.0) == pytest.approx(5e-4)


def test_std_parameterisation_log_prob_and_entropy_by_hand() -> None:
    """std = exp(log_std) per action, the same for every state; log-prob and entropy of a diagonal Gaussian."""
    pol = _small_policy()
    with torch.no_grad():
        pol.log_std.copy_(torch.tensor([math.log(0.5), math.log(2.0)]))
    obs = torch.randn(3, 5)
    act = torch.tensor([[0.1, -1.0], [0.0, 0.0], [2.0, 0.5]])
    logp, ent, _ = pol.evaluate(obs, act)
    with torch.no_grad():
        mean = pol.actor(pol.obs_norm(obs))
    for i in range(3):
        want = 0.0
        for j, s in enumerate((0.5, 2.0)):
            z = (float(act[i, j]) - float(mean[i, j])) / s
            want += -0.5 * z * z - math.log(s) - 0.5 * math.log(2 * math.pi)
        assert float(logp[i]) == pytest.approx(want, rel=1e-5)
    h = sum(0.5 + 0.5 * math.log(2 * math.pi) + math.log(s) for s in (0.5, 2.0))
    assert torch.allclose(ent, torch.full((3,), h))
    d = pol.distribution(obs)
    assert torch.allclose(d.stddev, torch.tensor([[0.5, 2.0]]).expand(3, 2))
    pol.reset_std(3.0)
    assert torch.allclose(pol.distribution(obs).stddev, torch.full((3, 2), 3.0))
    # The std is learnt through log_std: the log-prob's gradient reaches it.
    pol.evaluate(obs, act)[0].sum().backward()
    assert pol.log_std.grad is not None and bool((pol.log_std.grad != 0).all())


@pytest.mark.parametrize(("shape", "reference", "match_adamw"), [((64, 16), 2.0, 1.6), ((16, 64), 1.0, 1.6)])
def test_muon_step_size_by_hand(shape: tuple[int, int], reference: float, match_adamw: float) -> None:
    """One Muon step from zero momentum moves a (rows, cols) weight by lr * factor * orthogonalise(g) with
    factor sqrt(max(1, rows / cols)) ("reference", Keller Jordan's Muon) or 0.2 sqrt(max(rows, cols))."""
    from mm_rl.muon import SmallMuon, make_muon, orthogonalise

    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    for scale, factor in (("reference", reference), ("match_adamw", match_adamw)):
        makers = (
            lambda p, s=scale: make_muon([p], 0.01, s),
            lambda p, s=scale: SmallMuon([p], 0.01, lr_scale=s),
        )
        for make in makers:
            p = torch.nn.Parameter(torch.zeros(shape))
            opt = make(p)
            p.grad = g.clone()
            opt.step()
            # Nesterov from zero momentum: the update direction is (1 - 0.95) g + 0.95 * (0.05 g) = 0.0975 g.
            want = -0.01 * factor * orthogonalise(0.0975 * g)
            assert torch.allclose(p.detach(), want, atol=2e-4 * factor), (scale, type(opt).__name__)
    # The figure: a 1024 x 1024 layer moves 6.4x further with match_adamw.
    assert 0.2 * math.sqrt(1024) / math.sqrt(max(1, 1024 / 1024)) == pytest.approx(6.4)
