"""Failure-weighted motion sampling: clips that end in early termination more often are sampled more often.

The weights are pushed into the environment's motion library (``env.motions.set_weights``) after every update,
so they change which clips new episodes start on (the reference computed such weights but never applied them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mm_rl.config import SamplingConfig


class FailureWeightedSampler:
    """Decayed per-clip counts of finished episodes and of early terminations.

    ``episodes (C,)``, ``failures (C,)``; the rate is ``(failures + prior / 2) / (episodes + prior)`` and the
    sampling probability ``(1 - mix) * rate / sum(rate) + mix / C``.
    """

    def __init__(self, num_clips: int, cfg: SamplingConfig) -> None:
        self.cfg = cfg
        self.episodes = np.zeros(num_clips)
        self.failures = np.zeros(num_clips)

    def record(self, clips: np.ndarray, terminated: np.ndarray) -> None:
        """clips: clip index of each finished episode (K,); terminated: whether it failed (K,) bool."""
        c = len(self.episodes)
        self.record_counts(
            np.bincount(clips, minlength=c), np.bincount(clips, terminated.astype(float), minlength=c)
        )

    def record_counts(self, episodes: np.ndarray, failures: np.ndarray) -> None:
        """episodes: finished episodes per clip (C,); failures: how many of them terminated early (C,)."""
        self.episodes += episodes
        self.failures += failures

    def failure_rate(self) -> np.ndarray:
        p = self.cfg.prior
        return (self.failures + 0.5 * p) / (self.episodes + p)

    def weights(self) -> np.ndarray:
        """Sampling probabilities (C,), summing to 1."""
        rate = self.failure_rate()
        c = len(rate)
        mix = self.cfg.uniform_mix
        return (1 - mix) * rate / rate.sum() + mix / c

    def decay(self) -> None:
        self.episodes *= self.cfg.decay
        self.failures *= self.cfg.decay

    def state(self) -> dict[str, Any]:
        return {"episodes": self.episodes.tolist(), "failures": self.failures.tolist()}

    def load_state(self, state: dict[str, Any]) -> None:
        if len(state["episodes"]) == len(self.episodes):  # a new motion set starts fresh
            self.episodes = np.asarray(state["episodes"], dtype=float)
            self.failures = np.asarray(state["failures"], dtype=float)
