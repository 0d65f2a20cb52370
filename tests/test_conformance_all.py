"""Every record any installed plugin registers passes the conformance kit of its kind: embodiments (Warp parity
included), simulation backends, reward terms, motion readers, retargeters, validation metrics, reference datasets;
the example plugin's model (hopper) also runs the backend, reward and retargeter suites.

Runs on CPU: MuJoCo Warp uses Warp's CPU device when there is no CUDA. Measured on the shared 2-core machine: with
Warp's kernel cache warm (~/.cache/warp) the whole file takes ~100 s, shared with other engineers' jobs (the Warp
checks 2-30 s per model, the reward suite ~1 s a term after the first env); with a cold cache the first Warp checks
compile the kernels and add ~3 min.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mm_core import testing
from mm_core.registry import (
    embodiments,
    get_embodiment,
    get_motion_reader,
    get_retargeter,
    motion_readers,
    observation_terms,
    reference_datasets,
    retargeters,
    reward_terms,
    sim_backends,
    termination_terms,
    validation_metrics,
)
from mm_sim import testing as sim_testing


def _cases() -> list:
    return [
        pytest.param(name, check, id=f"{name}-{check}")
        for name in embodiments.names()
        for check in testing.EMBODIMENT_CHECKS
    ]


def test_registry_has_the_builtin_and_example_embodiments() -> None:
    names = set(embodiments.names())
    assert {"myofullbody", "myofullbody-nofingers", "bimanual", "bimanual-nofingers", "tiny"} <= names
    assert "hopper" in names, (
        "the example plugin mm-plugin-hopper is a workspace member and should be installed"
    )


@pytest.mark.parametrize(("name", "check"), _cases())
def test_conformance(name: str, check: str) -> None:
    testing.EMBODIMENT_CHECKS[check](get_embodiment(name))


# ------------------------------------------------------------------------- every other extension kind, every record
#: Reward terms that read the free root's pose or velocity: checked on a free-root embodiment.
FREE_ROOT_TERMS = {"root_pos", "root_vel", "root", "root_pos_error", "root_rot_error"}
#: Retargeters documented as unconstrained (mocap-body: "unconstrained IK (no limits, no couplings)").
UNCONSTRAINED = {"mocap-body"}
BVH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mocap" / "35_01.bvh"


@pytest.mark.parametrize("backend", sim_backends.names())
@pytest.mark.parametrize("check", list(testing.BACKEND_CHECKS))
def test_sim_backend(backend: str, check: str) -> None:
    if not sim_backends.get(backend).is_available():
        pytest.skip(f"backend {backend!r} is not available here")
    testing.BACKEND_CHECKS[check](backend, get_embodiment(testing.BACKEND_EMBODIMENT))


@pytest.mark.parametrize("embodiment", ["hopper", "myofullbody-nofingers"])
@pytest.mark.parametrize("backend", ["mujoco", "warp"])
def test_sim_backend_on_the_plugin_and_free_root_models(backend: str, embodiment: str) -> None:
    testing.check_backend_matches_c(backend, get_embodiment(embodiment))


@pytest.mark.parametrize("name", reward_terms.names())
def test_reward_term(name: str) -> None:
    # mm-sim marks its penalty terms (costs the task subtracts) in their description.
    kind = "penalty" if reward_terms.get(name).description.startswith("penalty") else "tracking"
    sim_testing.check_reward_term(name, _term_embodiment(reward_terms, name), kind=kind)


def _term_embodiment(kind: Any, name: str) -> str:
    """The hopper's own terms on the hopper, root terms on the free-root model, the rest on ``tiny``."""
    if kind.provider(name) == "hopper":
        return "hopper"
    return "myofullbody-nofingers" if name in FREE_ROOT_TERMS else "tiny"


@pytest.mark.parametrize("name", observation_terms.names())
def test_observation_term(name: str) -> None:
    sim_testing.check_observation_term(name, _term_embodiment(observation_terms, name))


@pytest.mark.parametrize("name", termination_terms.names())
def test_termination_term(name: str) -> None:
    sim_testing.check_termination_term(name, _term_embodiment(termination_terms, name))


@pytest.mark.parametrize("embodiment", ["hopper", "myofullbody-nofingers"])
@pytest.mark.parametrize("name", ["qpos", "qvel", "site_pos", "site_rot", "site_angvel", "site_linvel"])
def test_tracking_term_on_the_plugin_and_free_root_models(name: str, embodiment: str) -> None:
    sim_testing.check_reward_term(name, embodiment)


@pytest.fixture(scope="module")
def amass_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short AMASS-style .npz of the generated demo walk (60 Hz)."""
    from mm_retarget.demo import generate
    from mm_retarget.readers import write_amass

    poses, trans, fps = generate("walk", seconds=0.5)
    return write_amass(tmp_path_factory.mktemp("amass") / "walk.npz", poses, trans, fps)


#: A real file of each built-in reader's suffix, with its frame rate.
def _samples(amass: Path) -> dict[str, tuple[Path, float]]:
    return {"bvh": (BVH, 120.0), "amass": (amass, 60.0)}


@pytest.mark.parametrize("name", motion_readers.names())
def test_motion_reader(name: str, amass_file: Path, tmp_path: Path) -> None:
    samples = _samples(amass_file)
    assert name in samples, f"add a sample file for the motion reader {name!r}"
    path, fps = samples[name]
    testing.check_motion_reader(name, path, fps=fps)
    testing.check_reader_rejects_bad_files(name, tmp_path, path)


def test_npz_is_amass_or_motion_clip_and_each_reader_says_which(amass_file: Path, tmp_path: Path) -> None:
    """``.npz`` is both the AMASS source format and the MotionClip format: one reader claims the suffix, and each of
    the two loaders refuses the other's file naming the file and what it is."""
    from mm_core import MotionClip, motion_reader_for
    from mm_core.contracts import ContractError

    assert motion_reader_for(amass_file).name == "amass"
    src = motion_reader_for(amass_file).read(amass_file)
    clip = get_retargeter("mocap-body").retarget(src, get_embodiment("tiny"))
    clip_path = clip.save(tmp_path / "clip.npz")
    with pytest.raises(ValueError, match=f"{clip_path}: a MotionClip .*not an AMASS source motion"):
        motion_reader_for(clip_path).read(clip_path)
    with pytest.raises(ContractError, match=f"{amass_file}: an AMASS/SMPL source motion"):
        MotionClip.load(amass_file)


@pytest.fixture(scope="module")
def bvh_source() -> Any:
    """The first 0.5 s of CMU 35_01 (walk)."""
    import dataclasses

    src = get_motion_reader("bvh").read(BVH)
    return dataclasses.replace(src, positions=src.positions[:60], rotations=src.rotations[:60])


@pytest.mark.parametrize("embodiment", ["tiny", "hopper"])
@pytest.mark.parametrize("name", retargeters.names())
def test_retargeter(name: str, embodiment: str, bvh_source: Any, tmp_path: Path) -> None:
    testing.check_retargeter(name, bvh_source, embodiment, tmp_path, joint_limits=name not in UNCONSTRAINED)


@pytest.mark.parametrize("name", validation_metrics.names())
def test_validation_metric(name: str) -> None:
    testing.check_validation_metric(name)


@pytest.mark.parametrize("name", reference_datasets.names())
def test_reference_dataset(name: str, tmp_path: Path) -> None:
    testing.check_reference_dataset(name, tmp_path)
