"""Snapshots: each historical lead replayed at the ages it will be scored at, never at or after its
outcome, so the model learns from leads as young as the ones it scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features.builder import FeatureBuilder


def snapshot_times(leads: pd.DataFrame, ages_days: list[int]) -> pd.DataFrame:
    """Snapshots (lead_id, as_of, age) of labelled leads, all strictly before the outcome time.

    A lead with no creation date gets one snapshot just before its close time, or at NaT (all
    events) when that is unknown too. A lead closed before its first snapshot age gets one
    snapshot at its close time so that it is not lost.
    """
    lab = leads[leads["_label"].notna()]
    created = lab["_created_at"].to_numpy(dtype="datetime64[ns]")
    closed = lab["_closed_at"].to_numpy(dtype="datetime64[ns]")
    ids = lab.index.to_numpy()
    parts = []
    has_created = ~np.isnat(created)
    for a in ages_days:
        t = created + np.timedelta64(int(a * 86400), "s")
        ok = has_created & (np.isnat(closed) | (t < closed))
        parts.append(pd.DataFrame({"lead_id": ids[ok], "as_of": t[ok], "age": float(a)}))
    snaps = pd.concat(parts, ignore_index=True)
    missing = ~pd.Index(ids).isin(snaps["lead_id"])
    if missing.any():
        extra = pd.DataFrame({"lead_id": ids[missing], "as_of": closed[missing], "age": np.nan})
        snaps = pd.concat([snaps, extra], ignore_index=True)
    return snaps


def build_snapshot_features(
    builder: FeatureBuilder, leads: pd.DataFrame, events: pd.DataFrame, snaps: pd.DataFrame
) -> pd.DataFrame:
    """Features for every snapshot; each age is one vectorised pass over the events."""
    frames = []
    for _, grp in snaps.groupby("age", dropna=False, sort=True):
        sub = leads.loc[grp["lead_id"].to_numpy()]
        X = builder.transform(sub, events, grp["as_of"].to_numpy())
        X.index = grp.index
        frames.append(X)
    return pd.concat(frames).loc[snaps.index]


def last_snapshot(snaps: pd.DataFrame) -> np.ndarray:
    """Row positions of each lead's latest snapshot: the lead as last seen before its outcome."""
    s = snaps.assign(_pos=np.arange(len(snaps)), _t=snaps["as_of"].fillna(pd.Timestamp.max))
    return (
        s.sort_values(["lead_id", "_t"], kind="stable")
        .groupby("lead_id", sort=False)["_pos"]
        .last()
        .to_numpy()
    )
