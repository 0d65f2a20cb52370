"""The rollout's episode bookkeeping, by hand (the rollout itself runs in test_validate_policy.py)."""

from __future__ import annotations

import numpy as np

from mm_validate.validate import episode_segments


def test_episode_segments_split_at_done_steps_worlds_one_after_another() -> None:
    done = np.zeros((6, 2), dtype=bool)
    done[2, 0] = True  # world 0: steps 0-2, then 3-5 (frames 0-5)
    done[[0, 4], 1] = (
        True  # world 1 (frames 6-11): a one-frame episode (dropped), steps 1-4, a one-frame tail
    )
    assert episode_segments(done) == ((0, 3), (3, 6), (7, 11))
    assert episode_segments(np.zeros((4, 3), dtype=bool)) == ((0, 4), (4, 8), (8, 12))
