"""A logistic regression on the booster's feature frame, with exact linear contributions.

Every input column gets its own small transformer inside one `ColumnTransformer`, so the columns
each input becomes (its standardized value and missing indicator, or its one-hot levels) are a
known slice (`output_indices_`): a row's log-odds split exactly into one part per input column,
the way TreeSHAP splits a booster's, and the same field sums, reasons and sub-scores apply.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

MIN_FREQUENCY = 20  # rarer categories share one "infrequent" level, as the booster's __other__
C = 0.5  # L2 strength (inverse)


class FrameCleaner(TransformerMixin, BaseEstimator):
    """Numbers as floats, categories as strings with "missing" for unknown, so the encoders see
    one consistent frame."""

    def __init__(self, categorical: list[str] | None = None):
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: object = None) -> FrameCleaner:
        self.feature_names_in_ = np.array(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        cats = set(self.categorical or [])
        cols = {}
        for c in X.columns:
            s = X[c]
            if c in cats:
                cols[c] = s.astype(object).where(s.notna(), "missing").astype(str)
            else:
                cols[c] = s.astype(float)
        return pd.DataFrame(cols, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log(1 + |x|) with x's sign: counts, days and amounts are skewed; negatives keep their side
    (on non-negative columns it is log1p)."""
    return np.sign(x) * np.log1p(np.abs(x))


def _numeric() -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        FunctionTransformer(signed_log1p, feature_names_out="one-to-one"),
        StandardScaler(),
    )


def _categorical() -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=MIN_FREQUENCY),
    )


def fit_logistic(X: pd.DataFrame, y: np.ndarray, categorical: list[str], seed: int) -> Pipeline:
    """Clean -> one transformer per column -> L2 logistic regression, fit on (X, y)."""
    cats = [c for c in X.columns if c in set(categorical)]
    prep = ColumnTransformer(
        [(f"c{i}", _categorical() if c in cats else _numeric(), [c]) for i, c in enumerate(X)]
    )
    model = Pipeline(
        [
            ("clean", FrameCleaner(cats)),
            ("prep", prep),
            ("lr", LogisticRegression(C=C, max_iter=2000, random_state=seed)),
        ]
    )
    model.fit(X, y)
    t = model[:-1].transform(X)
    model.train_mean_ = np.asarray(t.mean(axis=0)).ravel()  # the contributions' reference point
    return model


def linear_contributions(model: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Per-input-column log-odds parts (rows x columns of X, in X's order) and the base value.

    A part is sum over the column's transformed values of coefficient x (value - training mean);
    the base value is the log-odds of the training mean, so base + parts = the decision function.
    """
    t = model[:-1].transform(X)
    t = t.toarray() if hasattr(t, "toarray") else np.asarray(t)
    lr = model.named_steps["lr"]
    w = lr.coef_.ravel()
    parts = (t - model.train_mean_) * w
    out = np.zeros((len(X), len(X.columns)))
    slices = model.named_steps["prep"].output_indices_
    for i in range(len(X.columns)):
        out[:, i] = parts[:, slices[f"c{i}"]].sum(axis=1)
    base = float(lr.intercept_[0] + model.train_mean_ @ w)
    return out, base


def known_categories(model: Pipeline) -> dict[str, set[str]]:
    """Per categorical column, the levels the regression tells apart (rarer ones are pooled)."""
    prep = model.named_steps["prep"]
    out: dict[str, set[str]] = {}
    for _name, pipe, cols in prep.transformers_:
        if not isinstance(pipe, Pipeline) or "onehotencoder" not in pipe.named_steps:
            continue
        enc = pipe.named_steps["onehotencoder"]
        pooled = enc.infrequent_categories_[0] if enc.infrequent_categories_ else None
        rare = set(pooled) if pooled is not None else set()  # an array: no truth value
        out[cols[0]] = {str(v) for v in enc.categories_[0] if v not in rare and v != "missing"}
    return out


def used_columns(model: Pipeline) -> set[str]:
    """The input columns with a coefficient other than 0 on any of their transformed values
    (a column constant in training has none): the columns the regression reads."""
    w = model.named_steps["lr"].coef_.ravel()
    prep = model.named_steps["prep"]
    slices = prep.output_indices_
    return {
        str(cols[0])
        for name, _, cols in prep.transformers_
        if name in slices and np.any(w[slices[name]] != 0)
    }
