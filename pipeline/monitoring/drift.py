"""Drift: do the leads being scored look like the leads the model learned from?

At training time the scorer keeps a compact reference of its training features: for each numeric
feature the decile edges and the share of rows in each bin (plus a missing bin), for each
categorical feature the shares of its most common values (plus "other" and missing). A scoring run
counts its own rows into the same bins, chunk by chunk (so it costs no extra pass and no memory
beyond the counts), and the Population Stability Index per feature says how far they moved.
PSI > 0.2 is the usual "investigate" line; the run warns by feature name.

Only what the served model reads is judged. A feature it never uses (no tree splits on it, a
logistic coefficient of 0, a `schema.context` column left out by `training.context`) moves no
score, so its PSI is kept in the table (`used` false) but never said as drift. The
`schema.context` columns describe the period, not the lead (an employment index, an interest
rate): a new period moves them by construction, and "drift in feature 'nr.employed'" tells a
sales team nothing they can act on. They are said once, in the report's words, as the market
conditions: a warning when the model uses them, at most a note that it does not.

PSI needs a sample: on a few dozen leads the bins are mostly empty and nearly every feature looks
drifted (one lead gave 38 warnings). Below `MIN_ROWS` scored leads the run says, in one line,
that drift was not checked; the PSI values are still logged with the run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.words import column_label

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
    """Accumulates bin counts over the chunks of one scoring run.

    `used`: the features the served model reads (None: all of them, for callers that do not
    know the model); `context`: the `schema.context` columns, with `labels` (`schema.labels`)
    to name them in words."""

    def __init__(
        self,
        ref: DriftReference | None,
        used: Collection[str] | None = None,
        context: Collection[str] = (),
        labels: dict[str, Any] | None = None,
    ) -> None:
        self.ref = ref
        self.used = None if used is None else set(used)
        self.context = set(context)
        self.labels = labels or {}
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
        """One row per feature: PSI, training and scoring missing shares, whether the served
        model uses it, whether it is a market condition (`schema.context`) and its words;
        `drifted` only for a used feature above the line. Largest PSI first."""
        rows = []
        if self.ref is None or not self.n_rows:
            return pd.DataFrame(columns=["feature", "psi", "drifted", *ROLE_COLUMNS])
        for c, n in self.counts.items():
            share = n / max(n.sum(), 1)
            rows.append(
                {
                    "feature": c,
                    "psi": round(psi(self.ref.shares[c], share), 6),
                    "train_missing_share": round(float(self.ref.shares[c][-1]), 6),
                    "score_missing_share": round(float(share[-1]), 6),
                    "used": self.used is None or c in self.used,
                    "market_condition": c in self.context,
                    "words": column_label(self.labels, c),
                }
            )
        df = pd.DataFrame(rows).sort_values("psi", ascending=False, ignore_index=True)
        df["drifted"] = (df["psi"] > PSI_WARN) & df["used"]
        return df


ROLE_COLUMNS = ("used", "market_condition", "words")  # what the drift table says of each row


def with_roles(table: pd.DataFrame) -> pd.DataFrame:
    """The table with `used`, `market_condition` and `words`, as a table made before they
    existed (or by hand) reads: every feature used, none a market condition, named as itself."""
    defaults = {"used": True, "market_condition": False}
    t = table.assign(**{k: v for k, v in defaults.items() if k not in table.columns})
    if "words" not in t.columns:
        t["words"] = t["feature"].astype(str)
    return t.astype({"used": bool, "market_condition": bool})


def lead_features(table: pd.DataFrame) -> pd.DataFrame:
    """The rows drift is said of feature by feature: used by the model, not market conditions."""
    t = with_roles(table)
    return t[t["used"] & ~t["market_condition"]]


@dataclass(frozen=True)
class MarketConditions:
    """The `schema.context` columns of a drift table, as one thing said about the period."""

    used: bool  # the served model reads at least one of them
    psi: float  # the largest PSI among the ones it reads (among all when it reads none)
    moved: tuple[str, ...]  # words of those above the line, worst first


def market_conditions(table: pd.DataFrame, limit: float = PSI_WARN) -> MarketConditions | None:
    """The market conditions of a drift table, None without `schema.context` columns. When the
    model reads some of them, only those count (a column it leaves out moves no score)."""
    t = with_roles(table)
    ctx = t[t["market_condition"]]
    if ctx.empty:
        return None
    used = bool(ctx["used"].any())
    ctx = ctx[ctx["used"]] if used else ctx
    moved = ctx[ctx["psi"] > limit].sort_values("psi", ascending=False)
    return MarketConditions(used, float(ctx["psi"].max()), tuple(moved["words"].astype(str)))


def enough_rows(n_rows: int) -> bool:
    """Whether a run scored enough leads for its PSI values to be read as drift."""
    return n_rows >= MIN_ROWS


def warning_lines(table: pd.DataFrame, n_rows: int, limit: float = PSI_WARN) -> list[str]:
    """One stderr line per drifted feature the model uses, worst first, then one line for the
    market conditions when they moved (a warning when the model uses them, else a note that
    they move no score); one note line instead when the run is too small."""
    if table.empty:
        return []
    if not enough_rows(n_rows):
        return [
            f"note: drift not checked: {n_rows:,} scored lead(s), fewer than the {MIN_ROWS} "
            "a stable comparison with the training data needs"
        ]
    bad = lead_features(table)
    lines = [
        f"warning: drift in feature '{r.feature}': PSI {r.psi:.2f} > {limit} vs training data"
        for r in bad[bad["psi"] > limit].itertuples()
    ]
    market = market_conditions(table, limit)
    if market is not None and market.moved:
        names = ", ".join(market.moved)
        lines.append(
            f"warning: market conditions moved since training ({names}): PSI {market.psi:.2f} > "
            f"{limit} vs training data"
            if market.used
            else f"note: market conditions moved since training ({names}), PSI "
            f"{market.psi:.2f}; the model does not use them, so they move no score"
        )
    return lines


def drift_metrics(table: pd.DataFrame, checked: bool) -> tuple[dict[str, float], dict[str, str]]:
    """What a scoring run logs of its drift table, by the rule of `warning_lines`: `psi_<feature>`
    for each feature the model uses that is not a market condition, `psi_market_conditions`
    (the largest) only when it uses them, `psi_max` over those; with enough leads
    (`checked`) `features_drifted` and `market_conditions_drifted`. Tags: `drift_checked`, and
    `market_conditions` (`used` or `not_used`) with `schema.context` columns."""
    if table.empty:
        return {}, {}
    feats = lead_features(table)
    metrics = {f"psi_{r.feature}": float(r.psi) for r in feats.itertuples()}
    tags = {"drift_checked": str(checked).lower()}
    market = market_conditions(table)
    if market is not None:
        tags["market_conditions"] = "used" if market.used else "not_used"
        if market.used:
            metrics["psi_market_conditions"] = market.psi
    said = list(metrics.values())
    if said:
        metrics["psi_max"] = max(said)
    if checked:
        metrics["features_drifted"] = float((feats["psi"] > PSI_WARN).sum())
        if market is not None and market.used:
            metrics["market_conditions_drifted"] = float(market.psi > PSI_WARN)
    return metrics, tags
