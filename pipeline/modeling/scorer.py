"""The one fitted artifact: features + estimator + calibrator + cutoffs + explainer.

Training builds a `LeadScorer` once, from parts it has fitted (nothing is assigned to it
afterwards); the registry packs it into the MLflow pyfunc model; the batch scorer, the REST server
and notebooks all call the same methods, so no scoring path re-implements training logic.

Like a scikit-learn classifier, `predict_proba` returns two columns (lost, won);
`conversion_probability` is the won column alone, which is what scoring reads. The pickled scorer
carries `format_version`: a scorer pickled in another layout is refused when it is unpickled, with
`ModelFormatError` (the registry turns it into one line naming the model version).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from pipeline.errors import restore_pickled
from pipeline.explain import fastshap
from pipeline.explain.changes import PART_PREFIX
from pipeline.explain.fields import field_matrix
from pipeline.explain.reasons import reason_table
from pipeline.explain.subscores import group_logodds, percentile, rank_percentile
from pipeline.features.builder import FeatureBuilder
from pipeline.modeling import encoded
from pipeline.modeling.cutoffs import Cutoffs
from pipeline.modeling.grades import grade_of
from pipeline.modeling.logistic import known_categories as linear_known_categories
from pipeline.modeling.logistic import linear_contributions
from pipeline.modeling.logistic import used_columns as linear_used_columns

# the layout of the pickled scorer; any other is refused on unpickling (ModelFormatError).
# 4: the fitted model is `estimator`, its kind is `candidate` ("lightgbm" or "logistic")
FORMAT_VERSION = 4
LOGISTIC = "logistic"  # the `candidate` whose estimator is modeling.logistic's pipeline


class Scorer(Protocol):
    """What scoring, reports and training read of a fitted scorer, pooled or segmented: the
    model's own log-odds and probabilities before calibration, the calibrated probability, the
    per-feature log-odds parts, and the scored frame."""

    builder: FeatureBuilder
    cutoffs: Cutoffs
    meta: dict
    candidate: str  # which candidate won on validation: "lightgbm" or "logistic"

    def raw_scores(self, X: pd.DataFrame) -> np.ndarray: ...
    def uncalibrated_probability(self, X: pd.DataFrame) -> np.ndarray: ...
    def conversion_probability(self, X: pd.DataFrame) -> np.ndarray: ...
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...
    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, float]: ...
    def field_contributions(self, X: pd.DataFrame) -> tuple[list[str], np.ndarray]: ...
    def features(
        self, leads: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray
    ) -> pd.DataFrame: ...
    def score_features(
        self, X: pd.DataFrame, n_reasons: int = 3, parts: bool = False
    ) -> pd.DataFrame: ...
    def warm_up(self) -> None: ...
    def used_features(self) -> set[str]: ...
    def served_by(self, X: pd.DataFrame) -> Iterator[tuple[LeadScorer, np.ndarray]]: ...


@dataclass
class LeadScorer:
    """One model serving every lead: the LightGBM booster or the logistic regression, as
    `candidate` says."""

    builder: FeatureBuilder
    estimator: Pipeline  # the candidate that won: encoder + LGBMClassifier, or the logistic one
    calibrator: CalibratedClassifierCV
    cutoffs: Cutoffs
    score_reference: np.ndarray  # sorted calibrated probabilities of reference leads
    calibration_method: str = "isotonic"
    meta: dict = field(default_factory=dict)
    fit_reference: np.ndarray | None = None  # sorted fit log-odds parts of the reference leads
    engagement_reference: np.ndarray | None = None  # same for the engagement parts
    # plain columns that are behaviour (schema.engagement): engagement, like the activity types
    engagement_columns: tuple[str, ...] = ()
    # columns whose reasons read yes/no: schema.flags and numeric columns holding only 0/1
    flag_columns: tuple[str, ...] = ()
    candidate: str = "lightgbm"  # which candidate won on validation: the kind of `estimator`
    format_version: int = FORMAT_VERSION  # layout of the pickled artifact, checked on unpickling

    def __setstate__(self, state: dict) -> None:
        restore_pickled(self, state, FORMAT_VERSION, unversioned=1)

    @property
    def classes_(self) -> np.ndarray:
        """The outcome of each `predict_proba` column: 0 = lost, 1 = won (converted)."""
        return np.array([0, 1])

    @property
    def engagement_fields(self) -> list[str]:
        """Business fields of the engagement side: activity types and behaviour columns."""
        return engagement_fields(self.builder, self.engagement_columns)

    def features(
        self, leads: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray
    ) -> pd.DataFrame:
        return self.builder.transform(leads, events, as_of)

    def served_by(self, X: pd.DataFrame) -> Iterator[tuple[LeadScorer, np.ndarray]]:
        """The one model that serves every row of X, with the rows' positions."""
        yield self, np.arange(len(X))

    @property
    def is_logistic(self) -> bool:
        return self.candidate == LOGISTIC

    def raw_scores(self, X: pd.DataFrame) -> np.ndarray:
        """The estimator's log-odds of each row, before calibration."""
        if self.is_logistic:
            return self.estimator.decision_function(X)
        return self.estimator[-1].predict(self.estimator[:-1].transform(X), raw_score=True)

    def uncalibrated_probability(self, X: pd.DataFrame) -> np.ndarray:
        """The estimator's own probability of each row, before calibration."""
        return self.estimator.predict_proba(X)[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): column 0 lost, column 1 won (see `classes_`)."""
        return self.calibrator.predict_proba(X)

    def conversion_probability(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probability of each row, shape (n,): `predict_proba`'s won
        column."""
        return self.predict_proba(X)[:, 1]

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Per-feature log-odds parts and the base value: SHAP values of the booster, or the
        logistic model's exact linear contributions."""
        return model_contributions(self.candidate, self.estimator, X)

    def field_contributions(self, X: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        fields, m = field_matrix(self.builder.feature_fields)
        c, _ = self.contributions(X)
        return fields, c @ m

    def known_categories(self) -> dict[str, set[str]]:
        """Per categorical column, the values the model tells apart; any other value it treats as
        one 'other' level, and its reason must say so rather than name the raw value."""
        if self.is_logistic:
            return linear_known_categories(self.estimator)
        cats = self.estimator.named_steps["encode"].categories_
        return {c: {str(v) for v in vals} for c, vals in cats.items()}

    def used_features(self) -> set[str]:
        """The features this model reads: a booster's features some tree splits on (a column
        blanked by `training.context` never is), the logistic model's columns with a coefficient
        other than 0. A feature outside moves no probability, so drift in it is not said."""
        if self.is_logistic:
            return linear_used_columns(self.estimator)
        enc = self.estimator.named_steps["encode"]
        splits = self.estimator.named_steps["lgbm"].booster_.feature_importance("split")
        return {str(c) for c, n in zip(enc.feature_names_in_, splits, strict=True) if n > 0}

    def to_score(self, p: np.ndarray) -> np.ndarray:
        """0-100: the share of reference leads (recent history) with a lower or equal probability
        (`pipeline.explain.subscores.rank_percentile`)."""
        return rank_percentile(self.score_reference, p)

    def subscores(self, contrib: np.ndarray) -> pd.DataFrame:
        """fit_score and engagement_score (0-100 percentiles) from per-feature SHAP values."""
        g = group_logodds(contrib, self.builder.feature_fields, self.engagement_fields)
        return pd.DataFrame(
            {
                "fit_score": percentile(self.fit_reference, g[:, 0]),
                "engagement_score": percentile(self.engagement_reference, g[:, 1]),
            }
        )

    def score(
        self, leads: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray, n_reasons: int = 3
    ) -> pd.DataFrame:
        """Probability, score, stage and top reasons for each lead (index = lead id)."""
        return self.score_features(self.features(leads, events, as_of), n_reasons)

    def warm_up(self) -> None:
        """Build what every request would otherwise build on first use: the booster's SHAP tables
        and the compiled walk (loaded from numba's cache, or compiled). A server calls this at
        load, so its first request costs what the others do. A logistic candidate has neither
        (its parts are exact linear ones)."""
        if self.is_logistic:
            return
        fastshap.for_booster(self.estimator.named_steps["lgbm"].booster_)
        fastshap.compiled.available()

    def reason_words(self) -> dict:
        """What phrasing needs from training: yes/no columns and the categories the model knows
        (built once per scorer: nothing in them depends on the leads)."""
        words = self.__dict__.get("_words")
        if words is None:
            labels = (self.meta.get("schema") or {}).get("labels") or {}
            words = self.__dict__["_words"] = {
                "flags": set(self.flag_columns),
                "categories": self.known_categories(),
                "labels": labels,
                "context": set((self.meta.get("schema") or {}).get("context") or ()),
            }
        return words

    def phrase_memo(self) -> dict:
        """The category words this scorer has phrased (see `reasons.phrase`), kept across calls."""
        return self.__dict__.setdefault("_phrases", {})

    def __getstate__(self) -> dict:
        """A pickle keeps the fitted parts, not this process's caches."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_words", "_phrases")}

    def score_features(
        self, X: pd.DataFrame, n_reasons: int = 3, parts: bool = False
    ) -> pd.DataFrame:
        """`score` on a feature frame already built (the batch scorer also feeds it to drift).
        `parts`: with reasons, also each business field's log-odds part, one `_part:<field>`
        column per field (what `pipeline.explain.changes` compares between two scorings)."""
        if self.is_logistic:
            p, c = self.conversion_probability(X), None
        else:  # one encoding of the chunk for the probability and the SHAP walk
            e = encoded.encode(self.estimator, X, explain=n_reasons > 0)
            p = encoded.calibrated(self.calibrator, e.raw)[:, 1]
            c = None if e.contributions is None else e.contributions[:, :-1]
        cols = {"probability": p, "score": self.to_score(p), "stage": self.cutoffs.stage(p)}
        cols["grade"] = grade_of(p, self.meta.get("grades"))  # the registry's floors (grades.py)
        if n_reasons > 0:
            c = self.contributions(X)[0] if c is None else c
            ff, has_time = self.builder.feature_fields, self.builder.has_time_
            words = {**self.reason_words(), "memo": self.phrase_memo()}
            reasons = reason_table(c, ff, X, n_reasons, has_time, **words)
            cols.update((k, reasons[k].to_numpy()) for k in reasons.columns)
            cols.update((k, v.to_numpy()) for k, v in self.subscores(c).items())
            if parts:
                fields, m = field_matrix(ff)
                fc = c @ m
                cols.update((f"{PART_PREFIX}{f}", fc[:, j]) for j, f in enumerate(fields))
        return pd.DataFrame(cols, index=X.index)  # one frame: each join costs ~1 ms a request


def model_contributions(
    candidate: str, estimator: Pipeline, X: pd.DataFrame
) -> tuple[np.ndarray, float]:
    """Per-feature log-odds parts of `estimator`, a fitted `candidate` (SHAP for the booster,
    exact linear parts for the logistic regression), and the base value."""
    if candidate == LOGISTIC:
        return linear_contributions(estimator, X)
    return booster_contributions(estimator, X)


def booster_contributions(booster: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Per-feature SHAP values (log-odds) and the base value of `booster` (encoder + LightGBM)."""
    c = encoded.contributions(booster, encoded.matrix(booster, X))
    return c[:, :-1], float(c[0, -1]) if len(c) else 0.0


def engagement_fields(builder: FeatureBuilder, engagement_columns: tuple[str, ...]) -> list[str]:
    """Business fields of the engagement side: activity types and behaviour columns."""
    return [*builder.activity_types_, *engagement_columns]


def subscore_references(
    builder: FeatureBuilder,
    candidate: str,
    estimator: Pipeline,
    engagement_columns: tuple[str, ...],
    X: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """The sorted fit and engagement log-odds parts of the reference leads `X` (those behind
    `score`): what `fit_score` and `engagement_score` are percentiles of."""
    c, _ = model_contributions(candidate, estimator, X)
    g = group_logodds(c, builder.feature_fields, engagement_fields(builder, engagement_columns))
    return np.sort(g[:, 0]), np.sort(g[:, 1])
