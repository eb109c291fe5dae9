"""SHAP explanations in the words of the business.

SHAP values come from the booster in log-odds space (LightGBM's exact TreeSHAP, `pred_contrib`,
which is what `shap.TreeExplainer` computes for these models, at the same speed). A lead's reasons
sum the values of every feature that comes from one business field (all the counts and recencies of
one activity type, one raw column, one derived signal), so "requested a demo" is one reason rather
than four half-reasons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features import ACTIVITY_FIELD, AGE_FIELD, EMAIL_FIELD

# activity type -> (what the lead did, what is missing when it did not)
ACTIVITY_WORDS = {
    "email_open": ("opened emails", "no email opens"),
    "email_click": ("clicked an email", "no email clicks"),
    "web_visit": ("visited the website", "no website visits"),
    "pricing_page_visit": ("visited the pricing page", "no pricing-page visit"),
    "whitepaper_download": ("downloaded content", "no content downloads"),
    "webinar_attended": ("attended a webinar", "no webinar attended"),
    "newsletter_signup": ("signed up for the newsletter", "no newsletter signup"),
    "free_trial": ("started a free trial", "no free trial"),
    "contact_form": ("filled in the contact form", "no contact form"),
    "demo_request": ("requested a demo", "no demo request"),
    "social_engagement": ("engaged on social media", "no social engagement"),
    "unsubscribe": ("unsubscribed from emails", "never unsubscribed"),
}


def field_matrix(feature_fields: dict[str, str]) -> tuple[list[str], np.ndarray]:
    """Fields in first-seen order and the 0/1 matrix (features x fields) that sums into them."""
    fields = list(dict.fromkeys(feature_fields.values()))
    idx = {f: i for i, f in enumerate(fields)}
    m = np.zeros((len(feature_fields), len(fields)))
    for j, f in enumerate(feature_fields.values()):
        m[j, idx[f]] = 1.0
    return fields, m


def _days(d: pd.Series) -> pd.Series:
    d = d.round().astype("Int64")
    return (
        d.astype("string")
        .where(d != 1, "1")
        .str.cat(pd.Series(np.where(d == 1, " day ago", " days ago"), index=d.index))
        .where(d > 0, "today")
    )


def _num(v: pd.Series) -> pd.Series:
    return v.map(lambda x: f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}", na_action="ignore")


def phrase_field(field: str, X: pd.DataFrame, has_time: bool) -> pd.Series:
    """Plain words (without sign) describing a field's value for each row of X."""
    label = field.replace("_", " ")
    if field == AGE_FIELD:
        return (
            "lead is " + X["lead_age_days"].round().astype("Int64").astype("string") + " days old"
        )
    if field == EMAIL_FIELD:
        v = X["personal_email"]
        return pd.Series(
            np.where(
                v == 1,
                "personal email domain",
                np.where(v == 0, "business email domain", "no email address"),
            ),
            index=X.index,
        )
    prefix = "activity" if field == ACTIVITY_FIELD else field
    if f"{prefix}_count" in X.columns:
        n = X[f"{prefix}_count"].fillna(0).astype(int)
        if field == ACTIVITY_FIELD:
            done, none = "activities", "no activity yet"
            if has_time:
                n30 = X["activity_count_30d"].fillna(0).astype(int)
                last = X["activity_days_since_last"]
                active = n30.astype("string") + " activities in the last 30 days"
                stale = "no activity for " + last.round().astype("Int64").astype("string") + " days"
                txt = pd.Series(np.where(n30 > 0, active, stale), index=X.index)
                return txt.where(n > 0, none)
            return (n.astype("string") + " " + done).where(n > 0, none)
        done, none = ACTIVITY_WORDS.get(field, (f"{label}", f"no {label}"))
        times = pd.Series(np.where(n > 1, " " + n.astype(str) + " times", ""), index=X.index)
        txt = done + times
        if has_time:
            txt = (
                txt
                + np.where(n > 1, ", last ", " ")
                + _days(X[f"{prefix}_days_since_last"].fillna(0))
            )
        return pd.Series(np.where(n > 0, txt, none), index=X.index)
    v = X[field]
    if pd.api.types.is_numeric_dtype(v):
        return (label + ": " + _num(v).fillna("unknown")).astype(object)
    # an input value embedded in a reason must not smuggle a formula into the output csv
    txt = v.astype("string").str.lstrip("=+-@\t\r ")
    return (label + ": " + txt.fillna("unknown")).astype(object)


def top_reasons(
    field_contrib: np.ndarray, fields: list[str], X: pd.DataFrame, k: int, has_time: bool
) -> pd.DataFrame:
    """The k fields with the largest |contribution| per row, as signed phrases."""
    n, f = field_contrib.shape
    k_eff = min(k, f)
    order = np.argsort(-np.abs(field_contrib), axis=1, kind="stable")[:, :k_eff]
    out = pd.DataFrame(index=X.index, columns=[f"reason_{i + 1}" for i in range(k)], dtype=object)
    for j, field in enumerate(fields):
        hit = order == j
        rows = hit.any(axis=1)
        if not rows.any():
            continue
        text = phrase_field(field, X.loc[rows], has_time).to_numpy()
        vals = field_contrib[rows, j]
        signed = np.where(vals >= 0, "+ ", "- ").astype(object) + text
        pos = hit[rows].argmax(axis=1)
        for slot in range(k_eff):
            m = pos == slot
            out.iloc[np.flatnonzero(rows)[m], slot] = signed[m]
    return out


def global_importance(field_contrib: np.ndarray, fields: list[str]) -> pd.DataFrame:
    """Mean |SHAP| per business field, largest first."""
    imp = np.abs(field_contrib).mean(axis=0)
    df = pd.DataFrame({"field": fields, "mean_abs_shap": imp})
    return df.sort_values("mean_abs_shap", ascending=False, ignore_index=True)
