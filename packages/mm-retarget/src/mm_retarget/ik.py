"""Differential IK with ``mink`` over the tracked sites, warm-started frame to frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from mm_retarget.model import RetargetModel
from mm_retarget.options import RetargetOptions


def _tasks(
    mdl: RetargetModel, sites: list[str], opts: RetargetOptions
) -> tuple[list[Any], list[Any], list[Any]]:
    """(site position tasks (K,), every task, limits): positions, a posture pull towards the reference pose,
    the joint-equality couplings as a soft task, joint limits as hard QP bounds (each as ``opts`` asks)."""
    import mink

    m = mdl.model
    site_tasks = [
        mink.FrameTask(s, "site", position_cost=opts.position_cost, orientation_cost=0.0) for s in sites
    ]
    tasks: list[Any] = list(site_tasks)
    if opts.posture_cost > 0:
        post = mink.PostureTask(m, cost=opts.posture_cost)
        post.set_target(mdl.ref_qpos)
        tasks.append(post)
    if opts.equality_cost > 0 and m.neq > 0:
        tasks.append(mink.EqualityConstraintTask(m, cost=opts.equality_cost))
    limits = [mink.ConfigurationLimit(m, gain=0.95)] if opts.limits else []
    return site_tasks, tasks, limits


def solve_ik(mdl: RetargetModel, sites: list[str], targets: np.ndarray, opts: RetargetOptions) -> np.ndarray:
    """Site positions over time -> poses: targets (N, K, 3) for ``sites`` (K,) -> qpos (N, nq).

    The first frame starts from the reference pose (free root: moved under the main site's first target) and gets
    ``opts.first_iterations``; each next frame starts from the previous one and gets ``opts.iterations``.
    """
    import mink

    m = mdl.model
    cfg = mink.Configuration(m, q=mdl.ref_qpos.copy())
    site_tasks, tasks, limits = _tasks(mdl, sites, opts)
    if mdl.spec.root == "free" and mdl.spec.main_site in sites:
        # Start with the root under the first target of the main site so the first solve is short.
        cfg.data.qpos[:3] += targets[0, sites.index(mdl.spec.main_site)] - mdl.ref_site_pos[0]
        cfg.update()
    out = np.empty((len(targets), m.nq))
    eye = np.eye(3)
    for i, tgt in enumerate(targets):
        for t, p in zip(site_tasks, tgt, strict=True):
            t.set_target(mink.SE3.from_rotation_and_translation(mink.SO3.from_matrix(eye), p))
        for _ in range(opts.first_iterations if i == 0 else opts.iterations):
            v = mink.solve_ik(cfg, tasks, 1.0, "daqp", damping=opts.damping, limits=limits)
            cfg.integrate_inplace(v, 1.0)
            if np.abs(v).max() < opts.tolerance:
                break  # converged: the next step would move no joint noticeably
        out[i] = cfg.q
    return out
