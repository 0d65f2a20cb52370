"""The conformance kit catches broken plugins: small deliberately broken implementations of each extension kind,
registered next to the built-ins, and the suite fails on each with a message saying what is wrong.

Each broken thing wraps a real built-in (the C MuJoCo backend, the BVH reader, the mocap-body retargeter, ...) and
breaks one part of the contract, so a failure is that part and not a setup problem. Needs the built-in packages
(mm-sim, mm-models, mm-retarget, mm-validate: dev dependencies of the workspace).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mm_core import hookimpl, registry, testing
from mm_core.contracts import MotionClip, SourceMotion
from mm_core.plugins import get_plugin_manager
from mm_core.records import (
    MotionReader,
    ObservationTerm,
    ReferenceDataset,
    Retargeter,
    RewardTerm,
    SimBackend,
    TerminationTerm,
    ValidationMetric,
)
from mm_core.testing import ConformanceError
from mm_sim import testing as sim_testing  # the task-term suites (they run mm-sim's env)

pytest.importorskip("mm_sim", reason="the kit's backend and reward suites need mm-sim")
if "tiny" not in registry.embodiments.names() or "bvh" not in registry.motion_readers.names():
    pytest.skip("needs the built-in plugins (mm-models, mm-retarget)", allow_module_level=True)

BVH = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "mocap" / "35_01.bvh"


# ------------------------------------------------------------------------------------------- broken backends
class _Wrapped:
    """A real backend (C MuJoCo) with one part of it replaced by a subclass."""

    def __init__(self, sim: Any) -> None:
        object.__setattr__(self, "_sim", sim)

    def __getattr__(self, k: str) -> Any:
        return getattr(self._sim, k)

    def __setattr__(self, k: str, v: Any) -> None:
        setattr(self._sim, k, v)

    def close(self) -> None:
        self._sim.close()


class FieldFirst(_Wrapped):
    """qpos exposed as (nq, N): not world-first."""

    @property
    def qpos(self) -> Any:
        return self._sim.qpos.T


class OneCtrl(_Wrapped):
    """Every world gets world 0's ctrl."""

    def step(self) -> None:
        self._sim.ctrl[:] = self._sim.ctrl[0].clone()
        self._sim.step()


class NoKinematics(_Wrapped):
    """Only the physics steps: sites (and the state tensors) are not refreshed after the step."""

    def step(self) -> None:
        self._sim.physics_step()


class Noisy(_Wrapped):
    """Not deterministic: a random perturbation per step."""

    def step(self) -> None:
        import torch

        self._sim.step()
        self._sim.qpos.add_(1e-9 * torch.randn(self._sim.qpos.shape, dtype=self._sim.qpos.dtype))


class NoNanGuard(_Wrapped):
    """Never flags a non-finite world."""

    @property
    def nonfinite(self) -> Any:
        return self._sim.nonfinite & False


class NoForward(_Wrapped):
    """forward() does nothing: a reset world keeps the stale sites."""

    def forward(self, worlds: Any = None) -> None:
        pass


def _backend(wrapper: type) -> SimBackend:
    def factory(model: Any, num_worlds: int, physics: Any, device: str | None = None) -> Any:
        return wrapper(registry.get_sim_backend("mujoco").factory(model, num_worlds, physics, device))

    return SimBackend(name=f"broken-{wrapper.__name__.lower()}", factory=factory)


BROKEN_BACKENDS = {
    FieldFirst: ("state_tensors", r"sim.qpos has shape \(6, 3\)"),
    OneCtrl: ("matches_c_mujoco", r"world w reads ctrl\[w\]"),
    NoKinematics: ("matches_c_mujoco", "C MuJoCo"),
    Noisy: ("deterministic", "not deterministic"),
    NoNanGuard: ("flags_nonfinite", "only world 1 flagged"),
    NoForward: ("forward_resets_worlds", "forward must recompute"),
}


# ------------------------------------------------------------------------------------------- broken reward terms
def _wrong_shape(env: Any) -> Any:
    return (-(env.cur.qpos - env.ref.qpos).square().mean(1, keepdim=True)).exp()  # (N, 1)


def _nan(env: Any) -> Any:
    return env.cur.qpos[:, 0] * float("nan")


def _always_one(env: Any) -> Any:
    return env.cur.qpos.new_ones(env.cur.qpos.shape[0])


def _above_one(env: Any) -> Any:
    return 0.5 + (-(env.cur.qpos - env.ref.qpos).square().mean(1)).exp()


def _against_zero(env: Any) -> Any:
    return (-10 * env.cur.qpos.square().mean(1)).exp()  # compares with qpos = 0, not the reference


def _negative_cost(env: Any) -> Any:
    return -env.cur.act.square().mean(1)


BROKEN_REWARDS = {
    "wrong_shape": (_wrong_shape, "tracking", r"tensor \(num_worlds,\) = \(3,\), got \(3, 1\)"),
    "nan": (_nan, "tracking", "must be finite"),
    "always_one": (_always_one, "tracking", "does not respond to the state"),
    "above_one": (_above_one, "tracking", r"must lie in \[0, 1\]"),
    "against_zero": (_against_zero, "tracking", "must be 1 \\(its maximum\\)"),
    "negative_cost": (_negative_cost, "penalty", "a penalty is a cost >= 0"),
}


# ------------------------------------------------------------------------------------ broken observation terms
def _one_per_world(env: Any) -> Any:
    return env.cur.qpos[:, 0]  # (N,), not (N, 1)


def _float64(env: Any) -> Any:
    return env.sim.qpos  # C MuJoCo's float64 state, not converted


def _obs_nan(env: Any) -> Any:
    return env.cur.qpos * float("nan")


def _growing(env: Any) -> Any:
    return env.cur.qpos[:, : 1 + int(env.frame[0])]  # width follows the frame


BROKEN_OBSERVATIONS = {
    "one_per_world": (_one_per_world, r"tensor \(num_worlds, k\) = \(3, k\), got \(3,\)"),
    "float64": (_float64, "must be float32.*float64"),
    "nan": (_obs_nan, "must be finite"),
    "growing": (_growing, "width 2, but 1 at the reset"),
}


# ------------------------------------------------------------------------------------ broken termination terms
def _as_float(env: Any, threshold: float = 0.3) -> Any:
    return ((env.cur.site_pos - env.ref.site_pos).norm(dim=-1).mean(1) > threshold).float()


def _column(env: Any, threshold: float = 0.3) -> Any:
    return (env.cur.site_pos - env.ref.site_pos).norm(dim=-1).mean(1, keepdim=True) > threshold  # (N, 1)


def _against_rest(env: Any, threshold: float = 0.3) -> Any:
    return (env.cur.qpos - env.ref.qpos.new_zeros(())).abs().mean(1) > 0.01 * threshold  # vs qpos = 0


def _never(env: Any, threshold: float = 0.3) -> Any:
    return env.cur.qpos[:, 0] != env.cur.qpos[:, 0]  # all false, whatever the state


BROKEN_TERMINATIONS = {
    "as_float": (_as_float, None, "must be a bool tensor.*float32"),
    "column": (_column, None, r"tensor \(num_worlds,\) = \(3,\), got \(3, 1\)"),
    "against_rest": (_against_rest, None, "true in world 0, which replays its reference exactly"),
    "never": (_never, {"threshold": 0.0}, "does not respond to the state"),
}


# ------------------------------------------------------------------------------------------- broken readers
def _bvh(path: Any, **kw: Any) -> SourceMotion:
    return registry.get_motion_reader("bvh").read(path, **kw)


def _seconds_as_fps(path: Any, **kw: Any) -> SourceMotion:
    src = _bvh(path, **kw)
    return dataclasses.replace(src, fps=1.0 / src.fps)


def _fps_halved(path: Any, **kw: Any) -> SourceMotion:
    src = _bvh(path, **kw)
    return dataclasses.replace(src, fps=src.fps / 2)


def _centimetres(path: Any, **kw: Any) -> SourceMotion:
    src = _bvh(path, **kw)
    return dataclasses.replace(src, positions=src.positions * 100)


_CACHED: list[SourceMotion] = []


def _ignores_file(path: Any, **kw: Any) -> SourceMotion:
    """Returns the same motion whatever the file holds."""
    if not _CACHED:
        _CACHED.append(_bvh(BVH))
    return _CACHED[0]


def _anonymous_error(path: Any, **kw: Any) -> SourceMotion:
    if Path(path).stat().st_size < 10_000:
        raise ValueError("bad file")  # does not say which
    return _bvh(path, **kw)


BROKEN_READERS = {
    "seconds_as_fps": (_seconds_as_fps, "outside the plausible"),
    "fps_halved": (_fps_halved, "but the file is at 120 Hz"),
    "centimetres": (_centimetres, "not a human in metres"),
    "ignores_file": (_ignores_file, "without an error"),
    "anonymous_error": (_anonymous_error, "does not name the file"),
}


# ------------------------------------------------------------------------------------------- broken retargeters
def _mocap(source: Any, embodiment: Any, **kw: Any) -> MotionClip:
    return registry.get_retargeter("mocap-body").retarget(source, embodiment, **kw)


def _source_fps(source: Any, embodiment: Any, **kw: Any) -> MotionClip:
    clip = _mocap(source, embodiment, **kw)
    return dataclasses.replace(clip, fps=source.fps)  # frames at 100 Hz labelled with the source's rate


def _past_limits(source: Any, embodiment: Any, **kw: Any) -> MotionClip:
    clip = _mocap(source, embodiment, **kw)
    qpos = clip.qpos.copy()
    qpos[:, 1] = 3.0  # tiny's right knee: range [0, 2.09] rad
    return dataclasses.replace(clip, qpos=qpos)


def _no_metrics(source: Any, embodiment: Any, **kw: Any) -> MotionClip:
    return dataclasses.replace(_mocap(source, embodiment, **kw), metadata={})


def _other_sites(source: Any, embodiment: Any, **kw: Any) -> MotionClip:
    clip = _mocap(source, embodiment, **kw)
    return dataclasses.replace(clip, site_names=tuple(f"x_{s}" for s in clip.site_names))


BROKEN_RETARGETERS = {
    "source_fps": (_source_fps, "but the embodiment's control rate is 100 Hz"),
    "past_limits": (_past_limits, "leaves its range"),
    "no_metrics": (_no_metrics, "metadata\\['metrics'\\]"),
    "other_sites": (_other_sites, "tracked sites"),
}


# ------------------------------------------------------------------------------------------- broken validation
def _constant(sim: Any, ref_mean: Any, ref_sd: Any = None) -> float:
    return 0.5


def _rmse(sim: Any, ref_mean: Any, ref_sd: Any = None) -> float:
    return float(np.sqrt(np.mean((sim - ref_mean) ** 2)))


def _in_place(sim: Any, ref_mean: Any, ref_sd: Any = None) -> float:
    sim -= sim.mean()  # modifies the caller's array
    return _rmse(sim, ref_mean)


def _array(sim: Any, ref_mean: Any, ref_sd: Any = None) -> Any:
    return np.abs(sim - ref_mean)


BROKEN_METRICS = {
    "constant": (_constant, False, "strictly better"),
    "rmse_wrong_direction": (_rmse, True, "strictly better"),
    "in_place": (_in_place, False, "modified its input arrays"),
    "array": (_array, False, "must return a float"),
}


def _schwartz(path: Any = None) -> Any:
    return registry.get_reference_dataset("schwartz2008-walking-free").load(path)


def _fraction_percent(path: Any = None) -> Any:
    ref = _schwartz(path)
    curves = {q: dataclasses.replace(c, percent=c.percent * 10) for q, c in ref.curves.items()}
    return dataclasses.replace(ref, curves=curves)


def _ignores_path(path: Any = None) -> Any:
    return _schwartz(None)


BROKEN_DATASETS = {
    "percent_past_100": (_fraction_percent, "percent must increase within 0..100"),
    "ignores_path": (_ignores_path, "did not fail"),
}


class BrokenPlugin:
    @hookimpl
    def mm_sim_backends(self) -> list[SimBackend]:
        return [_backend(w) for w in BROKEN_BACKENDS]

    @hookimpl
    def mm_reward_terms(self) -> list[RewardTerm]:
        return [RewardTerm(name=f"broken-{n}", fn=fn) for n, (fn, _, _) in BROKEN_REWARDS.items()]

    @hookimpl
    def mm_observation_terms(self) -> list[ObservationTerm]:
        return [ObservationTerm(name=f"broken-{n}", fn=fn) for n, (fn, _) in BROKEN_OBSERVATIONS.items()]

    @hookimpl
    def mm_termination_terms(self) -> list[TerminationTerm]:
        return [
            TerminationTerm(name=f"broken-{n}", fn=fn, params={"threshold": 0.3})
            for n, (fn, _, _) in BROKEN_TERMINATIONS.items()
        ]

    @hookimpl
    def mm_motion_readers(self) -> list[MotionReader]:
        return [
            MotionReader(name=f"broken-{n}", suffixes=(".bvh",), read=fn)
            for n, (fn, _) in BROKEN_READERS.items()
        ]

    @hookimpl
    def mm_retargeters(self) -> list[Retargeter]:
        return [Retargeter(name=f"broken-{n}", retarget=fn) for n, (fn, _) in BROKEN_RETARGETERS.items()]

    @hookimpl
    def mm_validation_metrics(self) -> list[ValidationMetric]:
        return [
            ValidationMetric(name=f"broken-{n}", fn=fn, higher_is_better=hib)
            for n, (fn, hib, _) in BROKEN_METRICS.items()
        ]

    @hookimpl
    def mm_reference_datasets(self) -> list[ReferenceDataset]:
        return [ReferenceDataset(name=f"broken-{n}", load=fn) for n, (fn, _) in BROKEN_DATASETS.items()]


@pytest.fixture(scope="module", autouse=True)
def broken_plugin() -> Iterator[None]:
    pm = get_plugin_manager()
    pm.register(BrokenPlugin(), "broken_plugin")
    registry.clear_cache()
    yield
    pm.unregister(name="broken_plugin")
    registry.clear_cache()


@pytest.fixture(scope="module")
def tiny() -> Any:
    return registry.get_embodiment("tiny")


@pytest.mark.parametrize("wrapper", list(BROKEN_BACKENDS), ids=lambda w: w.__name__)
def test_backend_suite_catches(wrapper: type, tiny: Any) -> None:
    check, msg = BROKEN_BACKENDS[wrapper]
    with pytest.raises(ConformanceError, match=msg):
        testing.BACKEND_CHECKS[check](f"broken-{wrapper.__name__.lower()}", tiny)


def test_the_real_backend_passes_what_the_broken_ones_fail(tiny: Any) -> None:
    """The wrapper itself breaks nothing: the unmodified C MuJoCo backend passes every check."""
    for check in testing.BACKEND_CHECKS.values():
        check("mujoco", tiny)


@pytest.mark.parametrize("name", list(BROKEN_REWARDS))
def test_reward_suite_catches(name: str) -> None:
    _, kind, msg = BROKEN_REWARDS[name]
    with pytest.raises(ConformanceError, match=msg):
        sim_testing.check_reward_term(f"broken-{name}", "tiny", kind=kind)


@pytest.mark.parametrize("name", list(BROKEN_OBSERVATIONS))
def test_observation_suite_catches(name: str) -> None:
    with pytest.raises(ConformanceError, match=BROKEN_OBSERVATIONS[name][1]):
        sim_testing.check_observation_term(f"broken-{name}", "tiny")


@pytest.mark.parametrize("name", list(BROKEN_TERMINATIONS))
def test_termination_suite_catches(name: str) -> None:
    _, fires_with, msg = BROKEN_TERMINATIONS[name]
    with pytest.raises(ConformanceError, match=msg):
        sim_testing.check_termination_term(f"broken-{name}", "tiny", fires_with=fires_with)


def test_the_builtin_task_terms_pass_the_suites() -> None:
    """What the broken terms fail, the built-ins pass: every observation term (root terms on the free-root
    MyoFullBody), and every termination term, which fires off the reference with a zero threshold."""
    for name in registry.observation_terms.names():
        if registry.observation_terms.provider(name) == "sim":
            free = name in ("root", "root_vel")
            sim_testing.check_observation_term(name, "myofullbody-nofingers" if free else "tiny")
    for name in ("site_abs_error", "site_rel_error"):
        sim_testing.check_termination_term(name, "tiny", fires_with={"threshold": 0.0})


@pytest.mark.parametrize("name", list(BROKEN_READERS))
def test_reader_suite_catches(name: str, tmp_path: Path) -> None:
    msg = BROKEN_READERS[name][1]
    with pytest.raises(ConformanceError, match=msg):
        testing.check_motion_reader(f"broken-{name}", BVH, fps=120.0)
        testing.check_reader_rejects_bad_files(f"broken-{name}", tmp_path, BVH)


@pytest.fixture(scope="module")
def short_source() -> SourceMotion:
    src = registry.get_motion_reader("bvh").read(BVH)
    n = 60  # 0.5 s at 120 Hz
    return dataclasses.replace(src, positions=src.positions[:n], rotations=src.rotations[:n])


@pytest.mark.parametrize("name", list(BROKEN_RETARGETERS))
def test_retargeter_suite_catches(name: str, short_source: SourceMotion, tmp_path: Path) -> None:
    with pytest.raises(ConformanceError, match=BROKEN_RETARGETERS[name][1]):
        testing.check_retargeter(f"broken-{name}", short_source, "tiny", tmp_path)


@pytest.mark.parametrize("name", list(BROKEN_METRICS))
def test_metric_suite_catches(name: str) -> None:
    with pytest.raises(ConformanceError, match=BROKEN_METRICS[name][2]):
        testing.check_validation_metric(f"broken-{name}")


@pytest.mark.parametrize("name", list(BROKEN_DATASETS))
def test_dataset_suite_catches(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConformanceError, match=BROKEN_DATASETS[name][1]):
        testing.check_reference_dataset(f"broken-{name}", tmp_path)


def test_two_readers_claiming_a_suffix_is_an_error_naming_both(tmp_path: Path) -> None:
    """The broken readers all claim ``.bvh`` beside the built-in one: no silent first-wins choice."""
    with pytest.raises(registry.DuplicateNameError) as e:
        registry.motion_reader_for(BVH)
    msg = str(e.value)
    assert "'bvh' (plugin 'retarget')" in msg and "'broken-seconds_as_fps' (plugin 'broken_plugin')" in msg
    assert str(BVH) in msg and "'.bvh'" in msg and "get_motion_reader" in msg


def test_plugins_check_runs_the_suites_that_need_no_inputs() -> None:
    """``mm plugins check`` (check_plugin) runs the backend, metric, dataset and bad-file suites on the records."""
    results = testing.check_plugin("broken_plugin")
    failed = {k: [c.name for c in v if not c.ok] for k, v in results.items()}
    assert failed["mm_sim_backends:broken-fieldfirst"][0] == "state_tensors"
    assert failed["mm_sim_backends:broken-noisy"] == ["deterministic"]
    assert failed["mm_validation_metrics:broken-constant"] == ["metric_contract"]
    assert failed["mm_reference_datasets:broken-ignores_path"] == ["loads_curves"]
    assert failed["mm_motion_readers:broken-ignores_file"] == ["rejects_bad_files"]
    assert (
        failed["mm_reward_terms:broken-nan"] == []
    )  # record check only: the suite needs the author's inputs
