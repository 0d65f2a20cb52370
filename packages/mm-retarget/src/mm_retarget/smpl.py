"""The SMPL kinematic tree and forward kinematics of AMASS-style pose parameters.

Without the licensed SMPL body model, joints come from the neutral mean-shape skeleton below (betas are then
ignored, and the reader says so). With the user's own model files (``smplx``, extra ``mm-retarget[smpl]``), joint
positions are shape-aware.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np

from mm_core.contracts import SMPL_JOINTS

#: Parent of each SMPL joint (SMPL order, -1 for the root).
SMPL_PARENTS: tuple[int, ...] = (
    -1,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    9,
    9,
    12,
    13,
    14,
    16,
    17,
    18,
    19,
    20,
    21,
)

# Rest-pose joint layout of the SMPL neutral mean shape (betas = 0), metres, in SMPL's body frame (x = the body's
# left, y = up, z = forward). Row 0 is the template's root joint position J0; every other row is the offset from
# the parent joint. Figures from the SMPL template (joint regressor on the mean-shape mesh) as redistributed in
# amathislab/Kinesis data/xml/smpl_humanoid.xml (BSD-3-Clause, Copyright (c) 2025 Mathis Group EPFL) and
# ZhengyiLuo/PHC (BSD-3-Clause); see ../shared/data/smpl/README.md. Keep this attribution with the numbers.
SMPL_NEUTRAL_OFFSETS = np.array(
    [
        [-0.0018, -0.2233, 0.0282], [0.0695, -0.0914, -0.0068], [-0.0677, -0.0905, -0.0043],
        [-0.0025, 0.1090, -0.0267], [0.0343, -0.3752, -0.0045], [-0.0383, -0.3826, -0.0089],
        [0.0055, 0.1352, 0.0011], [-0.0136, -0.3980, -0.0437], [0.0158, -0.3984, -0.0423],
        [0.0015, 0.0529, 0.0254], [0.0264, -0.0558, 0.1193], [-0.0254, -0.0481, 0.1233],
        [-0.0028, 0.2139, -0.0429], [0.0788, 0.1217, -0.0341], [-0.0818, 0.1188, -0.0386],
        [0.0052, 0.0650, 0.0513], [0.0910, 0.0305, -0.0089], [-0.0960, 0.0326, -0.0091],
        [0.2596, -0.0128, -0.0275], [-0.2537, -0.0133, -0.0214], [0.2492, 0.0090, -0.0012],
        [-0.2553, 0.0078, -0.0056], [0.0840, -0.0082, -0.0149], [-0.0846, -0.0061, -0.0103],
    ]
)  # fmt: skip

#: Width of ``poses`` (axis-angle values per frame) -> body model: the first 66 values are always the root and the
#: 21 body joints; SMPL adds the two hand joints, SMPL-H 2 x 15 finger joints, SMPL-X jaw, eyes and fingers.
POSE_WIDTHS = {66: "smpl-body", 72: "smpl", 156: "smplh", 165: "smplx"}


def forward_kinematics(
    poses: np.ndarray, trans: np.ndarray, offsets: np.ndarray = SMPL_NEUTRAL_OFFSETS
) -> tuple[np.ndarray, np.ndarray]:
    """Global joint positions and orientations of the 24 SMPL joints.

    poses: axis-angle per joint, the first 22 (root + body) used, hands at rest if absent (T, >=66)
    trans: root translation, metres (T, 3)
    offsets: root J0 then parent offsets, SMPL body frame (24, 3)
    Returns positions (T, 24, 3) and quaternions w-x-y-z (T, 24, 4) in AMASS's world (z up).
    """
    from scipy.spatial.transform import Rotation

    t = poses.shape[0]
    aa = np.zeros((t, 24, 3))
    n_body = 24 if poses.shape[1] == 72 else 22  # SMPL-H/X hands are finger chains, not SMPL's hand joints
    aa[:, :n_body] = poses[:, : 3 * n_body].reshape(t, n_body, 3)
    local = Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(t, 24, 3, 3)
    rot = np.empty_like(local)
    pos = np.empty((t, 24, 3))
    rot[:, 0] = local[:, 0]
    pos[:, 0] = offsets[0] + trans
    for j in range(1, 24):
        p = SMPL_PARENTS[j]
        rot[:, j] = rot[:, p] @ local[:, j]
        pos[:, j] = pos[:, p] + rot[:, p] @ offsets[j]
    quat_xyzw = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat()
    return pos, np.roll(quat_xyzw, 1, axis=-1).reshape(t, 24, 4)


def smpl_model_dir(explicit: str | Path | None = None) -> Path | None:
    """The user's SMPL model directory: the option, else ``$MM_SMPL_MODEL_DIR``, else None."""
    d = explicit or os.environ.get("MM_SMPL_MODEL_DIR")
    return Path(d).expanduser() if d else None


#: smplx's class per body model; SMPL's hand joints ride along in ``body_pose``, SMPL-H/X hands stay at rest.
_SMPLX_CLASS = {"smpl": "SMPL", "smplh": "SMPLH", "smplx": "SMPLX"}


def smpl_model_file(model_dir: Path, kind: str, gender: str) -> Path:
    """The model file for ``kind`` (smpl, smplh, smplx) and ``gender`` in ``model_dir``, in smplx's layout
    (``DIR/smpl/SMPL_NEUTRAL.pkl``, ``DIR/smplx/SMPLX_MALE.npz``, also without the subfolder) or AMASS's
    (``DIR/smplh/neutral/model.npz``). Raises ValueError listing the paths tried."""
    stem = f"{kind.upper()}_{gender.upper()}"
    tried = [
        *(model_dir / sub / f"{stem}.{ext}" for sub in (kind, "") for ext in ("npz", "pkl")),
        *(model_dir / sub / gender / "model.npz" for sub in (kind, "")),
    ]
    found = next((f for f in tried if f.is_file()), None)
    if found is None:
        raise ValueError(
            f"no {kind} {gender} model file in {model_dir} (option smpl_model_dir / MM_SMPL_MODEL_DIR); tried "
            f"{', '.join(str(f.relative_to(model_dir)) for f in tried)}. Download it from the SMPL / MANO / "
            "SMPL-X site and place it at one of these paths"
        )
    return found


def smplx_joints(
    model_dir: Path, model_type: str, gender: str, poses: np.ndarray, trans: np.ndarray, betas: np.ndarray
) -> np.ndarray:
    """Shape-aware positions of the 22 body joints from the user's SMPL/SMPL-H/SMPL-X files via ``smplx``.

    poses: axis-angle (T, 66|72|156|165); trans: root translation (T, 3); betas: shape coefficients (B,), as
    many used as the model has (a warning says when non-zero ones are left over).
    Returns positions (T, 22, 3), metres, AMASS world. Raises ValueError saying what to install or provide.
    """
    try:
        import smplx
        import torch
        from smplx.utils import Struct
    except ImportError as e:
        raise ValueError(
            f"SMPL model files given ({model_dir}) but smplx is not installed: pip install 'mm-retarget[smpl]'"
        ) from e
    if not model_dir.is_dir():
        raise ValueError(
            f"SMPL model directory {model_dir} does not exist (option smpl_model_dir / MM_SMPL_MODEL_DIR)"
        )
    kind = "smpl" if model_type == "smpl-body" else model_type
    path = smpl_model_file(model_dir, kind, gender)
    t = poses.shape[0]
    cls = getattr(smplx, _SMPLX_CLASS[kind])
    args: dict = dict(gender=gender, num_betas=max(len(betas), 10), batch_size=t)
    if kind != "smpl":
        args["use_pca"] = False
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-beta models
            if kind == "smplx":  # reads its own file (npz or pkl)
                model = cls(str(path), ext=path.suffix[1:], **args)
            else:  # smplx's SMPL reads only .pkl; SMPL-H from AMASS is .npz: load either, hand over the arrays
                model = cls(str(path), data_struct=Struct(**_load_model_arrays(path)), **args)
    except Exception as e:  # smplx raises AssertionError / KeyError / OSError on a bad file
        raise ValueError(
            f"could not load the {kind} {gender} model {path}: {type(e).__name__}: {e}; is it the "
            f"{kind.upper()} model file (with v_template, shapedirs, J_regressor, weights, kintree_table)?"
        ) from e
    nb = model.num_betas  # smplx uses 10 of a model with fewer than 300 shape components
    if np.any(betas[nb:] != 0):
        warnings.warn(
            f"{path}: smplx uses the first {nb} of the motion's {len(betas)} betas; the rest are ignored",
            stacklevel=2,
        )
    b = np.zeros((t, nb), np.float32)
    b[:, : min(nb, len(betas))] = betas[:nb]
    f = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    kwargs = dict(global_orient=f(poses[:, :3]), body_pose=f(poses[:, 3:66]), transl=f(trans), betas=f(b))
    if kind == "smpl":
        hands = poses[:, 66:72] if poses.shape[1] >= 72 else np.zeros((t, 6))
        kwargs["body_pose"] = f(np.concatenate([poses[:, 3:66], hands], axis=1))
    with torch.no_grad():
        out = model(**kwargs)
    return out.joints[:, :22].double().numpy()


def _load_model_arrays(path: Path) -> dict:
    """The arrays of an SMPL-family model file: ``.npz``, or the original ``.pkl`` (a pickle: the user's own
    file, loaded as smplx itself does)."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=True) as z:
            return {k: z[k] for k in z.files}
    import pickle

    with path.open("rb") as fh:
        return pickle.load(fh, encoding="latin1")


__all__ = [
    "SMPL_JOINTS",
    "SMPL_NEUTRAL_OFFSETS",
    "SMPL_PARENTS",
    "forward_kinematics",
    "smpl_model_dir",
    "smpl_model_file",
]
