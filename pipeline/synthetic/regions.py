"""A region-like column for segment models (`leadscore generate --segment-shift S`).

Segments are worth their own model only when they truly behave differently; a generator that can
make them do so, by a known amount, is how the segment fallback is tested both ways. Regions are
drawn from their own seeded generator, so adding them leaves every other column as the seed makes
it. In `SHIFTED` every effect (who the lead is, what it did) counts `1 - 2S` times what it counts
elsewhere, before the base rate is set: at S = 0 nothing differs, at S = 0.5 nothing predicts a
sale there, at S = 1 what signals a sale elsewhere signals a loss there. A pooled model sees the
region as a feature, but its shallow trees spend a split on it each time; the region's own model
learns the reversed pattern directly.
"""

from __future__ import annotations

import numpy as np

REGIONS = {"EMEA": 0.35, "North America": 0.30, "APAC": 0.25, "LATAM": 0.10}
SHIFTED = "APAC"


def draw_regions(seed: int, n: int) -> np.ndarray:
    """Each lead's region, seeded by `seed` but independent of the main generator's draws."""
    rng = np.random.default_rng([seed, 21])
    names = np.array(list(REGIONS))
    return names[rng.choice(len(names), n, p=list(REGIONS.values()))]


def fit_weights(region: np.ndarray, shift: float) -> np.ndarray:
    """Per lead, how much its log-odds count: 1, and `1 - 2 * shift` in the shifted region."""
    return np.where(region == SHIFTED, 1.0 - 2.0 * shift, 1.0)
