"""GLB export of a retargeted clip: the model's geoms (MuJoCo meshes and primitives) posed at chosen frames, beside
the fitted source skeleton (spheres at joints, cylinders along segments), for a quick look in any glTF viewer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mm_core.contracts import MotionClip

MODEL_RGBA = (190, 190, 200, 255)
SOURCE_RGBA = (220, 40, 40, 255)
JOINT_RADIUS = 0.02
BONE_RADIUS = 0.008


def _geom_mesh(m, d, g: int):  # noqa: ANN001, ANN202 (mujoco, trimesh types imported lazily)
    import mujoco
    import trimesh

    t = m.geom_type[g]
    s = m.geom_size[g]
    G = mujoco.mjtGeom
    if t == G.mjGEOM_MESH:
        mid = m.geom_dataid[g]
        va, vn = m.mesh_vertadr[mid], m.mesh_vertnum[mid]
        fa, fn = m.mesh_faceadr[mid], m.mesh_facenum[mid]
        mesh = trimesh.Trimesh(
            m.mesh_vert[va : va + vn].copy(), m.mesh_face[fa : fa + fn].copy(), process=False
        )
    elif t == G.mjGEOM_SPHERE:
        mesh = trimesh.creation.icosphere(subdivisions=2, radius=s[0])
    elif t == G.mjGEOM_CAPSULE:
        mesh = trimesh.creation.capsule(height=2 * s[1], radius=s[0], count=[12, 12])
    elif t == G.mjGEOM_CYLINDER:
        mesh = trimesh.creation.cylinder(radius=s[0], height=2 * s[1], sections=16)
    elif t == G.mjGEOM_ELLIPSOID:
        mesh = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
        mesh.apply_scale(s)
    elif t == G.mjGEOM_BOX:
        mesh = trimesh.creation.box(extents=2 * s)
    else:
        return None  # planes, height fields, SDFs: not part of a body's look
    tf = np.eye(4)
    tf[:3, :3] = d.geom_xmat[g].reshape(3, 3)
    tf[:3, 3] = d.geom_xpos[g]
    mesh.apply_transform(tf)
    mesh.visual.face_colors = MODEL_RGBA
    return mesh


def _bone(a: np.ndarray, b: np.ndarray):  # noqa: ANN202
    import trimesh

    if np.linalg.norm(b - a) < 1e-6:
        return None
    return trimesh.creation.cylinder(radius=BONE_RADIUS, segment=np.stack([a, b]), sections=8)


def export_glb(clip: MotionClip, out: str | Path, frames: list[int], *, spacing: float = 1.0) -> Path:
    """Write ``out`` (.glb): for each frame, the posed model and the source skeleton, frames side by side."""
    import mujoco
    import trimesh

    from mm_core import get_embodiment
    from mm_retarget.fit import joint_tree

    m = get_embodiment(clip.embodiment).compile()
    if clip.qpos.shape[1] != m.nq:
        raise ValueError(f"clip has nq={clip.qpos.shape[1]} but embodiment {clip.embodiment!r} has nq={m.nq}")
    d = mujoco.MjData(m)
    meta = clip.metadata
    src = np.asarray(meta["source_positions"]) if "source_positions" in meta else None
    names = list(meta.get("source_joints", []))
    parents = joint_tree(names) if names else {}
    scene = trimesh.Scene()
    visible = [g for g in range(m.ngeom) if m.geom_rgba[g, 3] > 0 and m.geom_bodyid[g] != 0]
    for i, f in enumerate(frames):
        shift = np.array([spacing * i, 0.0, 0.0])
        d.qpos[:] = clip.qpos[f]
        mujoco.mj_kinematics(m, d)
        parts = [p for p in (_geom_mesh(m, d, g) for g in visible) if p is not None]
        body = trimesh.util.concatenate(parts)
        body.apply_translation(shift)
        scene.add_geometry(body, geom_name=f"model_frame{f}", node_name=f"model_frame{f}")
        if src is not None:
            pts = src[f] + shift
            skel = [
                trimesh.creation.icosphere(subdivisions=1, radius=JOINT_RADIUS).apply_translation(p)
                for p in pts
            ]
            for n, p in parents.items():
                if p is not None:
                    bone = _bone(pts[names.index(p)], pts[names.index(n)])
                    if bone is not None:
                        skel.append(bone)
            sk = trimesh.util.concatenate(skel)
            sk.visual.face_colors = SOURCE_RGBA
            scene.add_geometry(sk, geom_name=f"source_frame{f}", node_name=f"source_frame{f}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(scene.export(file_type="glb"))
    return out
