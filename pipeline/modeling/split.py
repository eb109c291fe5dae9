"""The split of labelled leads into fit, validation and test, and the leads left out of it.

Three kinds, named on the run, the card and the report by what they are:
- `time`: every lead has a creation date; the most recent leads are the test.
- `position`: no dates, but `data.rows_in_time_order: true` says the file runs oldest to newest;
  the newest rows are the test (out-of-time by position).
- `stratified_random`: neither; a random slice per class, and the reason said.

A labelled lead whose outcome is not known yet at the export date (a loss without close date,
younger than the time wins take to close: `pipeline.features.known`) is left out like an open lead;
how many, and by which rule, is part of the split (`LeftOut`), so every lead is accounted for.
With `targets.horizon_days` this rule does not apply: each snapshot's window decides
(`pipeline.features.horizon`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.features.known import LeftOut, export_date, loss_lag_days, outcome_known_at

log = logging.getLogger(__name__)

TIME, POSITION, RANDOM = "time", "position", "stratified_random"


@dataclass(frozen=True)
class Split:
    """'fit' / 'val' / 'test' per kept labelled lead, the split's kind, and who was left out."""

    assignment: pd.Series
    kind: str
    left_out: LeftOut


def split_leads(
    leads: pd.DataFrame,
    val_share: float,
    test_share: float,
    seed: int,
    test_start: str | None = None,
    lost_known_after_days: float | None = None,
    in_order: bool = False,
    known_rule: bool = True,
) -> Split:
    """Split the labelled leads: by creation time when every one has a date, by position when
    `in_order` (`data.rows_in_time_order`) and there are none, else stratified random.

    With `test_start` (and dates) the test slice is every lead created on or after that date, and
    `val_share` is taken from what is left. `known_rule=False` (a horizon target) keeps leads
    whose outcome the known-outcome rule would call too recent.
    """
    lab = leads[leads["_label"].notna()]
    left = LeftOut()
    if known_rule:
        keep, left = known_by_export(lab, export_date(leads), lost_known_after_days)
        lab = lab[keep]
    n = len(lab)
    created = lab["_created_at"]
    if created.notna().all() and n > 0:
        order, kind = np.argsort(created.to_numpy(), kind="stable"), TIME
    elif in_order and created.isna().all():
        order, kind = np.arange(n), POSITION  # file order: oldest rows first
    else:
        order, kind = _stratified_order(lab["_label"].to_numpy(), seed), RANDOM
    split = np.empty(n, dtype=object)
    n_test = int(round(test_share * n))
    if test_start is not None and kind == TIME:
        n_test = int((created >= pd.Timestamp(test_start)).sum())
    n_val = int(round(val_share * n))
    split[order[: n - n_test - n_val]] = "fit"
    split[order[n - n_test - n_val : n - n_test]] = "val"
    split[order[n - n_test :]] = "test"
    return Split(pd.Series(split, index=lab.index, name="split"), kind, left)


def _stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A random order that interleaves classes by rank, so every slice keeps the class balance."""
    rng = np.random.default_rng(seed)
    parts = [rng.permutation(np.flatnonzero(y == v)) for v in (0, 1)]
    keys = np.concatenate([np.arange(len(p)) / max(len(p), 1) for p in parts])
    idx = np.concatenate(parts)
    return idx[np.argsort(keys, kind="stable")]


def known_by_export(
    lab: pd.DataFrame, end: pd.Timestamp | None, lost_known_after_days: float | None
) -> tuple[np.ndarray, LeftOut]:
    """Which labelled leads' outcomes were known by the export date `end` (all, without dates),
    and how many were left out by which rule."""
    known_at = outcome_known_at(lab, lost_known_after_days)
    if end is None:
        return np.ones(len(lab), bool), LeftOut()
    ok = np.isnat(known_at) | (known_at <= end.to_datetime64())
    days = loss_lag_days(lab, lost_known_after_days)
    if not ok.all():
        log.info("%d labelled lead(s) too recent to know their outcome: left out", int((~ok).sum()))
    return ok, LeftOut(int((~ok).sum()), days)
