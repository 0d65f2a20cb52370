"""mm-validate: biomechanical validation of motions and policies against experimental gait data.

Entry points: :func:`mm_validate.validate.validate_clip`, :func:`mm_validate.validate.validate_checkpoint`, and the
``mm validate`` command. Reference data: :mod:`mm_validate.reference`; gait events: :mod:`mm_validate.gait`;
quantities and the model mapping: :mod:`mm_validate.quantities`; metrics: :mod:`mm_validate.metrics`.
"""

__version__ = "0.1.0"
