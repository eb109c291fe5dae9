"""`init`'s guess of the period's columns (`schema.context`): a value the whole week shares,
changing from week to week, is the period's; a count that is 0 for nearly every lead agrees
within each week by itself and is the lead's (on the flat shape, five behaviour counts were once
drafted as market conditions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.onboarding.context import context_columns


def _sample(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 300, n)), "D")
    week = created.to_period("W").astype("int64").to_numpy()  # calendar weeks
    rate = np.round(3 + np.sin(week / 3), 2)  # the week's interest rate: one value per week
    return pd.DataFrame(
        {
            "created": created.strftime("%d/%m/%Y"),
            "rate": rate.astype(str),
            "n_demo_request": rng.choice([0, 1, 2, 3], n, p=[0.95, 0.03, 0.015, 0.005]).astype(str),
            "age": rng.integers(20, 70, n).astype(str),
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_weekly_indicator_is_the_periods_a_sparse_count_is_not(seed: int) -> None:
    df = _sample(seed=seed)
    found = context_columns(df, ["rate", "n_demo_request", "age"], "created", dayfirst=True)
    assert set(found) == {"rate"}


def test_shuffling_weeks_apart_from_values_removes_the_period() -> None:
    """The same values, no longer tied to the week: not the period's."""
    df = _sample()
    df["rate"] = df["rate"].sample(frac=1, random_state=0).to_numpy()
    assert context_columns(df, ["rate"], "created", dayfirst=True) == {}
