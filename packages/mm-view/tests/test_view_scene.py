"""The viewer's geometry: primitives enclose MuJoCo's volumes with outward faces; body meshes are posed by FK."""

from __future__ import annotations

import numpy as np
import pytest

from mm_view.scene import _primitive, body_meshes, visible_geoms


def signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    """Divergence theorem: positive, and the enclosed volume, only when every face is wound outwards."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


@pytest.mark.parametrize(
    ("xml", "volume", "tol"),
    [
        ('<geom type="box" size=".1 .2 .3"/>', 8 * 0.1 * 0.2 * 0.3, 1e-12),
        ('<geom type="sphere" size=".2"/>', 4 / 3 * np.pi * 0.2**3, 0.03),
        ('<geom type="ellipsoid" size=".1 .2 .3"/>', 4 / 3 * np.pi * 0.1 * 0.2 * 0.3, 0.03),
        ('<geom type="cylinder" size=".1 .3"/>', np.pi * 0.1**2 * 0.6, 0.02),
        ('<geom type="capsule" size=".1 .3"/>', np.pi * 0.1**2 * (0.6 + 4 / 3 * 0.1), 0.03),
    ],
)
def test_primitives_enclose_mujocos_volume_with_outward_faces(xml: str, volume: float, tol: float) -> None:
    import mujoco

    m = mujoco.MjModel.from_xml_string(f"<mujoco><worldbody><body>{xml}</body></worldbody></mujoco>")
    v, f = _primitive(m, 0)
    assert signed_volume(v, f) == pytest.approx(volume, rel=tol)


def test_fullbody_meshes_are_its_visible_bones_in_body_frames() -> None:
    import mujoco

    from mm_core import get_embodiment

    m = get_embodiment("myofullbody-nofingers").compile()
    geoms = visible_geoms(m)
    # MuJoCo's viewer shows geom groups 0-2 by default: the bone meshes, not the wrapping/contact geoms (3-5).
    assert geoms and all(m.geom_group[g] <= 2 for g in geoms)
    meshes = body_meshes(m)
    assert set(meshes) == {int(m.geom_bodyid[g]) for g in geoms}
    nverts = sum(
        int(m.mesh_vertnum[m.geom_dataid[g]]) for g in geoms if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH
    )
    assert sum(len(v) for v, _, _ in meshes.values()) >= nverts
    # Posed by the body's frame, a mesh vertex lands where MuJoCo puts the geom's vertex in the world.
    d = mujoco.MjData(m)
    d.qpos[:] = m.qpos0
    d.qpos[7:] += 0.1
    mujoco.mj_kinematics(m, d)
    g = next(g for g in geoms if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and m.geom_bodyid[g] > 1)
    b = int(m.geom_bodyid[g])
    first = int(m.mesh_vertadr[m.geom_dataid[g]])
    world_geom = d.geom_xpos[g] + d.geom_xmat[g].reshape(3, 3) @ m.mesh_vert[first]
    rot = np.empty(9)
    mujoco.mju_quat2Mat(rot, d.xquat[b])
    verts = meshes[b][0]
    posed = verts @ rot.reshape(3, 3).T + d.xpos[b]
    assert np.min(np.linalg.norm(posed - world_geom, axis=1)) < 1e-6
