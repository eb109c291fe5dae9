"""Which segments keep a model of their own, decided on validation; their evidence on test.

A segment (one of the `max_segments` most frequent values of `segments.column` among the fit
leads) gets a model when its fit slice holds at least `min_won` won and `min_lost` lost leads. The
model is made by the same function as the pooled one, on the segment's rows only (same features,
the recipe that won the pooled choice, calibrated on the segment's validation rows). It serves
only if it beats the pooled model on the segment's validation leads with DeLong's paired test
(higher AUC, p < 0.05): a segment model must earn its place, since every one is one more thing to monitor and explain.
Both models early-stop and calibrate on the validation slice, so that flattering is shared. The
test leads are read only for the table the report shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import ConfigError
from pipeline.evaluation.metrics import classification_metrics
from pipeline.evaluation.paired import PairedAuc, delong
from pipeline.modeling.prepare import TrainingRows
from pipeline.modeling.scorer import LeadScorer
from pipeline.modeling.segmented import POOLED, SegmentedScorer

ALPHA = 0.05


@dataclass
class SegmentFit:
    """One segment's training story: its leads, its model (if fit) and the validation verdict."""

    name: str
    fit_won: int
    fit_lost: int
    scorer: LeadScorer | None = None
    val: PairedAuc | None = None
    why: str = ""  # why it serves with its own model or falls back

    @property
    def kept(self) -> bool:
        return self.scorer is not None and self.val is not None and _better(self.val)


def _better(t: PairedAuc) -> bool:
    return t.diff > 0 and t.p < ALPHA


def segment_values(rows: TrainingRows, column: str) -> np.ndarray:
    """Per training row, its segment value as text (None when missing)."""
    v = rows.X[column].astype(object).to_numpy()
    return np.where(pd.notna(v), v.astype(str), None)


def segments_problem(cfg: Config, force: bool = False) -> str | None:
    """Why `segments.column` cannot route leads (not a categorical feature), or None. `train`
    and `validate` ask before any fitting (`prepare.config_problems`); `fit_segments` again."""
    column = cfg.segments.column
    if column is None or (column in cfg.schema.categorical and not force):
        return None
    return (
        f"segments.column: {column!r} is not in schema.categorical; list it there "
        "(the scorer routes each lead by that feature)"
    )


def fit_segments(
    cfg: Config,
    rows: TrainingRows,
    pooled: LeadScorer,
    fit_one: Callable[[TrainingRows], LeadScorer],
) -> tuple[LeadScorer | SegmentedScorer, list[SegmentFit]]:
    """The pooled scorer alone (segments off) or a `SegmentedScorer` routing the kept segments to
    their own models (none kept: every lead to the pooled one); and every candidate segment's
    story."""
    sc = cfg.segments
    if sc.column is None:
        return pooled, []
    problem = segments_problem(cfg) or (
        None if sc.column in rows.builder.categorical else segments_problem(cfg, force=True)
    )
    if problem:
        raise ConfigError(problem)
    seg = segment_values(rows, sc.column)
    fit_leads = rows.part("fit") & rows.one_per_lead
    counts = pd.Series(seg[fit_leads]).dropna().value_counts(sort=True)
    names = sorted(counts.index, key=lambda n: (-counts[n], n))[: sc.max_segments]
    fits = [_fit_one_segment(cfg, rows, seg == name, name, pooled, fit_one) for name in names]
    kept = {f.name: f.scorer for f in fits if f.kept}
    # with none kept, still a SegmentedScorer: every output says `model_segment` = pooled, so a
    # configured segmentation is never silently absent from the scores
    return SegmentedScorer(pooled, sc.column, kept), fits


def _fit_one_segment(
    cfg: Config,
    rows: TrainingRows,
    mask: np.ndarray,
    name: str,
    pooled: LeadScorer,
    fit_one: Callable[[TrainingRows], LeadScorer],
) -> SegmentFit:
    sc = cfg.segments
    y_fit = rows.y[mask & rows.part("fit") & rows.one_per_lead]
    f = SegmentFit(name, int((y_fit == 1).sum()), int((y_fit == 0).sum()))
    if f.fit_won < sc.min_won or f.fit_lost < sc.min_lost:
        f.why = f"too few training leads ({f.fit_won} won, {f.fit_lost} lost; needs "
        f.why += f"{sc.min_won} and {sc.min_lost})"
        return f
    vl = mask & rows.part("val") & rows.one_per_lead
    if len(np.unique(rows.y[mask & rows.part("val")])) < 2 or len(np.unique(rows.y[vl])) < 2:
        f.why = "no won or no lost validation leads"
        return f
    own = fit_one(subset(rows, mask))
    # shared score reference and cutoffs (see pipeline.modeling.segmented)
    f.scorer = dataclasses.replace(
        own, cutoffs=pooled.cutoffs, score_reference=pooled.score_reference
    )
    Xv, yv = rows.X[vl], rows.y[vl]
    f.val = delong(yv, ranking(f.scorer, Xv), ranking(pooled, Xv))
    verdict = "beats" if f.kept else "does not beat"
    f.why = f"{verdict} pooled on validation: {f.val.text()}"
    return f


def ranking(scorer: LeadScorer, X: pd.DataFrame) -> np.ndarray:
    """The model's own ranking of `X`, before calibration: an isotonic calibrator fit on a
    segment's few hundred validation leads has coarser steps (more ties) than the pooled one fit
    on all of them, and those ties would count against the segment for no fault of its model."""
    return scorer.uncalibrated_probability(X)


def subset(rows: TrainingRows, mask: np.ndarray) -> TrainingRows:
    """The training rows of one segment (same builder, same slices)."""
    return dataclasses.replace(
        rows,
        snaps=rows.snaps[mask].reset_index(drop=True),
        X=rows.X[mask],
        y=rows.y[mask],
        one_per_lead=rows.one_per_lead[mask],
        candidate_snapshots=int(mask.sum()),
        fit_candidates=0,
        censored_snapshots=0,
    )


def segment_table(
    fits: list[SegmentFit], column: str, pooled: LeadScorer, rows: TrainingRows, test: np.ndarray
) -> pd.DataFrame:
    """Per segment, on its test leads: leads, wins, which model serves, and the test AUC of the
    segment model (if fit) and of the pooled model."""
    if not fits:
        return pd.DataFrame()
    seg = segment_values(rows, column)
    out = []
    for f in fits:
        m = test & (seg == f.name)
        Xt, yt = rows.X[m], rows.y[m]
        both = len(np.unique(yt)) == 2

        def auc(s: LeadScorer, Xt=Xt, yt=yt) -> float:
            return classification_metrics(yt, s.conversion_probability(Xt))["test_roc_auc"]

        out.append(
            {
                "segment": f.name,
                "test_leads": int(m.sum()),
                "test_wins": int(yt.sum()),
                "serves": f.name if f.kept else POOLED,
                "test_auc_segment": auc(f.scorer) if both and f.scorer else float("nan"),
                "test_auc_pooled": auc(pooled) if both else float("nan"),
                "val_auc_diff": f.val.diff if f.val else float("nan"),
                "val_p": f.val.p if f.val else float("nan"),
                "fit_won": f.fit_won,
                "fit_lost": f.fit_lost,
                "why": f.why,
            }
        )
    return pd.DataFrame(out)


def segment_info(
    cfg: Config,
    fits: list[SegmentFit],
    pooled: LeadScorer,
    rows: TrainingRows,
    test: np.ndarray,
) -> tuple[dict[str, object], dict[str, pd.DataFrame]]:
    """Which segments keep their own model (run params) and the segment table (report, card,
    run artifacts) when there is one. Nothing when segments are off."""
    if cfg.segments.column is None:
        return {}, {}
    table = segment_table(fits, cfg.segments.column, pooled, rows, test)
    own = [f.name for f in fits if f.kept]
    info = {
        "segments_column": cfg.segments.column,
        "segments_own": own,  # served by their own model; every other lead by the pooled one
        "segments_pooled": [f.name for f in fits if not f.kept],
    }
    return info, ({"segments": table} if len(table) else {})
