"""Conversion within a horizon: a snapshot's label is "won within N days of its as-of time".

With `targets.horizon_days: N`, a won lead counts as won for a snapshot only if its close date (the
win time, `schema.outcome.closed_at`) is at most N days after the snapshot; lost and still-open
leads count as not won, once the whole horizon has passed. A snapshot whose horizon ends after the
export date (the latest date the export knows: a creation, close or event time) is censored: its
outcome is not known yet, so it is left out of training and evaluation rather than counted as lost.

Every censored snapshot is left out, even one already won within its horizon: keeping the quick wins
of recent leads while dropping their undecided peers would over-count wins among the most recent
leads (the validation and test slices) and bias calibration and cutoffs upward.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError
from pipeline.features.known import LeftOut
from pipeline.io.eventfacts import EventFacts
from pipeline.io.keys import index_positions

DAY = np.timedelta64(86400, "s")


def export_date(leads: pd.DataFrame, events: pd.DataFrame | EventFacts) -> np.datetime64:
    """The data's as-of: the latest creation, close or event time in the export (`events`: the
    frame, or its facts summed over a cluster's partitions)."""
    times = [leads["_created_at"].max(), leads["_closed_at"].max()]
    if isinstance(events, EventFacts):
        times.append(events.last if events.last is not None else pd.NaT)
    elif len(events) and "ts" in events:
        times.append(events["ts"].max())
    return pd.Series(times, dtype="datetime64[ns]").max().to_datetime64()


def horizon_problem(
    leads: pd.DataFrame, horizon_days: int, first_age: float, as_of: np.datetime64
) -> str | None:
    """Why `targets.horizon_days` cannot label these leads, or None: no creation dates, no win
    dates, or a horizon longer than the history (no lead's horizon has ended by `as_of`), which
    is the config's length and not the data's fault. Asked by `train` and `validate` before any
    fitting (`prepare.config_problems`) and by `horizon_leads`."""
    if not leads["_created_at"].notna().any():
        return (
            "targets.horizon_days needs creation dates (schema.created_at): without them no "
            "snapshot's horizon can be placed in time"
        )
    won = leads["_label"] == 1
    if won.any() and leads.loc[won, "_closed_at"].isna().all():
        return (
            "targets.horizon_days needs the win date: set schema.outcome.closed_at to the close "
            "date column of the outcomes"
        )
    first = leads["_created_at"].min().to_datetime64()
    span = int((as_of - first) / DAY)
    if first + np.timedelta64(int(first_age * 86400), "s") + horizon_days * DAY > as_of:
        most = max(0, span - int(np.ceil(first_age)))
        return (
            f"targets.horizon_days {horizon_days} is longer than the history: the export spans "
            f"{span} days and a lead's first snapshot (day {first_age:g}) plus the horizon must "
            f"end within it; use at most {most} days or export more history"
        )
    return None


def horizon_leads(
    leads: pd.DataFrame, horizon_days: int, first_age: float, as_of: np.datetime64
) -> tuple[pd.DataFrame, LeftOut]:
    """The leads that can be labelled "won within N days": created early enough for their first
    snapshot's horizon to have passed by `as_of`, and not won without a win date. Open leads are
    among them (label 0: not won so far); `_label` stays 1 for won leads. Also: how many labelled
    leads were left out because their window had not ended."""
    problem = horizon_problem(leads, horizon_days, first_age, as_of)
    if problem:
        raise ConfigError(problem)
    won = leads["_label"] == 1
    created = leads["_created_at"].to_numpy("datetime64[ns]")
    ends = created + np.timedelta64(int(first_age * 86400), "s") + horizon_days * DAY
    ok = ~np.isnat(created) & (ends <= as_of) & ~(won & leads["_closed_at"].isna()).to_numpy()
    out = leads[ok].copy()
    out["_label"] = out["_label"].fillna(0.0)
    # labelled leads whose first window had not ended: too recent, counted (modeling.split)
    recent = int((~np.isnat(created) & (ends > as_of) & leads["_label"].notna().to_numpy()).sum())
    return out, LeftOut(recent, horizon_days=horizon_days)


def censor_snapshots(
    snaps: pd.DataFrame, horizon_days: int, as_of: np.datetime64
) -> tuple[pd.DataFrame, int]:
    """The snapshots whose horizon has ended by `as_of`, and how many were censored."""
    t = snaps["as_of"].to_numpy("datetime64[ns]")
    keep = ~np.isnat(t) & (t + horizon_days * DAY <= as_of)
    return snaps[keep].reset_index(drop=True), int((~keep).sum())


def horizon_labels(leads: pd.DataFrame, snaps: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """1 where the snapshot's lead was won within `horizon_days` of the snapshot, else 0."""
    pos = index_positions(leads.index, snaps["lead_id"])
    won = leads["_label"].to_numpy(float)[pos] == 1
    closed = leads["_closed_at"].to_numpy("datetime64[ns]")[pos]
    t = snaps["as_of"].to_numpy("datetime64[ns]")
    return (won & ~np.isnat(closed) & (closed <= t + horizon_days * DAY)).astype(int)


def first_snapshot(snaps: pd.DataFrame) -> np.ndarray:
    """Row positions of each lead's earliest snapshot. With a horizon the lead's evaluation row:
    the last snapshot before the outcome sits just before a win by construction, which would make
    "won within N days" of that row an echo of "ever won"; the earliest does not depend on when
    (or whether) the lead closed."""
    t = snaps["as_of"].to_numpy("datetime64[ns]").astype(np.int64)
    order = np.lexsort((t, pd.factorize(snaps["lead_id"], sort=True)[0]))
    codes = pd.factorize(snaps["lead_id"], sort=True)[0][order]
    return order[np.r_[True, codes[1:] != codes[:-1]]]
