"""When each labelled lead's outcome became known, so that the split leaves out leads too recent
to know and backtests under `as_known_then` (`training.backtest_outcomes`) never learn from an
outcome before it was known, and treat wins and losses alike.

With a close date for every outcome this is the close date. Two-table exports often list only the
won deals with a close date; a loss is then "not in the deals table", which is known only once a
win would have shown up. Treating such losses as known from the start while a win counts only
after its close date under-counts wins in every earlier period: backtests then promised 0.8-9%
against an actual 13-14%. So when most losses have no close date, every labelled lead (won or
lost) is taken as known `lag` days after creation (and never before its own close date): `lag`
is `schema.outcome.lost_known_after_days`, or else the time by which 95% of the wins had closed.
Without any close date nothing is known about timing: NaT, known from the start (as before).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
WIN_QUANTILE = 0.95


@dataclass(frozen=True)
class LeftOut:
    """Labelled leads left out as too recent to know their outcome, and the rule that did it."""

    leads: int = 0
    days: float | None = None  # outcomes count as known this many days after creation
    horizon_days: int | None = None  # or: the N-day window of the first snapshot had not ended

    def rule(self) -> str:
        """The rule in words, with its number of days ('' when nothing is left out)."""
        if self.horizon_days:
            return (
                f"a lead's {self.horizon_days}-day window (targets.horizon_days) must end by the "
                "export date"
            )
        if self.days is None:
            return ""
        return (
            f"an outcome counts as known {self.days:.0f} days after creation "
            "(schema.outcome.lost_known_after_days, or when 95% of the wins had closed)"
        )


def loss_lag_days(leads: pd.DataFrame, configured: float | None = None) -> float | None:
    """Days after creation a loss without close date is known, or None when losses carry close
    dates (or nothing says how long wins take)."""
    if "_closed_at" not in leads:
        return None
    lab = leads["_label"]
    closed, created = leads["_closed_at"], leads["_created_at"]
    lost = lab == 0
    if not lost.any() or closed[lost].notna().mean() >= 0.5:
        return None
    if configured is not None:
        return float(configured)
    won = (lab == 1) & closed.notna() & created.notna()
    if not won.any():
        return None
    took = (closed[won] - created[won]).dt.total_seconds() / 86400
    return float(max(np.quantile(took.clip(lower=0), WIN_QUANTILE), 1.0))


def outcome_known_at(leads: pd.DataFrame, configured: float | None = None) -> np.ndarray:
    """Per lead (datetime64[ns]): when its outcome was known; NaT when timing is unknown."""
    if "_closed_at" not in leads:
        return np.full(len(leads), np.datetime64("NaT"), "datetime64[ns]")
    closed = leads["_closed_at"].to_numpy(dtype="datetime64[ns]")
    lag = loss_lag_days(leads, configured)
    if lag is None:
        return closed
    created = leads["_created_at"].to_numpy(dtype="datetime64[ns]")
    by_lag = created + np.timedelta64(int(lag * 86400), "s")
    log.info(
        "losses have no close date: every outcome counts as known %.0f days after creation "
        "(schema.outcome.lost_known_after_days)",
        lag,
    )
    # the later of its close date and the lag, the same rule for wins and losses
    return np.where(np.isnat(closed) | (by_lag > closed), by_lag, closed)


def export_date(leads: pd.DataFrame) -> pd.Timestamp | None:
    """The latest creation or close date in the export: nothing after it is known."""
    cols = [c for c in ("_created_at", "_closed_at") if c in leads]
    dates = pd.concat([leads[c] for c in cols]).dropna()
    return pd.Timestamp(dates.max()) if len(dates) else None
