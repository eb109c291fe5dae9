"""One artifact for a pooled model and per-segment models: each lead is scored by one of them.

`SegmentedScorer` has the `LeadScorer` interface (features, predict_proba, score_features,
contributions, sub-scores), so the batch scorer, Spark, REST and notebooks score through it
unchanged. Each lead's probability, reasons and sub-scores come from the model that serves its
segment (the value of `column`, or the pooled model for every other value, a missing one
included); `model_segment` in the output names it.

Score (0-100) and stage are shared: every segment model is built with the pooled model's score
reference and cutoffs. Its probabilities are calibrated on its own segment, so a shared cutoff
means the same thing everywhere ("at least p to convert"): an SQL in APAC is as likely to close as
one in EMEA, and a capacity target per month stays one number. Per-segment cutoffs would be
chosen on a few hundred validation leads each, noisier than the calibration they rest on.

Anything not routed (builder, cutoffs, meta, the booster the report's calibration table reads) is
the pooled scorer's. The pickle carries its own `format_version`; the scorers inside keep theirs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.errors import ModelFormatError
from pipeline.explain.fields import field_matrix
from pipeline.modeling.scorer import LeadScorer

POOLED = "pooled"
# 1: pooled LeadScorer + {segment value: LeadScorer} routed by one categorical column
FORMAT_VERSION = 1


@dataclass
class SegmentedScorer:
    pooled: LeadScorer
    column: str  # the categorical feature whose value picks the model
    models: dict[str, LeadScorer] = field(default_factory=dict)  # segments that keep their own
    format_version: int = FORMAT_VERSION

    def __setstate__(self, state: dict) -> None:
        found = state.get("format_version", 0)
        if found != FORMAT_VERSION:
            raise ModelFormatError(found, FORMAT_VERSION)
        self.__dict__.update(state)

    def __getattr__(self, name: str):
        # only reached for what this class does not define: the pooled scorer's parts
        if name.startswith("__") or name in ("pooled", "models", "column"):
            raise AttributeError(name)
        return getattr(self.pooled, name)

    def segment_of(self, X: pd.DataFrame) -> np.ndarray:
        """Per row, the segment whose model serves it, or 'pooled'."""
        v = X[self.column].astype(object).to_numpy()
        known = np.isin(v, list(self.models)) & pd.notna(v)
        return np.where(known, v, POOLED).astype(object)

    def _parts(self, X: pd.DataFrame):
        """(scorer, row positions) for every model that serves at least one row of `X`."""
        seg = self.segment_of(X)
        for name in [POOLED, *self.models]:
            rows = np.flatnonzero(seg == name)
            if len(rows):
                yield name, self.models.get(name, self.pooled), rows

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities (n, 2), each row from the model serving its segment."""
        out = np.zeros((len(X), 2))
        for _, s, rows in self._parts(X):
            out[rows] = s.predict_proba(X.iloc[rows])
        return out

    def conversion_probability(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(X)[:, 1]

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Per-feature log-odds parts, each row from its own model (same features everywhere);
        the base value is the pooled model's."""
        out = np.zeros((len(X), len(self.pooled.builder.feature_names)))
        for _, s, rows in self._parts(X):
            out[rows] = s.contributions(X.iloc[rows])[0]
        return out, self.pooled.contributions(X.iloc[:1])[1] if len(X) else 0.0

    def field_contributions(self, X: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        fields, m = field_matrix(self.pooled.builder.feature_fields)
        return fields, self.contributions(X)[0] @ m

    def score(
        self, leads: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray, n_reasons: int = 3
    ) -> pd.DataFrame:
        return self.score_features(self.features(leads, events, as_of), n_reasons)

    def score_features(self, X: pd.DataFrame, n_reasons: int = 3) -> pd.DataFrame:
        """`LeadScorer.score_features` of the model serving each row, in `X`'s order, plus
        `model_segment`."""
        parts = []
        for name, s, rows in self._parts(X):
            part = s.score_features(X.iloc[rows], n_reasons)
            part["model_segment"] = name
            parts.append(part)
        if not parts:
            return self.pooled.score_features(X, n_reasons).assign(model_segment=pd.Series())
        pos = np.concatenate([rows for _, _, rows in self._parts(X)])
        out = pd.concat(parts)
        return out.iloc[np.argsort(pos, kind="stable")]

    def warm_up(self) -> None:
        for s in [self.pooled, *self.models.values()]:
            if "lgbm" in s.booster.named_steps:
                s.warm_up()
