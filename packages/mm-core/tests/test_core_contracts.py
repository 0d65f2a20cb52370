from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mm_core.contracts import MOTION_FORMAT_VERSION, ContractError, EmbodimentSpec, MotionClip, SourceMotion


def make_clip(t: int = 5, nq: int = 3, s: int = 2, **kw) -> MotionClip:
    quat = np.zeros((t, s, 4))
    quat[..., 0] = 1.0
    args = dict(
        fps=100.0,
        qpos=np.linspace(0, 1, t * nq).reshape(t, nq),
        qvel=np.zeros((t, nq)),
        site_pos=np.ones((t, s, 3)),
        site_quat=quat,
        site_names=tuple(f"s{i}" for i in range(s)),
        joint_names=tuple(f"j{i}" for i in range(nq)),
        embodiment="tiny",
        name="clip",
        metadata={"method": "test"},
    )
    args.update(kw)
    return MotionClip(**args)


def test_clip_roundtrip(tmp_path: Path) -> None:
    clip = make_clip()
    path = clip.save(tmp_path / "a.npz")
    back = MotionClip.load(path)
    assert back.fps == 100.0 and back.site_names == clip.site_names and back.joint_names == clip.joint_names
    np.testing.assert_array_equal(back.qpos, clip.qpos)
    assert back.metadata == {"method": "test"} and back.embodiment == "tiny" and back.num_frames == 5
    assert abs(back.duration - 0.04) < 1e-12


def rewrite(path: Path, **changes) -> Path:
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    np.savez(path, **data)
    return path


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"qpos": None}, "qpos", "missing"),
        ({"qvel": np.zeros((4, 3))}, "qvel", "shape"),
        ({"site_pos": np.ones((5, 3, 3))}, "site_pos", "shape"),
        ({"site_quat": np.full((5, 2, 4), np.nan)}, "site_quat", "non-finite"),
        ({"fps": np.array(0.0)}, "fps", "> 0"),
        ({"fps": np.array(-30.0)}, "fps", "> 0"),
        ({"qpos": np.zeros((5,))}, "qpos", "2-D"),
        ({"format_version": np.array(MOTION_FORMAT_VERSION + 1)}, "format_version", "newer"),
        ({"metadata": np.array("{not json")}, "metadata", "JSON"),
    ],
)
def test_malformed_clip_names_file_and_field(tmp_path: Path, changes, field, words) -> None:
    path = make_clip().save(tmp_path / "bad.npz")
    rewrite(path, **changes)
    with pytest.raises(ContractError) as e:
        MotionClip.load(path)
    msg = str(e.value)
    assert str(path) in msg and field in msg and words in msg, msg


def test_not_an_npz_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ContractError, match="junk.npz.*not a readable"):
        MotionClip.load(junk)
    with pytest.raises(ContractError, match="no such motion file"):
        MotionClip.load(tmp_path / "nope.npz")


def test_clip_constructor_validates() -> None:
    with pytest.raises(ContractError, match="'fps'"):
        make_clip(fps=float("nan"))
    with pytest.raises(ContractError, match="site_names.*unique"):
        make_clip(site_names=("a", "a"))
    with pytest.raises(ContractError, match="at least 2 frames"):
        make_clip(t=1)


def test_embodiment_spec_validation() -> None:
    base = dict(
        name="x", root="fixed", tracked_sites=("a",), smpl_joint_map={"Pelvis": "a"}, mjcf_path="x.xml"
    )
    EmbodimentSpec(**base)
    with pytest.raises(ContractError, match="exactly one"):
        EmbodimentSpec(**{**base, "spec_builder": lambda: None})
    with pytest.raises(ContractError, match="unknown SMPL joints"):
        EmbodimentSpec(**{**base, "smpl_joint_map": {"Tail": "a"}})
    with pytest.raises(ContractError, match="root"):
        EmbodimentSpec(**{**base, "root": "floating"})


def test_embodiment_compile_applies_physics() -> None:
    mujoco = pytest.importorskip("mujoco")
    xml = '<mujoco><option timestep="0.01" iterations="100"/><worldbody><body><joint/><geom size=".1"/></body></worldbody></mujoco>'
    emb = EmbodimentSpec(
        name="one",
        root="fixed",
        tracked_sites=("s",),
        smpl_joint_map={},
        spec_builder=lambda: mujoco.MjSpec.from_string(xml),
    )
    m = emb.compile()
    assert m.opt.timestep == 0.002 and m.opt.iterations == 4 and m.opt.ls_iterations == 8
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP


def test_source_motion_checks_shapes() -> None:
    ok = dict(
        fps=30.0,
        joint_names=("Pelvis",),
        positions=np.zeros((3, 1, 3)),
        rotations=np.tile([1.0, 0, 0, 0], (3, 1, 1)),
    )
    SourceMotion(**ok)
    with pytest.raises(ContractError, match="rotations"):
        SourceMotion(**{**ok, "rotations": np.zeros((3, 1, 3))})
    with pytest.raises(ContractError, match="non-finite"):
        SourceMotion(**{**ok, "positions": np.full((3, 1, 3), np.inf)})


def test_report_json(tmp_path: Path) -> None:
    from mm_core.contracts import RetargetReport

    rep = RetargetReport(
        input="a.bvh",
        output=None,
        embodiment="tiny",
        method="gmr-fit",
        status="failed",
        error="boom",
        metrics={"site_rmse_m": np.float32(0.01)},
    )
    data = json.loads(rep.save_json(tmp_path / "r.json").read_text())
    assert data["status"] == "failed" and abs(data["metrics"]["site_rmse_m"] - 0.01) < 1e-6
