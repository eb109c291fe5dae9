"""The split of labelled leads into fit, validation and test: by creation time when every lead has
a date (the most recent leads are the test), else stratified-random with the reason said."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline.features.known import export_date, outcome_known_at

log = logging.getLogger(__name__)


def time_split(
    leads: pd.DataFrame,
    val_share: float,
    test_share: float,
    seed: int,
    test_start: str | None = None,
    lost_known_after_days: float | None = None,
) -> tuple[pd.Series, bool]:
    """'fit' / 'val' / 'test' per labelled lead: by creation time when known, else stratified random.

    With `test_start` (and dates) the test slice is every lead created on or after that date, and
    `val_share` is taken from what is left. Returns the assignment and whether it was time-based.
    A lead whose outcome is not known yet at the export date (a loss without close date, younger
    than the time wins take to close: `pipeline.features.known`) is left out like an open lead.
    """
    lab = leads[leads["_label"].notna()]
    lab = lab[_known_by_export(lab, export_date(leads), lost_known_after_days)]
    n = len(lab)
    created = lab["_created_at"]
    if created.notna().all() and n > 0:
        order = np.argsort(created.to_numpy(), kind="stable")
        by_time = True
    else:
        rng = np.random.default_rng(seed)
        y = lab["_label"].to_numpy()
        order = np.empty(0, int)
        parts = [rng.permutation(np.flatnonzero(y == v)) for v in (0, 1)]
        # interleave classes by rank so every slice keeps the class balance
        keys = np.concatenate([np.arange(len(p)) / max(len(p), 1) for p in parts])
        idx = np.concatenate(parts)
        order = idx[np.argsort(keys, kind="stable")]
        by_time = False
    split = np.empty(n, dtype=object)
    n_test = int(round(test_share * n))
    if test_start is not None and by_time:
        n_test = int((created >= pd.Timestamp(test_start)).sum())
    n_val = int(round(val_share * n))
    split[order[: n - n_test - n_val]] = "fit"
    split[order[n - n_test - n_val : n - n_test]] = "val"
    split[order[n - n_test :]] = "test"
    return pd.Series(split, index=lab.index, name="split"), by_time


def _known_by_export(
    lab: pd.DataFrame, end: pd.Timestamp | None, lost_known_after_days: float | None
) -> np.ndarray:
    """Which labelled leads' outcomes were known by the export date `end` (all, without dates)."""
    known_at = outcome_known_at(lab, lost_known_after_days)
    if end is None:
        return np.ones(len(lab), bool)
    ok = np.isnat(known_at) | (known_at <= end.to_datetime64())
    if not ok.all():
        log.info("%d labelled lead(s) too recent to know their outcome: left out", int((~ok).sum()))
    return ok
