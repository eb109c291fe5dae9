"""One artifact for a pooled model and per-segment models: each lead is scored by one of them.

`SegmentedScorer` implements the `Scorer` protocol (features, raw scores, probabilities,
contributions, score_features), so the batch scorer, Spark, REST and notebooks score through it
unchanged. Each lead's probability, reasons and sub-scores come from the model that serves its
segment (the value of `column`, or the pooled model for every other value, a missing one
included); `model_segment` in the output names it.

Score (0-100) and stage are shared: every segment model is built with the pooled model's score
reference and cutoffs. Its probabilities are calibrated on its own segment, so a shared cutoff
means the same thing everywhere ("at least p to convert"): an SQL in APAC is as likely to close as
one in EMEA, and a capacity target per month stays one number. Per-segment cutoffs would be
chosen on a few hundred validation leads each, noisier than the calibration they rest on.

What every model shares is read from the pooled scorer, by name: the feature builder, cutoffs,
score reference, meta and the candidate kind (segment models use the recipe that won pooled).
Everything per lead (raw scores, probabilities, contributions) comes from the lead's own model.
The pickle carries its own `format_version`; the scorers inside keep theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.errors import restore_pickled
from pipeline.explain.fields import field_matrix
from pipeline.features.builder import FeatureBuilder
from pipeline.modeling.cutoffs import Cutoffs
from pipeline.modeling.grades import grade_of
from pipeline.modeling.scorer import LeadScorer

POOLED = "pooled"
# the layout of the pickle; any other is refused on unpickling (ModelFormatError).
# 2: pooled LeadScorer + {segment value: LeadScorer}, scorers of LeadScorer's format 4
FORMAT_VERSION = 2


@dataclass
class SegmentedScorer:
    pooled: LeadScorer
    column: str  # the categorical feature whose value picks the model
    models: dict[str, LeadScorer] = field(default_factory=dict)  # segments that keep their own
    format_version: int = FORMAT_VERSION

    def __setstate__(self, state: dict) -> None:
        restore_pickled(self, state, FORMAT_VERSION, unversioned=0)

    @property
    def builder(self) -> FeatureBuilder:
        return self.pooled.builder

    @property
    def cutoffs(self) -> Cutoffs:
        return self.pooled.cutoffs

    @property
    def score_reference(self) -> np.ndarray:
        return self.pooled.score_reference

    @property
    def meta(self) -> dict:
        return self.pooled.meta

    @property
    def candidate(self) -> str:
        return self.pooled.candidate

    @property
    def calibration_method(self) -> str:
        """The pooled model's calibration (each segment model calibrates on its own leads)."""
        return self.pooled.calibration_method

    def features(
        self, leads: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray
    ) -> pd.DataFrame:
        return self.pooled.features(leads, events, as_of)

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

    def _per_row(self, X: pd.DataFrame, method: str) -> np.ndarray:
        """`method` of each row's own model, in `X`'s order (one value per row)."""
        out = np.zeros(len(X))
        for _, s, rows in self._parts(X):
            out[rows] = getattr(s, method)(X.iloc[rows])
        return out

    def served_by(self, X: pd.DataFrame) -> Iterator[tuple[LeadScorer, np.ndarray]]:
        """Each model that serves rows of X (a segment's own, or the pooled one), with the
        positions of its rows: what reads a model's own scale (its base value, its calibrator)
        must read it per model, never the pooled one's for a segment's rows."""
        for _, s, rows in self._parts(X):
            yield s, rows

    def raw_scores(self, X: pd.DataFrame) -> np.ndarray:
        """Each row's log-odds before calibration, from the model serving its segment."""
        return self._per_row(X, "raw_scores")

    def uncalibrated_probability(self, X: pd.DataFrame) -> np.ndarray:
        """Each row's probability before calibration, from the model serving its segment."""
        return self._per_row(X, "uncalibrated_probability")

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

    def score_features(
        self, X: pd.DataFrame, n_reasons: int = 3, parts: bool = False
    ) -> pd.DataFrame:
        """`LeadScorer.score_features` of the model serving each row, in `X`'s order, plus
        `model_segment`."""
        parts = []
        for name, s, rows in self._parts(X):
            part = s.score_features(X.iloc[rows], n_reasons, parts)
            part["model_segment"] = name
            parts.append(part)
        if not parts:
            return self.pooled.score_features(X, n_reasons, parts).assign(model_segment=pd.Series())
        pos = np.concatenate([rows for _, _, rows in self._parts(X)])
        out = pd.concat(parts)
        # one set of floors whichever segment scored the lead: the registered model's
        out["grade"] = grade_of(out["probability"].to_numpy(), self.meta.get("grades"))
        return out.iloc[np.argsort(pos, kind="stable")]

    def used_features(self) -> set[str]:
        """The features any of its models reads (the pooled one and each segment's own)."""
        return set().union(*(s.used_features() for s in [self.pooled, *self.models.values()]))

    def warm_up(self) -> None:
        for s in [self.pooled, *self.models.values()]:
            s.warm_up()
