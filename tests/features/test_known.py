"""When outcomes are known: with won-only close dates, wins and losses alike wait for the lag."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features.known import loss_lag_days, outcome_known_at
from pipeline.modeling.split import TIME, split_leads


def _leads(n: int = 400) -> pd.DataFrame:
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n), unit="D")
    won = np.arange(n) % 5 == 0
    closed = pd.Series(created + pd.Timedelta(days=20)).where(won)
    return pd.DataFrame(
        {"_created_at": created, "_closed_at": closed.to_numpy(), "_label": won.astype(float)},
        index=[f"L{i}" for i in range(n)],
    )


def test_losses_without_close_date_wait_like_wins() -> None:
    leads = _leads()
    assert loss_lag_days(leads) == 20.0
    known = outcome_known_at(leads)
    took = (known - leads["_created_at"].to_numpy()) / np.timedelta64(1, "D")
    assert np.allclose(took, 20.0)  # the same for wins and losses
    assert loss_lag_days(leads, 45) == 45.0


def test_with_close_dates_for_all_nothing_changes() -> None:
    leads = _leads()
    leads["_closed_at"] = leads["_created_at"] + pd.Timedelta(days=3)
    assert loss_lag_days(leads) is None
    assert (outcome_known_at(leads) == leads["_closed_at"].to_numpy()).all()


def test_split_leaves_out_outcomes_not_known_yet() -> None:
    leads = _leads()
    s = split_leads(leads, 0.15, 0.15, 0)
    split, by_time = s.assignment, s.kind == TIME
    assert by_time
    # leads younger than 20 days at the export (the last close date) are not labelled: a
    # loss among them may still win
    end = max(leads["_created_at"].max(), leads["_closed_at"].max())
    young = leads["_created_at"] + pd.Timedelta(days=20) > end
    assert young.sum() > 0 and set(split.index) == set(leads.index[~young])
