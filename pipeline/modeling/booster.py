"""What the LightGBM booster reads: categorical columns as fixed codes, names LightGBM accepts.

The booster itself is built and fitted in `pipeline.modeling.candidates`, beside the logistic
model, so that every caller (training, backtests, tuning, segments) fits the same recipe.
"""

from __future__ import annotations

import re
import weakref

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipeline.io.keys import index_positions

OTHER = "__other__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def safe_feature_names(names: list[str]) -> list[str]:
    """Names LightGBM (and its JSON model dump) accepts whatever the export called its columns:
    `f{position}_{ASCII letters, digits and _ of the name}`, unique by the position. The export's
    names stay the display names everywhere else (reasons, reports); the encoder keeps both."""
    width = len(str(max(len(names) - 1, 0)))
    return [f"f{i:0{width}d}_{_UNSAFE.sub('_', n).strip('_')[:40]}" for i, n in enumerate(names)]


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """Categorical columns -> pandas categories fixed at fit time.

    Rare and unseen values become one `__other__` level, so a new industry at scoring time
    neither crashes nor silently shifts the codes of the known ones. The columns leave with safe
    names (`safe_names_`, in order; `feature_names_in_` keeps the export's): LightGBM refuses
    `"`, `,`, `:`, `[`, `]`, `{`, `}` and rewrites spaces, and an export may use any of them.

    `blank`: columns the booster must not learn from (the `schema.context` columns when
    validation showed they hurt, `training.context`): they stay in the frame, so every reader of
    the feature order is unchanged, but always reach LightGBM as missing, so no tree splits on
    them and their SHAP part is 0.
    """

    def __init__(
        self, columns: list[str] | None = None, min_count: int = 20, blank: tuple[str, ...] = ()
    ):
        self.columns = columns
        self.min_count = min_count
        self.blank = blank

    def blanked(self) -> set[str]:
        """The columns read as missing (none for an encoder pickled before `blank` existed)."""
        return set(getattr(self, "blank", ()) or ())

    def fit(
        self, X: pd.DataFrame, y: object = None, rows: np.ndarray | None = None
    ) -> CategoryEncoder:
        """Learn the kept categories from the rows at positions `rows` of `X` (None: all)."""
        self.categories_ = self.kept_categories(self.value_counts(X, rows))
        self.feature_names_in_ = np.array(X.columns, dtype=object)
        self.safe_names_ = safe_feature_names([str(c) for c in X.columns])
        # numbers reach LightGBM in the precision they were fit in (float32 at scale), so scoring
        # sees exactly the values the trees were split on
        num = [c for c in X.columns if c not in self.categories_]
        single = len(num) and all(X[c].dtype == np.float32 for c in num)
        self.float_dtype_ = np.dtype(np.float32 if single else np.float64)
        return self

    def value_counts(self, X: pd.DataFrame, rows: np.ndarray | None = None) -> dict[str, pd.Series]:
        """Rows per value of each categorical column (of the rows at positions `rows`): what the
        kept categories are chosen from (summed over partitions on a cluster, `kept_categories`)."""
        return {c: _rows_of(X[c], rows).astype("string").value_counts() for c in self.columns or []}

    def kept_categories(self, counts: dict[str, pd.Series]) -> dict[str, list[str]]:
        """Values seen at least `min_count` times keep their own code, sorted; then `__other__`."""
        return {
            c: [*sorted(vc.index[vc >= self.min_count].tolist()), OTHER] for c, vc in counts.items()
        }

    def _codes(self, c: str, values: pd.Series) -> np.ndarray:
        """Category codes of one column: rare or unseen -> `__other__`, missing -> -1."""
        cats = self.categories_[c]
        s = values.astype("string")
        code = index_positions(_known(self, c, cats), s)
        code = np.where(code >= 0, code, len(cats) - 1)  # rare or unseen: __other__
        code[s.isna().to_numpy()] = -1
        return code

    def matrix(
        self, X: pd.DataFrame, out_dtype: type = np.float64, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """What LightGBM reads of `transform(X)` (of the rows at positions `rows`), built without
        the frame: category codes (missing -> NaN) and numbers in the fitted precision, as
        `out_dtype` (float64; float32 when the numbers are float32, for fitting: codes and
        float32 numbers are exact in it), columns in order.

        `rows` reads a slice column by column, so a fit slice of the training frame never exists
        as a frame of its own (at 1M leads: 0.55 GB less at the peak of training)."""
        cols = list(self.feature_names_in_)
        dtype = self.float_dtype_
        # column-major: each column is written in one contiguous pass, and the SHAP walk reads
        # the transpose (a feature's rows together) without copying the matrix
        n = len(X) if rows is None else len(rows)
        out = np.empty((n, len(cols)), dtype=out_dtype, order="F")
        num = []
        for j, c in enumerate(cols):
            if c in self.categories_:
                code = self._codes(c, _rows_of(X[c], rows)).astype(out_dtype)
                out[:, j] = np.where(code < 0, np.nan, code)
            else:
                num.append(j)
        if num and out_dtype == np.float64 and rows is None:  # scoring: in one conversion
            out[:, num] = X[[cols[j] for j in num]].to_numpy(dtype=dtype, na_value=np.nan)
        else:  # fitting: column by column, no second matrix of the fit rows' numbers
            for j in num:
                out[:, j] = _rows_of(X[cols[j]], rows).to_numpy(dtype=dtype, na_value=np.nan)
        blank = self.blanked()
        if blank:
            out[:, [j for j, c in enumerate(cols) if c in blank]] = np.nan
        return out

    def lightgbm_inputs(self) -> dict:
        """What LightGBM learns from a frame of `transform(X)` besides its values, for a fit on
        `matrix(X)`: the names, the categorical columns by position (unordered categories,
        as LightGBM's 'auto' reads a frame)."""
        cols = list(self.feature_names_in_)
        return {
            "feature_name": list(self.safe_names_),
            "categorical_feature": [j for j, c in enumerate(cols) if c in self.categories_],
        }

    def pandas_categorical(self) -> list[list[str]]:
        """The category lists LightGBM keeps from a fit on a frame (in column order), so that a
        booster fit on `matrix(X)` reads frames and saves its model text the same way."""
        return [list(self.categories_[c]) for c in self.feature_names_in_ if c in self.categories_]

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        blank = self.blanked()
        for c, cats in self.categories_.items():
            code = self._codes(c, X[c]) if c not in blank else np.full(len(X), -1)
            X[c] = pd.Categorical.from_codes(code, categories=cats)
        num = [c for c in X.columns if c not in self.categories_]
        X[num] = X[num].astype(self.float_dtype_)
        for c in blank & set(num):
            X[c] = np.full(len(X), np.nan, dtype=self.float_dtype_)
        if list(X.columns) != list(self.feature_names_in_):
            X = X[list(self.feature_names_in_)]
        X.columns = self.safe_names_
        return X

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


_KNOWN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _known(encoder: CategoryEncoder, c: str, cats: list) -> pd.Index:
    """The categories of column `c` the encoder tells apart, as an Index built once per fitted
    list (a one-lead request would otherwise build one and its hash table per column)."""
    per_column = _KNOWN.setdefault(encoder, {})
    hit = per_column.get(c)
    if hit is None or hit[0] is not cats:
        hit = per_column[c] = (cats, pd.Index(cats[:-1], dtype="string"))
    return hit[1]


def _rows_of(s: pd.Series, rows: np.ndarray | None) -> pd.Series:
    """The cells of `s` at positions `rows` (None: all of them, not copied)."""
    return s if rows is None else s.iloc[rows]
