"""Figures that explain the model by business field: beeswarm, dependence, one lead's waterfall.

Per-feature SHAP plots split "requested a demo" into four half-features (count, 7-day count, 30-day
count, recency) that a sales manager cannot add up in their head; these sum them per field first,
exactly as the reasons do, so the plots and the reasons tell the same story.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib

if not os.environ.get("MPLBACKEND"):  # headless runs; a notebook keeps its inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# labels are the export's words ("$1M-$5M" is a company size, not math): never mathtext or TeX
matplotlib.rcParams.update({"text.parse_math": False, "text.usetex": False})
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pipeline.errors import DataError  # noqa: E402
from pipeline.explain.fields import field_matrix  # noqa: E402
from pipeline.features.builder import ACTIVITY_FIELD, AGE_FIELD, EMAIL_FIELD  # noqa: E402

TOP_DEPENDENCE = 5


def field_value(field: str, X: pd.DataFrame) -> tuple[pd.Series, str]:
    """The one feature value that stands for a field on a plot axis, and its axis label."""
    if field == AGE_FIELD:
        return X["lead_age_days"], "lead age (days)"
    if field == EMAIL_FIELD:
        return X["personal_email"], "personal email domain (1 = yes)"
    prefix = "activity" if field == ACTIVITY_FIELD else field
    if f"{prefix}_count" in X.columns:
        return X[f"{prefix}_count"].fillna(0), f"{field.replace('_', ' ')}: events so far"
    return X[field], field.replace("_", " ")


def field_explanation(contrib: np.ndarray, X: pd.DataFrame, feature_fields: dict[str, str]):
    """A shap.Explanation with one column per business field (categoricals get no colour)."""
    import shap

    fields, m = field_matrix(feature_fields)
    cols = []
    for f in fields:
        v = field_value(f, X)[0]
        numeric = pd.api.types.is_numeric_dtype(v)
        cols.append(v.to_numpy(float) if numeric else np.full(len(X), np.nan))
    data = np.column_stack(cols)
    return shap.Explanation(values=contrib @ m, data=data, feature_names=fields)


def field_beeswarm(
    contrib: np.ndarray, X: pd.DataFrame, feature_fields: dict[str, str], max_display: int = 20
) -> Figure:
    """SHAP summary by business field; colour = the field's count or value (grey: a category)."""
    import shap

    plt.figure(figsize=(8, 7))
    with warnings.catch_warnings():  # categorical fields have no colour values: all NaN
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        shap.plots.beeswarm(
            field_explanation(contrib, X, feature_fields), max_display=max_display, show=False
        )
    fig = plt.gcf()
    fig.suptitle("SHAP by business field (log-odds; grey = categorical)", fontsize=10)
    fig.tight_layout()
    return fig


def field_dependence(
    field: str, values: np.ndarray, X: pd.DataFrame, max_categories: int = 15
) -> Figure:
    """How one field's value moves the log-odds: scatter for numbers, strips for categories."""
    v, label = field_value(field, X)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    rng = np.random.default_rng(0)
    if pd.api.types.is_numeric_dtype(v):
        x = v.to_numpy(float)
        is_count = (
            bool(np.nanmax(np.abs(x - np.round(x)), initial=0) == 0)
            and np.nanmax(x, initial=0) <= 50
        )
        jitter = rng.uniform(-0.2, 0.2, len(x)) if is_count else 0.0
        ax.scatter(x + jitter, values, s=6, alpha=0.35, color="#3b6ea8")
        if np.isnan(x).any():
            ax.scatter(
                np.full(int(np.isnan(x).sum()), np.nanmin(x, initial=0)),
                values[np.isnan(x)],
                s=6,
                alpha=0.35,
                color="grey",
                label="unknown (shown at the left edge)",
            )
            ax.legend(loc="best", fontsize=8)
        if np.nanmin(x, initial=0) >= 0 and np.nanmax(x, initial=0) > 1000:
            ax.set_xscale("symlog", linthresh=10)  # sizes and budgets span orders of magnitude
        ax.set_xlabel(label)
        ax.set_ylabel("SHAP value of the field (log-odds)")
        ax.axhline(0, color="grey", lw=0.6)
    else:
        s = v.astype("string").fillna("(unknown)")
        keep = s.value_counts().index[:max_categories]
        s = s.where(s.isin(keep), "(other)")
        order = pd.Series(values, index=s.index).groupby(s).mean().sort_values().index
        pos = {c: i for i, c in enumerate(order)}
        y = s.map(pos).to_numpy(float) + rng.uniform(-0.25, 0.25, len(s))
        ax.scatter(values, y, s=6, alpha=0.35, color="#3b6ea8")
        ax.set_yticks(range(len(order)), list(order), fontsize=8)
        ax.set_xlabel("SHAP value (log-odds)")
        ax.set_ylabel(label)
        ax.axvline(0, color="grey", lw=0.6)
    ax.set_title(f"Dependence: {field.replace('_', ' ')}")
    fig.tight_layout()
    return fig


def field_figures(
    contrib: np.ndarray, X: pd.DataFrame, feature_fields: dict[str, str]
) -> dict[str, Figure]:
    """Artifacts of a training run: field beeswarm plus dependence plots of the top five fields."""
    fields, m = field_matrix(feature_fields)
    fc = contrib @ m
    figs = {"explain/shap_beeswarm_by_field.png": field_beeswarm(contrib, X, feature_fields)}
    top = np.argsort(-np.abs(fc).mean(axis=0), kind="stable")[:TOP_DEPENDENCE]
    for rank, j in enumerate(top, start=1):
        name = f"explain/dependence/{rank}_{fields[j]}.png"
        figs[name] = field_dependence(fields[j], fc[:, j], X)
    return figs


def waterfall(
    field_values: np.ndarray,
    base: float,
    labels: list[str],
    title: str = "",
    max_display: int = 12,
) -> Figure:
    """One lead: from the average lead's log-odds (base) to its own, one bar per business field."""
    import shap

    exp = shap.Explanation(
        values=np.asarray(field_values, float), base_values=float(base), feature_names=labels
    )
    plt.figure(figsize=(11, 0.45 * min(max_display, len(labels)) + 2))
    shap.plots.waterfall(exp, max_display=max_display, show=False)
    fig = plt.gcf()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def lead_waterfall(scorer, lead: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray) -> Figure:
    """Waterfall of one lead (a one-row canonical leads frame), bars labelled in plain words."""
    from pipeline.explain.reasons import reason_table

    X = scorer.features(lead, events, as_of)
    contrib, base = scorer.contributions(X)
    fields, m = field_matrix(scorer.builder.feature_fields)
    fc = (contrib @ m)[0]
    ff, has_time = scorer.builder.feature_fields, scorer.builder.has_time_
    reasons = reason_table(contrib, ff, X, len(fields), has_time, **scorer.reason_words())
    order = np.argsort(-np.abs(fc), kind="stable")
    words = {f: "" for f in fields}
    for slot, j in enumerate(order):  # reason_i holds the i-th largest field: strip its sign
        words[fields[j]] = str(reasons.iloc[0, slot]).split(" ", 1)[-1]
    labels = [f"{words[f]} [{f}]" for f in fields]
    p = scorer.conversion_probability(X)[0]
    title = f"lead {X.index[0]}: probability {p:.3f}, score {scorer.to_score(np.array([p]))[0]}"
    return waterfall(fc, base, labels, title)


def importance_bar(importance: pd.DataFrame, top: int = 20) -> Figure:
    d = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(d) + 1.2))
    ax.barh(d["field"], d["mean_abs_shap"], color="#3b6ea8")
    ax.set_xlabel("mean |SHAP| (log-odds)")
    ax.set_title("What drives the score (by business field)")
    fig.tight_layout()
    return fig


def shap_beeswarm(contrib: np.ndarray, X: pd.DataFrame, max_display: int = 20) -> Figure:
    """SHAP's own beeswarm of per-feature values; categoricals are coloured by their codes."""
    import shap

    data = X.copy()
    for c in data.columns:
        if not pd.api.types.is_numeric_dtype(data[c]):
            data[c] = data[c].astype("category").cat.codes.replace(-1, np.nan)
    exp = shap.Explanation(values=contrib, data=data.to_numpy(float), feature_names=list(X.columns))
    plt.figure(figsize=(8, 7))
    shap.plots.beeswarm(exp, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.tight_layout()
    return fig


PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "webp", "eps", "ps", "tif", "tiff")


def check_plot_path(path: str | Path) -> None:
    """The plot's name decides its image format: refuse, before any work, a suffix matplotlib
    cannot write (`x.txt`), rather than fail after the model is loaded."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        raise DataError(
            f"{path}: the plot's name decides its image format; end it in .png, .svg or .pdf"
        )
