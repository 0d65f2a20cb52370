"""The SMPL-model route (AMASS with the user's SMPL / SMPL-H / SMPL-X files, through ``smplx``) on synthetic models.

The licensed model files cannot live here, so the test writes them in smplx's format: the arrays smplx loads
(v_template, shapedirs, posedirs, J_regressor, weights, kintree_table, f), with the joints of the built-in neutral
SMPL skeleton and a small mesh (a tetrahedron about each joint, regressed to its centre, skinned to it). One shape
component, beta 0, lengthens both legs below the hips by ``LEG_PER_BETA`` per unit: so the joints smplx computes
are known by hand for any pose and shape, and a retargeted clip must fit a leg scale that differs accordingly.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from mm_core import get_embodiment
from mm_retarget import smpl
from mm_retarget.readers import read_amass, write_amass

smplx = pytest.importorskip(
    "smplx", reason="the SMPL-model route needs smplx: pip install 'mm-retarget[smpl]'"
)

LEG_PER_BETA = 0.1  # relative leg length change per unit of beta 0
LEG = (4, 5, 7, 8, 10, 11)  # knees, ankles, feet: what moves when the legs lengthen
HIP_OF = {4: 1, 7: 1, 10: 1, 5: 2, 8: 2, 11: 2}
SKELETON_CSV = Path(__file__).parents[3] / ".." / "shared" / "data" / "smpl" / "smpl_neutral_skeleton.csv"


def _rest_joints(offsets: np.ndarray) -> np.ndarray:
    """Rest positions (24, 3) from root J0 + parent offsets (SMPL body frame)."""
    j = np.empty((24, 3))
    j[0] = offsets[0]
    for k in range(1, 24):
        j[k] = j[smpl.SMPL_PARENTS[k]] + offsets[k]
    return j


def _synthetic_model(kind: str) -> dict[str, np.ndarray]:
    """An SMPL (24 joints), SMPL-H (52: the 22 body joints, 2 x 15 finger joints) or SMPL-X (55: body, jaw, eyes,
    fingers) model in smplx's format."""
    body = _rest_joints(smpl.SMPL_NEUTRAL_OFFSETS)
    joints, parents = list(body), list(smpl.SMPL_PARENTS)
    if kind != "smpl":  # SMPL's two hand joints give way to the finger chains (SMPL-X: after jaw and eyes)
        joints, parents = joints[:22], parents[:22]
        if kind == "smplx":
            for dx in (0.0, 0.03, -0.03):  # jaw, left eye, right eye, on the head
                parents.append(15)
                joints.append(body[15] + [dx, 0.05, 0.08])
        for wrist, side in ((20, 1.0), (21, -1.0)):
            for finger in range(5):
                for seg in range(3):
                    parents.append(wrist if seg == 0 else len(joints) - 1)
                    joints.append(body[wrist] + [side * 0.03 * (seg + 1), 0.0, 0.02 * (finger - 2)])
    joints = np.asarray(joints)
    nj = len(joints)
    # smplx appends keypoints picked at fixed vertex ids of the real topology (nose, toes, finger tips), so the
    # mesh needs as many vertices; the ones past the tetrahedra are skinned to the root and take no part in joints.
    nv = max(smplx.vertex_ids.vertex_ids["smplx" if kind == "smplx" else "smplh"].values()) + 1
    tet = 0.02 * np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])  # centred on 0
    v = np.zeros((nv, 3))
    regressor = np.zeros((nj, nv))
    weights = np.zeros((nv, nj))
    weights[4 * nj :, 0] = 1.0
    shapedirs = np.zeros((nv, 3, 20 if kind == "smplx" else 10))  # SMPL-X: 10 shape + 10 expression
    faces = []
    for k in range(nj):
        ids = np.arange(4 * k, 4 * k + 4)
        v[ids] = joints[k] + tet
        regressor[k, ids] = 0.25
        weights[ids, k] = 1.0
        faces += [ids[[0, 1, 2]], ids[[0, 3, 1]], ids[[0, 2, 3]], ids[[1, 3, 2]]]
        if k in LEG:
            shapedirs[ids, :, 0] = LEG_PER_BETA * (joints[k] - joints[HIP_OF[k]])
    model = {
        "v_template": v,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((nv, 3, 9 * (nj - 1)), np.float32),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, *parents[1:]], list(range(nj))], dtype=np.int64),
        "f": np.asarray(faces, dtype=np.int64),
    }
    if kind != "smpl":  # hand pose PCA (unused: the route passes full hand poses) and the mean hand pose
        model |= {f"hands_components{s}": np.eye(45) for s in "lr"} | {
            f"hands_mean{s}": np.zeros(45) for s in "lr"
        }
    if kind == "smplx":  # 51 face landmarks, barycentric on the mesh's faces
        model |= {"lmk_faces_idx": np.zeros(51, np.int64), "lmk_bary_coords": np.full((51, 3), 1 / 3)}
    return model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """smplx's layout for SMPL (``smpl/SMPL_NEUTRAL.pkl``) and SMPL-X (``smplx/SMPLX_NEUTRAL.npz``), AMASS's for
    SMPL-H (``smplh/neutral/model.npz``)."""
    d = tmp_path_factory.mktemp("smpl_models")
    (d / "smpl").mkdir()
    with (d / "smpl" / "SMPL_NEUTRAL.pkl").open("wb") as fh:
        pickle.dump(_synthetic_model("smpl"), fh)
    (d / "smplh" / "neutral").mkdir(parents=True)
    np.savez(d / "smplh" / "neutral" / "model.npz", **_synthetic_model("smplh"))
    (d / "smplx").mkdir()
    np.savez(d / "smplx" / "SMPLX_NEUTRAL.npz", **_synthetic_model("smplx"))
    return d


def _random_motion(t: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    poses = rng.normal(scale=0.4, size=(t, width))
    trans = rng.normal(scale=0.5, size=(t, 3))
    return poses, trans


def test_embedded_skeleton_is_the_shared_data_file() -> None:
    """The synthetic model's joints come from the package's neutral skeleton: the one in shared data."""
    if not SKELETON_CSV.is_file():
        pytest.skip(f"{SKELETON_CSV} not found")
    rows = np.genfromtxt(SKELETON_CSV, delimiter=",", names=True, dtype=None, encoding=None)
    np.testing.assert_array_equal(rows["parent_index"], smpl.SMPL_PARENTS)
    np.testing.assert_allclose(np.stack([rows["x"], rows["y"], rows["z"]], 1), smpl.SMPL_NEUTRAL_OFFSETS)


@pytest.mark.parametrize(("kind", "width"), [("smpl", 72), ("smplh", 156), ("smplx", 165)])
def test_smplx_joints_match_the_skeleton_at_betas_zero(model_dir: Path, kind: str, width: int) -> None:
    """At betas = 0 smplx's linear blend skinning of the synthetic model is the neutral skeleton's forward
    kinematics (an independent route: scipy rotations down the tree), for any pose and translation."""
    poses, trans = _random_motion(7, width)
    got = smpl.smplx_joints(model_dir, kind, "neutral", poses, trans, np.zeros(16))
    want, _ = smpl.forward_kinematics(poses, trans)
    np.testing.assert_allclose(got, want[:, :22], atol=2e-5)  # smplx computes in float32


def test_betas_move_the_joints_as_the_model_says(model_dir: Path) -> None:
    """Beta 0 = 2 lengthens thigh and shank by 2 * LEG_PER_BETA and moves nothing above the hips, in any pose."""
    poses, trans = _random_motion(5, 72, seed=1)
    betas = np.zeros(10)
    betas[0] = 2.0
    got = smpl.smplx_joints(model_dir, "smpl", "neutral", poses, trans, betas)
    ref, _ = smpl.forward_kinematics(poses, trans)
    upper = [k for k in range(22) if k not in LEG]
    np.testing.assert_allclose(got[:, upper], ref[:, upper], atol=2e-5)
    scale = 1.0 + 2.0 * LEG_PER_BETA
    for child, parent in ((4, 1), (7, 4), (5, 2), (8, 5)):  # thighs and shanks
        length = np.linalg.norm(got[:, child] - got[:, parent], axis=-1)
        neutral = np.linalg.norm(smpl.SMPL_NEUTRAL_OFFSETS[child])
        np.testing.assert_allclose(length, scale * neutral, rtol=1e-5)


def test_betas_beyond_the_model_are_reported(model_dir: Path) -> None:
    """AMASS has 16 betas, a 10-component model uses 10: zeros past them pass quietly, a non-zero one warns."""
    poses, trans = _random_motion(2, 72)
    betas = np.zeros(16)
    betas[0] = 1.0
    ten = smpl.smplx_joints(model_dir, "smpl", "neutral", poses, trans, betas)
    betas[12] = 1.0
    with pytest.warns(UserWarning, match="first 10 of the motion's 16 betas"):
        more = smpl.smplx_joints(model_dir, "smpl", "neutral", poses, trans, betas)
    np.testing.assert_array_equal(more, ten)


def test_missing_model_file_names_the_paths_tried(model_dir: Path) -> None:
    poses, trans = _random_motion(2, 165)
    with pytest.raises(ValueError, match=r"no smplx female model file in .*smplx/SMPLX_FEMALE\.npz"):
        smpl.smplx_joints(model_dir, "smplx", "female", poses, trans, np.zeros(10))


def test_amass_clip_with_model_files_fits_the_longer_legs(model_dir: Path, tmp_path: Path) -> None:
    """End to end on the free-root model: an AMASS walk with long-legged betas, read with the model files,
    is a different source from the skeleton-only read (which ignores betas), and the retarget's leg scale fit
    differs by exactly the legs' length ratio; the root's travel is scaled with it."""
    from mm_retarget.demo import generate
    from mm_retarget.retarget import retarget

    poses, trans, fps = generate("walk", seconds=1.0)
    betas = np.zeros(16)
    betas[0] = 2.0
    path = write_amass(tmp_path / "walk.npz", poses, trans, fps, betas=betas)
    plain = read_amass(path)
    shaped = read_amass(path, smpl_model_dir=model_dir)
    assert plain.metadata["betas_ignored"] and plain.metadata["joints"] == "neutral SMPL skeleton"
    assert shaped.metadata["joints"].startswith("smplx")
    j = {n: i for i, n in enumerate(shaped.joint_names)}
    shin = lambda s: np.linalg.norm(s.positions[:, j["L_Ankle"]] - s.positions[:, j["L_Knee"]], axis=-1)  # noqa: E731
    np.testing.assert_allclose(shin(shaped) / shin(plain), 1.0 + 2.0 * LEG_PER_BETA, rtol=1e-5)

    emb = get_embodiment("myofullbody-nofingers")
    a, b = (retarget(s, emb) for s in (plain, shaped))
    ratio = b.metadata["fit"]["global_scale"] / a.metadata["fit"]["global_scale"]
    assert ratio == pytest.approx(1.0 / (1.0 + 2.0 * LEG_PER_BETA), rel=1e-4)
    travel = [np.linalg.norm(c.qpos[-1, :2] - c.qpos[0, :2]) for c in (a, b)]
    assert travel[1] / travel[0] == pytest.approx(ratio, rel=0.05)
