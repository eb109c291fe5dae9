"""Figures that explain the model by business field: beeswarm, dependence, one lead's waterfall.

Per-feature SHAP plots split "requested a demo" into four half-features (count, 7-day count, 30-day
count, recency) that a sales manager cannot add up in their head; these sum them per field first,
exactly as the reasons do, so the plots and the reasons tell the same story.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
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
from pipeline.explain.fields import field_matrix, with_context  # noqa: E402
from pipeline.features.builder import ACTIVITY_FIELD, AGE_FIELD, EMAIL_FIELD  # noqa: E402

TOP_DEPENDENCE = 5
Label = Callable[[str], str]  # a field's name in a reader's words (report.fmt.field_label)


def _plain(field: str) -> str:
    return field.replace("_", " ")


def feature_label(feature: str, field: str, label: Label) -> str:
    """A per-feature axis name: its field's words, and what of the field it is when the field
    has several features ('Demo requests: days since last')."""
    words = label(field)
    if feature == field:
        return words
    rest = feature[len(field) :] if feature.startswith(field) else feature
    return f"{words}: {_plain(rest).strip()}" if rest.strip("_") else words


def field_value(
    field: str, X: pd.DataFrame, feature_fields: dict[str, str] | None = None, label: Label = _plain
) -> tuple[pd.Series, str]:
    """The one feature value that stands for a field on a plot axis, and its axis label. A field
    of several columns (the market conditions) has no one value: NaN (no colour)."""
    if field == AGE_FIELD:
        return X["lead_age_days"], "lead age (days)"
    if field == EMAIL_FIELD:
        return X["personal_email"], "personal email domain (1 = yes)"
    prefix = "activity" if field == ACTIVITY_FIELD else field
    if f"{prefix}_count" in X.columns:
        return X[f"{prefix}_count"].fillna(0), f"{label(field)}: events so far"
    if field not in X.columns:
        own = [c for c, f in (feature_fields or {}).items() if f == field]
        return pd.Series(np.nan, index=X.index), label(field) + (f" ({len(own)} columns)")
    return X[field], label(field)


def field_explanation(
    contrib: np.ndarray, X: pd.DataFrame, feature_fields: dict[str, str], label: Label = _plain
):
    """A shap.Explanation with one column per business field named in words (categoricals get
    no colour)."""
    import shap

    fields, m = field_matrix(feature_fields)
    cols = []
    for f in fields:
        v = field_value(f, X, feature_fields)[0]
        numeric = pd.api.types.is_numeric_dtype(v)
        cols.append(v.to_numpy(float) if numeric else np.full(len(X), np.nan))
    data = np.column_stack(cols)
    return shap.Explanation(values=contrib @ m, data=data, feature_names=[label(f) for f in fields])


def field_beeswarm(
    contrib: np.ndarray,
    X: pd.DataFrame,
    feature_fields: dict[str, str],
    max_display: int = 20,
    label: Label = _plain,
) -> Figure:
    """SHAP summary by business field; colour = the field's count or value (grey: a category)."""
    import shap

    plt.figure(figsize=(8, 7))
    exp = field_explanation(contrib, X, feature_fields, label)
    with warnings.catch_warnings():  # categorical fields have no colour values: all NaN
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        shap.plots.beeswarm(exp, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle("SHAP by business field (log-odds; grey = categorical)", fontsize=10)
    fig.tight_layout()
    return fig


def field_dependence(
    field: str,
    values: np.ndarray,
    X: pd.DataFrame,
    max_categories: int = 15,
    feature_fields: dict[str, str] | None = None,
    label: Label = _plain,
) -> Figure:
    """How one field's value moves the log-odds: scatter for numbers, strips for categories."""
    words = label
    v, label = field_value(field, X, feature_fields, words)
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
    ax.set_title(f"Dependence: {words(field)}")
    fig.tight_layout()
    return fig


def field_figures(
    contrib: np.ndarray, X: pd.DataFrame, feature_fields: dict[str, str], label: Label = _plain
) -> dict[str, Figure]:
    """Artifacts of a training run: field beeswarm plus dependence plots of the top five fields,
    every field named by `label`."""
    fields, m = field_matrix(feature_fields)
    fc = contrib @ m
    figs = {
        "explain/shap_beeswarm_by_field.png": field_beeswarm(
            contrib, X, feature_fields, label=label
        )
    }
    top = np.argsort(-np.abs(fc).mean(axis=0), kind="stable")[:TOP_DEPENDENCE]
    for rank, j in enumerate(top, start=1):
        name = f"explain/dependence/{rank}_{_file_part(fields[j])}.png"
        figs[name] = field_dependence(fields[j], fc[:, j], X, 15, feature_fields, label)
    return figs


def _file_part(field: str) -> str:
    """A field's name as a safe artifact file name part."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in field)


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


def lead_waterfall(
    scorer, lead: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray, label: Label = _plain
) -> Figure:
    """Waterfall of one lead (a one-row canonical leads frame): one bar per field (the market
    conditions one bar), each labelled with that field's own words for this lead, found by field,
    never by rank, and the field's name; a field whose value is not said (an absence) shows its
    name alone."""
    from pipeline.explain.reasons import field_phrases

    X = scorer.features(lead, events, as_of)
    contrib, base = scorer.contributions(X)
    words = scorer.reason_words()
    ff = with_context(scorer.builder.feature_fields, words.get("context"))
    fields, m = field_matrix(ff)
    fc = (contrib @ m)[0]
    said = field_phrases(contrib, ff, X, scorer.builder.has_time_, **words)
    labels = [f"{said[f]} [{label(f)}]" if said.get(f) else label(f) for f in fields]
    p = scorer.conversion_probability(X)[0]
    title = f"lead {X.index[0]}: probability {p:.3f}, score {scorer.to_score(np.array([p]))[0]}"
    return waterfall(fc, base, labels, title)


def importance_bar(importance: pd.DataFrame, top: int = 20, label: Label = _plain) -> Figure:
    """Mean |SHAP| per business field, fields named by `label`."""
    d = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(d) + 1.2))
    ax.barh([label(f) for f in d["field"]], d["mean_abs_shap"], color="#3b6ea8")
    ax.set_xlabel("mean |SHAP| (log-odds)")
    ax.set_title("What drives the score (by business field)")
    fig.tight_layout()
    return fig


def shap_beeswarm(
    contrib: np.ndarray,
    X: pd.DataFrame,
    max_display: int = 20,
    feature_fields: dict[str, str] | None = None,
    label: Label = _plain,
) -> Figure:
    """SHAP's own beeswarm of per-feature values, each named by its field's words and what of the
    field it is; categoricals are coloured by their codes."""
    import shap

    data = X.copy()
    for c in data.columns:
        if not pd.api.types.is_numeric_dtype(data[c]):
            data[c] = data[c].astype("category").cat.codes.replace(-1, np.nan)
    ff = feature_fields or {}
    names = [feature_label(str(c), ff.get(str(c), str(c)), label) for c in X.columns]
    exp = shap.Explanation(values=contrib, data=data.to_numpy(float), feature_names=names)
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
