"""Readers on real data (CMU BVH, generated AMASS files) and on broken files."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mm_core import SMPL_JOINTS, motion_reader_for
from mm_retarget import smpl
from mm_retarget.readers import read_amass, read_bvh, write_amass

DATA = Path(__file__).parents[3] / ".." / "shared" / "data"
WALK = DATA / "mocap" / "35_01.bvh"
RUN = DATA / "mocap" / "35_17.bvh"
needs_mocap = pytest.mark.skipif(
    not WALK.is_file(), reason=f"CMU mocap clips not found under {DATA / 'mocap'}"
)


def _quat_to_mat(q: np.ndarray) -> np.ndarray:
    return Rotation.from_quat(np.roll(q, -1, axis=-1)).as_matrix()


@needs_mocap
def test_bvh_cmu_walk_is_metric_z_up_and_skips_rest_frame() -> None:
    s = read_bvh(WALK)
    assert s.fps == pytest.approx(120.0, rel=1e-3)
    assert s.positions.shape[0] == 358  # 359 frames in the file, the first is the conversion's rest pose
    assert s.metadata["skipped_rest_frame"] and s.metadata["units"] == "cmu"
    j = {n: i for i, n in enumerate(s.joint_names)}
    p = s.positions
    femur = np.linalg.norm(p[:, j["L_Hip"]] - p[:, j["L_Knee"]], axis=-1)
    assert 0.38 < femur.mean() < 0.48  # an adult femur, so the unit was detected right
    assert np.all(p[:, j["Head"], 2] > p[:, j["Pelvis"], 2] + 0.3)  # z is up
    assert 0.85 < p[:, j["Pelvis"], 2].mean() < 1.1
    feet = p[:, [j["L_Foot"], j["R_Foot"]], 2].min(axis=1)
    assert np.all(np.abs(feet) < 0.1)  # toes near the floor the whole walk
    travel = np.linalg.norm(p[-1, j["Pelvis"], :2] - p[0, j["Pelvis"], :2])
    assert 2.5 < travel < 5.0  # ~3 s of walking at ~1.3 m/s


@needs_mocap
def test_bvh_orientations_reproduce_positions() -> None:
    """Global orientations are real: a child sits at parent + R_parent @ offset (metres, z up)."""
    import pybvh

    s = read_bvh(RUN)
    b = pybvh.read_bvh_file(RUN, world_up="+y")
    topo = b.fk_topology
    j = {n: i for i, n in enumerate(s.joint_names)}
    knee_node = list(b.node_index)[list(b.node_index).index("LeftLeg")]
    offset = topo.offsets[b.node_index[knee_node]] * s.metadata["metres_per_unit"]
    r_hip = _quat_to_mat(s.rotations[:, j["L_Hip"]])
    pred = s.positions[:, j["L_Hip"]] + r_hip @ offset
    np.testing.assert_allclose(pred, s.positions[:, j["L_Knee"]], atol=1e-9)


@needs_mocap
def test_bvh_custom_joint_map_and_explicit_units(tmp_path: Path) -> None:
    text = WALK.read_text().replace("LeftUpLeg", "thigh_l").replace("RightUpLeg", "thigh_r")
    f = tmp_path / "renamed.bvh"
    f.write_text(text)
    jm = {
        "Hips": "Pelvis",
        "thigh_l": "L_Hip",
        "thigh_r": "R_Hip",
        "LeftLeg": "L_Knee",
        "LeftFoot": "L_Ankle",
    }
    (tmp_path / "map.json").write_text(json.dumps(jm))
    (tmp_path / "map.toml").write_text("[joints]\n" + "\n".join(f'{k} = "{v}"' for k, v in jm.items()))
    for m in ("map.json", "map.toml"):
        s = read_bvh(f, joint_map=tmp_path / m, units="cmu")
        assert {"Pelvis", "L_Hip", "R_Hip", "L_Knee"} <= set(s.joint_names)
    ref = read_bvh(WALK)
    np.testing.assert_allclose(
        s.positions[:, s.joint_names.index("L_Hip")], ref.positions[:, ref.joint_names.index("L_Hip")]
    )


def _broken(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@needs_mocap
def test_bvh_rejects_bad_files(tmp_path: Path) -> None:
    text = WALK.read_text()
    truncated = _broken(tmp_path, "trunc.bvh", text[: len(text) // 3])
    with pytest.raises(ValueError, match="trunc.bvh"):
        read_bvh(truncated)
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("Frame Time")) + 5
    lines[i] = " ".join(["nan"] + lines[i].split()[1:])
    with pytest.raises(ValueError, match=r"nonfinite\.bvh.*non-finite|nonfinite\.bvh.*not a readable"):
        read_bvh(_broken(tmp_path, "nonfinite.bvh", "\n".join(lines) + "\n"))
    alien = text
    for name in (
        "Hips",
        "LeftUpLeg",
        "RightUpLeg",
        "LeftLeg",
        "RightLeg",
        "Spine1",
        "LeftArm",
        "RightArm",
        "Head",
    ):
        alien = alien.replace(f" {name}\n", f" x{name}\n")
    with pytest.raises(ValueError, match=r"alien\.bvh.*joint map"):
        read_bvh(_broken(tmp_path, "alien.bvh", alien))
    (tmp_path / "bad_map.json").write_text(json.dumps({"Hips": "Pelvis", "LeftLeg": "Left_Knee"}))
    with pytest.raises(ValueError, match=r"bad_map\.json.*Left_Knee"):
        read_bvh(WALK, joint_map=tmp_path / "bad_map.json")
    (tmp_path / "missing_map.json").write_text(json.dumps({"Hips": "Pelvis", "NoSuchJoint": "L_Knee"}))
    with pytest.raises(ValueError, match="NoSuchJoint"):
        read_bvh(WALK, joint_map=tmp_path / "missing_map.json")
    with pytest.raises(ValueError, match="units"):
        read_bvh(WALK, units="furlong")
    with pytest.raises(ValueError, match="no such file"):
        read_bvh(tmp_path / "absent.bvh")


def test_neutral_skeleton_constants_match_shared_data() -> None:
    f = DATA / "smpl" / "smpl_neutral_skeleton.csv"
    if not f.is_file():
        pytest.skip(f"SMPL skeleton figures not found at {f}")
    rows = list(csv.DictReader(f.open()))
    assert [r["alias"] for r in rows][:1] == ["Pelvis"]
    np.testing.assert_allclose(smpl.SMPL_NEUTRAL_OFFSETS, [[float(r[c]) for c in "xyz"] for r in rows])
    assert tuple(int(r["parent_index"]) for r in rows) == smpl.SMPL_PARENTS


def _amass(tmp_path: Path, name: str = "m.npz", width: int = 156, t: int = 20, **extra: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.2, (t, width))
    poses[:, :3] = Rotation.from_euler(
        "x", 90, degrees=True
    ).as_rotvec()  # SMPL y-up body -> AMASS z-up world
    data = {"poses": poses, "trans": np.tile([0.0, 0.0, 0.95], (t, 1)), "betas": np.zeros(16),
            "mocap_framerate": np.array(120.0), "gender": np.array("neutral")}  # fmt: skip
    data.update(extra)
    p = tmp_path / name
    np.savez(p, **data)
    return p


def test_amass_reader_fk_and_widths(tmp_path: Path) -> None:
    for width in (72, 156, 165):
        s = read_amass(_amass(tmp_path, f"w{width}.npz", width))
        assert s.joint_names == SMPL_JOINTS and s.positions.shape == (20, 24, 3) and s.fps == 120.0
        assert s.metadata["joints"] == "neutral SMPL skeleton" and s.metadata["betas_ignored"] is False
    # Rest pose, root turned y-up -> z-up: joints are the template offsets, turned, above the translation.
    poses = np.zeros((2, 72))
    poses[:, :3] = Rotation.from_euler("x", 90, degrees=True).as_rotvec()
    p = write_amass(tmp_path / "rest.npz", poses, np.zeros((2, 3)), 30.0)
    s = read_amass(p)
    j = {n: i for i, n in enumerate(s.joint_names)}
    knee = s.positions[0, j["L_Knee"]] - s.positions[0, j["L_Hip"]]
    np.testing.assert_allclose(knee, [0.0343, 0.0045, -0.3752], atol=1e-9)  # (x, -z, y) of the offset
    assert s.positions[0, j["Head"], 2] > s.positions[0, j["Pelvis"], 2] + 0.4
    # SMPL-X split keys and the other frame-rate key name
    s = read_amass(_amass(tmp_path, "x.npz", 66, root_orient=np.zeros((20, 3)), pose_body=np.zeros((20, 63))))
    assert s.positions.shape == (20, 24, 3)
    q = tmp_path / "x2.npz"
    np.savez(q, root_orient=np.zeros((5, 3)), pose_body=np.zeros((5, 63)), trans=np.zeros((5, 3)),
             mocap_frame_rate=np.array(60.0), betas=np.ones(10))  # fmt: skip
    s = read_amass(q)
    assert s.fps == 60.0 and s.metadata["betas_ignored"] is True
    assert motion_reader_for(q).name == "amass" and motion_reader_for(WALK).name == "bvh"


def test_amass_split_keys_take_the_model_from_surface_model_type(tmp_path: Path) -> None:
    """AMASS SMPL-X files store root_orient/pose_body (66 values: no width tells the family) and name the model in
    ``surface_model_type``: that, not the width, picks the body model (and so the model file with --smpl-model-dir)."""

    def split(name: str, **extra: object) -> Path:
        p = tmp_path / name
        np.savez(p, root_orient=np.zeros((5, 3)), pose_body=np.zeros((5, 63)), trans=np.zeros((5, 3)),
                 mocap_frame_rate=np.array(120.0), gender=np.array("female"), **extra)  # fmt: skip
        return p

    s = read_amass(split("x.npz", surface_model_type=np.array("smplx")))
    assert s.metadata["body_model"] == "smplx" and "SMPL-X" in s.metadata["note"]
    assert s.metadata["gender"] == "female"
    assert read_amass(split("h.npz", surface_model_type=np.array(b"smplh"))).metadata["body_model"] == "smplh"
    assert read_amass(split("plain.npz")).metadata["body_model"] == "smpl-body"  # nothing says otherwise
    with pytest.raises(
        ValueError, match=r"bad\.npz: 'surface_model_type' is 'mano': expected smpl, smplh or smplx"
    ):
        read_amass(split("bad.npz", surface_model_type=np.array("mano")))
    wide = tmp_path / "wide.npz"
    np.savez(wide, poses=np.zeros((5, 72)), trans=np.zeros((5, 3)), mocap_framerate=np.array(120.0),
             surface_model_type=np.array("smplx"))  # fmt: skip
    with pytest.raises(
        ValueError, match=r"wide\.npz: 'surface_model_type' is 'smplx' but the poses are 72 values"
    ):
        read_amass(wide)


def test_amass_reader_rejects_bad_files(tmp_path: Path) -> None:
    good = _amass(tmp_path)
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"trunc\.npz.*not a readable"):
        read_amass(tmp_path / "trunc.npz")
    cases = {
        "nokeys.npz": ({"foo": np.zeros(3)}, "no pose keys"),
        "shape.npz": ({"poses": np.zeros((10, 70)), "trans": np.zeros((10, 3)), "mocap_framerate": 30.0}, "66"),
        "trans.npz": ({"poses": np.zeros((10, 72)), "trans": np.zeros((9, 3)), "mocap_framerate": 30.0}, "trans"),
        "nofps.npz": ({"poses": np.zeros((10, 72)), "trans": np.zeros((10, 3))}, "frame rate"),
        "nan.npz": ({"poses": np.full((10, 72), np.nan), "trans": np.zeros((10, 3)), "mocap_framerate": 30.0},
                    "non-finite"),
        "fps0.npz": ({"poses": np.zeros((10, 72)), "trans": np.zeros((10, 3)), "mocap_framerate": 0.0}, "> 0"),
    }  # fmt: skip
    for name, (data, what) in cases.items():
        np.savez(tmp_path / name, **data)
        with pytest.raises(ValueError, match=rf"{name.replace('.', '[.]')}.*{what}"):
            read_amass(tmp_path / name)


def test_amass_smplx_shape_aware_joints(tmp_path: Path) -> None:
    """With the user's SMPL model files (MM_SMPL_MODEL_DIR) and smplx installed, joints follow betas."""
    model_dir = smpl.smpl_model_dir()
    if model_dir is None or not model_dir.is_dir():
        pytest.skip("no SMPL model files (set MM_SMPL_MODEL_DIR to the licensed SMPL models to run this)")
    pytest.importorskip("smplx")
    p = _amass(tmp_path, width=156, betas=np.r_[2.0, np.zeros(15)])
    s = read_amass(p, smpl_model_dir=os.environ["MM_SMPL_MODEL_DIR"])
    assert s.metadata["joints"].startswith("smplx")
    assert s.positions.shape == (20, 24, 3)


def test_smplx_missing_is_a_clear_error(tmp_path: Path) -> None:
    try:
        import smplx  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match=r"mm-retarget\[smpl\]"):
            read_amass(_amass(tmp_path), smpl_model_dir=tmp_path)
    else:
        with pytest.raises(ValueError, match="could not load|does not exist"):
            read_amass(_amass(tmp_path), smpl_model_dir=tmp_path / "nowhere")
