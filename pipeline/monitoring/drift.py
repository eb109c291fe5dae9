"""Drift: do the leads being scored look like the leads the model learned from?

At training time the scorer keeps a compact reference of its training features: for each numeric
feature the decile edges and the share of rows in each bin (plus a missing bin), for each
categorical feature the shares of its most common values (plus "other" and missing). A scoring run
counts its own rows into the same bins, chunk by chunk (so it costs no extra pass and no memory
beyond the counts), and the Population Stability Index per feature says how far they moved.
PSI > 0.2 is the usual "investigate" line; the run warns by feature name.

PSI needs a sample: on a few dozen leads the bins are mostly empty and nearly every feature looks
drifted (one lead gave 38 warnings). Below `MIN_ROWS` scored leads the run says, in one line,
that drift was not checked; the PSI values are still logged with the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PSI_WARN = 0.2
MIN_ROWS = 500  # fewer scored leads than this: drift is not judged
N_BINS = 10
TOP_CATEGORIES = 20
EPS = 1e-4


@dataclass
class DriftReference:
    """Per-feature bins and training shares. Numeric: `edges`; categorical: `categories`."""

    edges: dict[str, np.ndarray] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)
    shares: dict[str, np.ndarray] = field(default_factory=dict)
    n_rows: int = 0

    @classmethod
    def fit(cls, X: pd.DataFrame, categorical: list[str]) -> DriftReference:
        ref = cls(n_rows=len(X))
        for c in X.columns:
            if c in categorical:
                vc = X[c].astype("string").value_counts()
                ref.categories[c] = [str(v) for v in vc.index[:TOP_CATEGORIES]]
            else:
                v = X[c].to_numpy(dtype=float)
                v = v[~np.isnan(v)]
                qs = np.quantile(v, np.linspace(0, 1, N_BINS + 1)[1:-1]) if len(v) else []
                ref.edges[c] = np.unique(np.asarray(qs, dtype=float))
        counts = ref.count(X)
        ref.shares = {c: n / max(n.sum(), 1) for c, n in counts.items()}
        return ref

    def count(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Rows of X per bin of every reference feature (add these up over chunks)."""
        out: dict[str, np.ndarray] = {}
        for c, edges in self.edges.items():
            if c not in X.columns:
                continue
            v = X[c].to_numpy(dtype=float)
            n_nan = int(np.isnan(v).sum())
            # a missing value sorts after every edge: counted in the last bin, moved to its own
            n = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
            n[-1] -= n_nan
            out[c] = np.append(n.astype(float), float(n_nan))
        for c, cats in self.categories.items():
            if c not in X.columns:
                continue
            code, present = _category_codes(X[c], cats)
            n = np.bincount(code[code >= 0], minlength=len(cats)).astype(float)
            other = float(((code < 0) & present).sum())
            out[c] = np.append(n, [other, float((~present).sum())])
        return out


def _category_codes(s: pd.Series, cats: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(position of each value in `cats` or -1, value present), the values read as text. A
    pyarrow text column is looked up by pyarrow: no Python string per row (~1 s per million
    leads over six columns)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        a = pa.array(s.array)
        code = pc.fill_null(pc.index_in(a, value_set=pa.array(cats, pa.string())), -1)
        return code.to_numpy(zero_copy_only=False), pc.is_valid(a).to_numpy(zero_copy_only=False)
    t = s.astype("string")
    return pd.Index(cats, dtype=object).get_indexer(t.astype(object)), t.notna().to_numpy()


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population Stability Index of two share vectors (empty bins smoothed by EPS)."""
    e = np.clip(np.asarray(expected, float), EPS, None)
    a = np.clip(np.asarray(actual, float), EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


class DriftCounter:
    """Accumulates bin counts over the chunks of one scoring run."""

    def __init__(self, ref: DriftReference | None) -> None:
        self.ref = ref
        self.counts: dict[str, np.ndarray] = {}
        self.n_rows = 0

    def add(self, X: pd.DataFrame) -> None:
        if self.ref is None or not len(X):
            return
        self.add_counts(self.ref.count(X), len(X))

    def add_counts(self, counts: dict[str, np.ndarray], n_rows: int) -> None:
        """Bin counts made elsewhere (a Spark executor's `ref.count`), added to this run's."""
        self.n_rows += n_rows
        for c, n in counts.items():
            self.counts[c] = self.counts[c] + n if c in self.counts else n

    def table(self) -> pd.DataFrame:
        """One row per feature: PSI, training and scoring missing shares; largest PSI first."""
        rows = []
        if self.ref is None or not self.n_rows:
            return pd.DataFrame(columns=["feature", "psi", "drifted"])
        for c, n in self.counts.items():
            share = n / max(n.sum(), 1)
            rows.append(
                {
                    "feature": c,
                    "psi": round(psi(self.ref.shares[c], share), 6),
                    "train_missing_share": round(float(self.ref.shares[c][-1]), 6),
                    "score_missing_share": round(float(share[-1]), 6),
                }
            )
        df = pd.DataFrame(rows).sort_values("psi", ascending=False, ignore_index=True)
        df["drifted"] = df["psi"] > PSI_WARN
        return df


def enough_rows(n_rows: int) -> bool:
    """Whether a run scored enough leads for its PSI values to be read as drift."""
    return n_rows >= MIN_ROWS


def warning_lines(table: pd.DataFrame, n_rows: int, limit: float = PSI_WARN) -> list[str]:
    """One stderr line per drifted feature, worst first; one note line when the run is too small."""
    if table.empty:
        return []
    if not enough_rows(n_rows):
        return [
            f"note: drift not checked: {n_rows:,} scored lead(s), fewer than the {MIN_ROWS} "
            "a stable comparison with the training data needs"
        ]
    bad = table[table["psi"] > limit]
    return [
        f"warning: drift in feature '{r.feature}': PSI {r.psi:.2f} > {limit} vs training data"
        for r in bad.itertuples()
    ]
