"""The one fitted artifact: features + encoder + booster + calibrator + cutoffs + explainer.

Training builds a `LeadScorer`; the registry packs it into the MLflow pyfunc model; the batch
scorer, the REST server and notebooks all call the same methods, so no scoring path re-implements
training logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from pipeline.explain import fastshap
from pipeline.explain.fields import field_matrix
from pipeline.explain.reasons import reason_table
from pipeline.explain.subscores import group_logodds, percentile
from pipeline.features.builder import FeatureBuilder
from pipeline.modeling.cutoffs import Cutoffs


@dataclass
class LeadScorer:
    builder: FeatureBuilder
    booster: Pipeline  # encoder + LGBMClassifier
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

    @property
    def engagement_fields(self) -> list[str]:
        """Business fields of the engagement side: activity types and behaviour columns."""
        return [*self.builder.activity_types_, *self.engagement_columns]

    def features(
        self, leads: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray
    ) -> pd.DataFrame:
        return self.builder.transform(leads, events, as_of)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probabilities."""
        return self.calibrator.predict_proba(X)[:, 1]

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Per-feature SHAP values (log-odds) and the base value, from the booster."""
        enc = self.booster.named_steps["encode"].transform(X)
        booster = self.booster.named_steps["lgbm"].booster_
        fast = fastshap.for_booster(booster)  # same values as pred_contrib, ~5x faster
        if fast is not None:
            c = fast.contributions(fastshap.lightgbm_matrix(enc))
        else:
            c = booster.predict(enc, pred_contrib=True)
        return c[:, :-1], float(c[0, -1]) if len(c) else 0.0

    def field_contributions(self, X: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        fields, m = field_matrix(self.builder.feature_fields)
        c, _ = self.contributions(X)
        return fields, c @ m

    def known_categories(self) -> dict[str, set[str]]:
        """Per categorical column, the values the model tells apart; any other value it treats as
        one 'other' level, and its reason must say so rather than name the raw value."""
        cats = getattr(self.booster.named_steps["encode"], "categories_", {}) or {}
        return {c: {str(v) for v in vals} for c, vals in cats.items()}

    def to_score(self, p: np.ndarray) -> np.ndarray:
        """0-100: the share of reference leads (recent history) with a lower or equal probability."""
        ref = self.score_reference
        return np.clip(
            np.round(100 * np.searchsorted(ref, p, side="right") / len(ref)), 0, 100
        ).astype(int)

    def set_subscore_reference(self, X: pd.DataFrame) -> None:
        """Fix the fit/engagement distributions of the reference leads (those behind `score`)."""
        c, _ = self.contributions(X)
        g = group_logodds(c, self.builder.feature_fields, self.engagement_fields)
        self.fit_reference, self.engagement_reference = np.sort(g[:, 0]), np.sort(g[:, 1])

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

    def reason_words(self) -> dict:
        """What phrasing needs from training: yes/no columns and the categories the model knows."""
        return {"flags": set(self.flag_columns), "categories": self.known_categories()}

    def score_features(self, X: pd.DataFrame, n_reasons: int = 3) -> pd.DataFrame:
        """`score` on a feature frame already built (the batch scorer also feeds it to drift)."""
        p = self.predict_proba(X)
        out = pd.DataFrame(index=X.index)
        out["probability"] = p
        out["score"] = self.to_score(p)
        out["stage"] = self.cutoffs.stage(p)
        if n_reasons > 0:
            c, _ = self.contributions(X)
            ff = self.builder.feature_fields
            words = self.reason_words()
            out = out.join(reason_table(c, ff, X, n_reasons, self.builder.has_time_, **words))
            sub = self.subscores(c)
            sub.index = X.index
            out = out.join(sub)
        return out
