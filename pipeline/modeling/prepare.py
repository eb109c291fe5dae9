"""Training rows, prepared once: split, snapshots, features and labels.

`train`, `tune`, the backtests and the notebooks all learn from the same rows, so they are made in
one place: tuning must search the problem training solves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.features.builder import FeatureBuilder
from pipeline.features.horizon import (
    censor_snapshots,
    export_date,
    first_snapshot,
    horizon_labels,
    horizon_leads,
)
from pipeline.features.known import LeftOut
from pipeline.features.snapshots import (
    build_snapshot_features,
    last_snapshot,
    sample_snapshots,
    snapshot_times,
)
from pipeline.io.keys import index_positions
from pipeline.modeling.split import RANDOM, Split, split_leads

log = logging.getLogger(__name__)


@dataclass
class TrainingRows:
    """One row per snapshot of a labelled lead, with the slice ('fit', 'val', 'test') it is in."""

    builder: FeatureBuilder
    snaps: pd.DataFrame  # lead_id, as_of, age, split
    X: pd.DataFrame
    y: np.ndarray
    # True on the one row per lead that evaluation, cutoffs and score references read: its last
    # snapshot before the outcome, or with `targets.horizon_days` its first (the lead as it
    # arrived, whose horizon the label covers)
    one_per_lead: np.ndarray
    by_time: bool  # the split is out-of-time (else stratified-random: no creation dates)
    at_scale: bool = False  # the size shortcuts of `training.scale` apply (see `at_scale`)
    candidate_snapshots: int = 0  # snapshots before sampling (every age of every lead)
    fit_candidates: int = 0  # fit-slice snapshots before sampling
    censored_snapshots: int = 0  # targets.horizon_days: snapshots whose horizon is not over yet
    split_kind: str = RANDOM  # 'time', 'position' or 'stratified_random' (modeling.split)
    left_out: LeftOut = LeftOut()  # labelled leads too recent to know their outcome

    @property
    def lead_ids(self) -> np.ndarray:
        return self.snaps["lead_id"].to_numpy()

    def part(self, name: str) -> np.ndarray:
        """Boolean mask of the rows in slice `name`."""
        return self.snaps["split"].to_numpy() == name

    @property
    def size_rows(self) -> int:
        """Fit rows that size-aware parameters go by: before snapshot sampling, which thins out
        near-copies of the same leads and should not change the model's shape."""
        return self.fit_candidates or int(self.part("fit").sum())


def at_scale(cfg: Config, candidate_snapshots: int) -> bool:
    """Whether the size shortcuts apply: from `training.scale.min_snapshots` candidates up."""
    return candidate_snapshots >= cfg.training.scale.min_snapshots


def feature_builder(
    cfg: Config, leads: pd.DataFrame, has_email: bool | None = None
) -> FeatureBuilder:
    """The feature builder of a config, not fitted yet; `leads` are the ones it may learn from
    (the fit slice in training), so test leads never switch a feature on. `has_email`: whether
    one of them has an e-mail, when `leads` has none (the Dask engine's e-mails stay on its
    workers, which count it)."""
    sc = cfg.schema
    email = leads["_email"].notna().any() if has_email is None else has_email
    return FeatureBuilder(
        categorical=list(sc.categorical),
        numeric=[c for c in sc.feature_columns() if c not in sc.categorical],  # flags are 0/1
        use_email=bool(sc.email) and bool(email),
        max_activity_types=cfg.training.max_activity_types,
        decay_half_life_days=tuple(cfg.features.decay_half_life_days),
    )


def split_for_training(
    cfg: Config, leads: pd.DataFrame, events: pd.DataFrame
) -> tuple[pd.DataFrame, Split, np.datetime64 | None]:
    """The leads training may use, their split (with who was left out as too recent and why),
    and with `targets.horizon_days` the export date that censors snapshots (else None)."""
    tc, horizon = cfg.training, cfg.targets.horizon_days
    export, left_out = None, LeftOut()
    if horizon:  # leads whose "won within N days" is known; open ones too (see features.horizon)
        export = export_date(leads, events)
        leads, left_out = horizon_leads(leads, horizon, min(tc.snapshot_days), export)
    s = split_leads(
        leads,
        tc.val_share,
        tc.test_share,
        tc.seed,
        tc.test_start,
        cfg.schema.outcome.lost_known_after_days,
        in_order=cfg.data.rows_in_time_order,
        known_rule=not horizon,  # a horizon's windows decide instead (features.horizon)
    )
    if horizon:
        s = Split(s.assignment, s.kind, left_out)
    return leads, s, export


def prepare_training_rows(
    cfg: Config, leads: pd.DataFrame, events: pd.DataFrame, with_test: bool = True
) -> TrainingRows:
    """Split the labelled leads, replay them at the configured ages and build their features.

    `with_test=False` leaves the test leads out (tuning must never look at them); the other rows
    are the same as with them, since a snapshot's features depend only on its own lead and events.
    """
    tc = cfg.training
    leads, s, export = split_for_training(cfg, leads, events)
    if s.kind == RANDOM:
        log.warning("no creation dates: split is stratified-random, not out-of-time")
    split, by_time = s.assignment, s.kind == "time"
    fit_leads = leads.loc[split.index[split == "fit"]]  # what the features may learn from
    builder = feature_builder(cfg, fit_leads).fit(fit_leads, events)
    # every lead's snapshots, test leads too, so that tuning (with_test=False) takes the same
    # decision about scale and keeps the same rows as training
    snaps, censored = lead_snapshots(cfg, builder, leads, split, export)
    candidates, fit_candidates = len(snaps), int((snaps["split"] == "fit").sum())
    big = at_scale(cfg, candidates)
    if big and tc.scale.snapshots_per_lead:
        log.info(
            "%s candidate snapshots: training on at most %d per lead (last + others; "
            "training.scale)",
            f"{candidates:,}",
            tc.scale.snapshots_per_lead,
        )
    if not with_test:
        snaps = snaps[snaps["split"] != "test"].reset_index(drop=True)
    snaps, X, y, one_per_lead = snapshot_rows(cfg, builder, leads, events, snaps, big)
    rows = TrainingRows(
        builder, snaps, X, y, one_per_lead, by_time, big, candidates, fit_candidates
    )
    rows.censored_snapshots = censored
    rows.split_kind, rows.left_out = s.kind, s.left_out
    return rows


def lead_snapshots(
    cfg: Config,
    builder: FeatureBuilder,
    leads: pd.DataFrame,
    split: pd.Series,
    export: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, int]:
    """Every snapshot of the leads of `split` with its slice, before sampling, and how many were
    censored (`export`: the export date, with `targets.horizon_days`). Each lead's snapshots
    depend on that lead alone, so a cluster makes them per partition of leads."""
    horizon, censored = cfg.targets.horizon_days, 0
    snaps = snapshot_times(leads.loc[split.index], cfg.training.snapshot_days)
    if horizon:
        snaps, censored = censor_snapshots(snaps, horizon, export)
    # nothing to replay: one row per lead (see FeatureBuilder.use_age_)
    if not builder.activity_types_:
        one = first_snapshot if horizon else last_snapshot
        snaps = snaps.iloc[np.sort(one(snaps))].reset_index(drop=True)
    snaps["split"] = split.to_numpy()[index_positions(split.index, snaps["lead_id"])]
    return snaps, censored


def snapshot_rows(
    cfg: Config,
    builder: FeatureBuilder,
    leads: pd.DataFrame,
    events: pd.DataFrame,
    snaps: pd.DataFrame,
    big: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The sampled snapshots (`big`: `training.scale`), their features, labels and the one row
    per lead evaluation reads. Sampling and features go lead by lead, so a partition of leads
    with its events gets the same rows as the whole export."""
    tc, horizon = cfg.training, cfg.targets.horizon_days
    if big and tc.scale.snapshots_per_lead:
        snaps = sample_snapshots(snaps, tc.scale.snapshots_per_lead, tc.seed)
    dtype = np.float32 if big and tc.scale.float32 else np.float64
    X = build_snapshot_features(builder, leads, events, snaps, dtype)
    y = leads["_label"].to_numpy()[index_positions(leads.index, snaps["lead_id"])].astype(int)
    if horizon:
        y = horizon_labels(leads, snaps, horizon)
    one_per_lead = np.zeros(len(snaps), bool)
    one_per_lead[(first_snapshot if horizon else last_snapshot)(snaps)] = True
    return snaps, X, y, one_per_lead
