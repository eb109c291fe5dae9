"""Conversion within a horizon: per-snapshot labels "won within N days", censoring of snapshots
whose horizon ends after the export date, and calibration of the N-day probability on generated
data with a known time to convert."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.errors import ConfigError
from pipeline.features.horizon import (
    censor_snapshots,
    export_date,
    horizon_labels,
    horizon_leads,
)

T0 = pd.Timestamp("2025-01-01")


def _leads(rows: list[tuple[int, str | None, float | None]]) -> pd.DataFrame:
    """(created day, closed day or None, label or None) per lead."""
    return pd.DataFrame(
        {
            "_created_at": [T0 + pd.Timedelta(days=c) for c, _, _ in rows],
            "_closed_at": [
                T0 + pd.Timedelta(days=d) if d is not None else pd.NaT for _, d, _ in rows
            ],
            "_label": [lab for _, _, lab in rows],
        },
        index=pd.Index(range(1, len(rows) + 1), name="lead_id"),
    )


def test_labels_are_won_within_n_days_of_each_snapshot() -> None:
    leads = _leads([(0, 100, 1.0), (0, 50, 0.0), (0, None, None)])
    snaps = pd.DataFrame(
        {"lead_id": [1, 1, 2, 3], "as_of": [T0 + pd.Timedelta(days=d) for d in (1, 30, 1, 1)]}
    )
    # won on day 100: not within 90 days of day 1, within 90 days of day 30; lost and open: 0
    assert horizon_labels(leads, snaps, 90).tolist() == [0, 1, 0, 0]


def test_snapshots_whose_horizon_is_not_over_are_censored_and_counted() -> None:
    snaps = pd.DataFrame(
        {
            "lead_id": [1, 2, 3],
            "as_of": [T0, T0 + pd.Timedelta(days=20), T0 + pd.Timedelta(days=10)],
        }
    )
    kept, n = censor_snapshots(snaps, 90, (T0 + pd.Timedelta(days=100)).to_datetime64())
    assert kept["lead_id"].tolist() == [1, 3] and n == 1


def test_young_and_open_leads() -> None:
    leads = _leads([(0, None, None), (95, None, None), (0, 30, 1.0), (0, None, 1.0)])
    as_of = export_date(leads, pd.DataFrame({"ts": [T0 + pd.Timedelta(days=120)]}))
    assert as_of == (T0 + pd.Timedelta(days=120)).to_datetime64()
    out, left = horizon_leads(leads, 90, 1, as_of)
    assert left.leads == 0 and left.horizon_days == 90  # the young lead is open, not labelled
    # the old open lead is a known "not won within 90 days"; the young one and the won lead
    # without a win date are left out
    assert out.index.tolist() == [1, 3] and out["_label"].tolist() == [0.0, 1.0]
    no_dates = _leads([(0, None, 1.0)])
    with pytest.raises(ConfigError, match="schema.outcome.closed_at"):
        horizon_leads(no_dates, 90, 1, as_of)


def converting_export(n: int = 12000, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical leads whose time to convert is known: a converter (probability from x0, x1) wins
    after an exponential time (mean 80 days), the others are lost after 10-200 days or stay open;
    created over two years, exported on the last day."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    converts = rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 1.2 * x[:, 0] - 0.8 * x[:, 1])))
    created = T0 + pd.to_timedelta(np.sort(rng.uniform(0, 730, n)), "D")
    wait = np.where(converts, rng.exponential(80, n), rng.uniform(10, 200, n))
    closed = created + pd.to_timedelta(wait, "D")
    export = T0 + pd.Timedelta(days=730)
    known = closed <= export
    label = np.where(known, converts.astype(float), np.nan)
    leads = pd.DataFrame(
        {
            "_created_at": created,
            "_closed_at": pd.Series(closed).where(known).to_numpy(),
            "_label": label,
            "_email": None,
            "x0": x[:, 0],
            "x1": x[:, 1],
        },
        index=pd.Index(np.arange(1, n + 1), name="lead_id"),
    )
    return leads, pd.DataFrame({"lead_id": [], "ts": [], "type": []})


@pytest.mark.slow
def test_ninety_day_probabilities_are_calibrated_and_censoring_is_counted() -> None:
    from pipeline.training.train import train

    leads, events = converting_export()
    cfg = Config.model_validate(
        {
            "schema": {"numeric": ["x0", "x1"], "categorical": []},
            "targets": {"horizon_days": 90},
            "training": {"backtest_months": 0, "slice_columns": []},
        }
    )
    r = train(cfg, leads, events)
    assert r.metrics["censored_snapshots"] > 0 and r.info["censored_snapshots"] > 0
    assert r.metrics["test_ece"] <= 0.03
    assert r.scorer.meta["horizon_days"] == 90
    # the 90-day label is not "ever won": slow converters count as not won within 90 days
    ever = leads["_label"].reindex(r.test_predictions["lead_id"]).fillna(0).to_numpy()
    assert r.test_predictions["label"].mean() < ever.mean()
