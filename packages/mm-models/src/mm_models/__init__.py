"""mm-models: the built-in musculoskeletal embodiments of mm.

MyoFullBody and MyoBimanualArm (from ``musclemimic-models``), their finger-less variants, and ``tiny`` (a pair of
muscle-driven legs for CPU demos and tests). Get them through the registry::

    from mm_core.registry import get_embodiment
    model = get_embodiment("myofullbody-nofingers").compile()
"""
