"""Snapshots: each historical lead replayed at the ages it will be scored at, never at or after its
outcome, so the model learns from leads as young as the ones it scores.

At scale (see `pipeline.modeling.prepare`) `sample_snapshots` keeps every lead but not every age:
each lead's last snapshot (the one its test and reference metrics use) and a seeded choice of its
other ages.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from pipeline.features.builder import (
    FeatureBuilder,
    as_of_ns,
    lead_age_days,
    personal_email,
)
from pipeline.io.keys import index_positions


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
    covered = np.zeros(len(ids), bool)
    for a in ages_days:
        t = created + np.timedelta64(int(a * 86400), "s")
        ok = has_created & (np.isnat(closed) | (t < closed))
        covered |= ok
        parts.append(pd.DataFrame({"lead_id": ids[ok], "as_of": t[ok], "age": float(a)}))
    snaps = pd.concat(parts, ignore_index=True)
    missing = ~covered
    if missing.any():
        extra = pd.DataFrame({"lead_id": ids[missing], "as_of": closed[missing], "age": np.nan})
        snaps = pd.concat([snaps, extra], ignore_index=True)
    return snaps


def sample_snapshots(snaps: pd.DataFrame, per_lead: int, seed: int) -> pd.DataFrame:
    """At most `per_lead` snapshots of each lead: its last one and a seeded choice of the others.

    Every lead keeps its last snapshot, so test metrics, cutoffs and the score reference read the
    same rows as without sampling. The others are ranked by a hash of (lead id, age, seed): the
    choice depends neither on the row order nor on which other leads are in the file, and the same
    seed always keeps the same ages of a lead. Rows stay in their original order (index reset).
    """
    if per_lead < 1:
        raise ValueError("per_lead must be at least 1")
    last = np.zeros(len(snaps), bool)
    last[last_snapshot(snaps)] = True
    key = pd.util.hash_pandas_object(
        snaps[["lead_id", "age"]], index=False, hash_key=f"snapshots{seed:07d}"[-16:]
    ).to_numpy()
    key = np.where(last, np.uint64(0), key)  # the last snapshot ranks first
    codes, _ = pd.factorize(snaps["lead_id"])
    order = np.lexsort((key, codes))
    start = np.r_[True, codes[order][1:] != codes[order][:-1]]
    rank = np.arange(len(order)) - np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    keep = np.zeros(len(snaps), bool)
    keep[order[rank < per_lead]] = True
    return snaps[keep].reset_index(drop=True)


def build_snapshot_features(
    builder: FeatureBuilder,
    leads: pd.DataFrame,
    events: pd.DataFrame,
    snaps: pd.DataFrame,
    dtype: type = np.float64,
) -> pd.DataFrame:
    """Features for every snapshot, the same as `builder.transform` of each lead at its as-of time.

    The events are encoded once into compact arrays and each age is one pass over them (streamed
    in blocks). Every number is written straight into its row of one 2-D block of `dtype` (float32
    halves the matrix at scale), which becomes the frame's numbers without a copy; the text
    columns are put in place after. A frame built from one array per column would stack them
    into that block, holding the matrix twice for a moment: +1 GB at 1M leads, the peak of the
    whole training.
    """
    n = len(snaps)
    pos = index_positions(leads.index, snaps["lead_id"])
    if (pos < 0).any():
        raise ValueError("snapshots of leads that are not in the leads frame")
    as_of = as_of_ns(snaps["as_of"].to_numpy())
    names = builder.feature_names
    text = [c for c in builder.categorical if c not in builder.numeric and c in names]
    floats = [c for c in names if c not in text]
    block = np.empty((len(floats), n), dtype)
    filled = np.zeros(len(floats), bool)
    at = {c: i for i, c in enumerate(floats)}

    def put(name: str, rows: np.ndarray | slice, values: np.ndarray) -> None:
        block[at[name], rows] = values
        filled[at[name]] = True

    if builder.activity_types_:
        _activity_features(builder, leads, events, snaps, pos, as_of, put)
    if builder.use_age_:
        created = leads["_created_at"].to_numpy(dtype="datetime64[ns]")[pos]
        put("lead_age_days", slice(None), lead_age_days(created, as_of))
    if builder.use_email:
        put("personal_email", slice(None), personal_email(leads["_email"])[pos])
    for c in builder.numeric:
        put(c, slice(None), leads[c].astype(float).to_numpy()[pos])
    if not filled.all():
        missing = [c for c, f in zip(floats, filled, strict=True) if not f]
        raise ValueError(f"no values for features {missing}")
    X = pd.DataFrame(block.T, index=snaps.index, columns=floats, copy=False)
    for c in text:  # in order, so each lands at its place; the same values `transform` gives
        s = leads[c]
        cells = (
            s.array.take(pos)
            if isinstance(s.dtype, pd.StringDtype)
            else s.astype(object).to_numpy()[pos]
        )
        X.insert(names.index(c), c, cells)
    return X


def _activity_features(
    builder: FeatureBuilder,
    leads: pd.DataFrame,
    events: pd.DataFrame,
    snaps: pd.DataFrame,
    pos: np.ndarray,
    as_of: np.ndarray,
    put: Callable[[str, np.ndarray, np.ndarray], None],
) -> None:
    """Each age's activity features of its snapshots, `put` into the block by feature name."""
    ev = builder.encode_events(leads.index, events)
    age = snaps["age"].to_numpy(dtype=float)
    for a in np.unique(age[~np.isnan(age)]).tolist() + ([np.nan] if np.isnan(age).any() else []):
        g = np.flatnonzero(np.isnan(age) if np.isnan(a) else age == a)
        if np.bincount(pos[g], minlength=len(leads)).max(initial=0) > 1:
            raise ValueError(f"a lead has two snapshots at age {a}")
        for name, v in builder.activity_features(ev, pos[g], as_of[g], len(leads)).items():
            put(name, g, v)


def last_snapshot(snaps: pd.DataFrame) -> np.ndarray:
    """Row positions of each lead's latest snapshot: the lead as last seen before its outcome.

    In lead-id order; a snapshot without a time (NaT) counts as the latest, and of equal times
    the later row wins.
    """
    codes, _ = pd.factorize(snaps["lead_id"], sort=True)
    t = snaps["as_of"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    t = np.where(t == np.iinfo(np.int64).min, np.iinfo(np.int64).max, t)  # NaT: latest
    order = np.lexsort((t, codes))  # stable: equal times keep row order
    ends = np.r_[codes[order][1:] != codes[order][:-1], True]
    return order[ends]
