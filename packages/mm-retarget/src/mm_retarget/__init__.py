"""mm-retarget: human motion capture (BVH, AMASS .npz) to ``MotionClip``s on mm's musculoskeletal embodiments.

Readers (:mod:`mm_retarget.readers`), the ``gmr-fit`` and ``mocap-body`` retargeters (:mod:`mm_retarget.retarget`,
the entry point, with one module per step: ``fit``, ``ik``, ``post``, ``floor``, on ``model``), quality metrics
(:mod:`mm_retarget.metrics`), the ``mm retarget`` command (:mod:`mm_retarget.cli`) and generated demo motions
(:mod:`mm_retarget.demo`). Nothing heavy is imported here.
"""

__version__ = "0.1.0"
