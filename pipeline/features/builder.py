"""Point-in-time features.

A row of features describes a lead as it looked at its as-of time: only events strictly before that
time count. Training replays each historical lead at several ages (snapshots) so the model learns
from leads as young as the ones it will score; no snapshot reaches the moment the outcome was known.
Aggregation is vectorised with numpy (bincount / minimum.at) because it runs on tens of millions of
events at scoring time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D").astype("timedelta64[ns]").astype(np.int64)
WINDOWS = (7, 30)
PERSONAL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "btinternet.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
    ]
)
ACTIVITY_FIELD = "activity"  # business field of the all-types activity features
AGE_FIELD = "lead_age"
EMAIL_FIELD = "email_domain"


@dataclass
class FeatureBuilder:
    """Turns canonical leads + events into a feature frame at given as-of times.

    `fit` only fixes the vocabulary (which activity types become features), so that scoring builds
    exactly the columns the model was trained on whatever types a new file contains.
    """

    categorical: list[str]
    numeric: list[str]
    use_email: bool = False
    max_activity_types: int = 40
    activity_types: list[str] = field(default_factory=list)
    has_time: bool = True
    # Lead age is a feature only when there are events to replay: without them every snapshot of
    # a lead is the same row except its age, and won leads stop being snapshotted at their close
    # date while lost ones reach every age, so age alone would separate won from lost (a leak).
    use_age: bool = True

    def fit(self, leads: pd.DataFrame, events: pd.DataFrame) -> FeatureBuilder:
        counts = events.loc[events["lead_id"].isin(leads.index), "type"].value_counts()
        self.activity_types = sorted(counts.index[: self.max_activity_types].tolist())
        self.has_time = bool(leads["_created_at"].notna().any())
        self.use_age = self.has_time and bool(self.activity_types)
        return self

    @property
    def feature_fields(self) -> dict[str, str]:
        """Feature name -> business field it comes from (used to sum SHAP values into reasons)."""
        f: dict[str, str] = {}
        for t in self.activity_types:
            for name in _type_feature_names(t, self.has_time):
                f[name] = t
        for name in _type_feature_names("any", self.has_time):
            f[name.replace("any_", "activity_")] = ACTIVITY_FIELD
        if self.has_time and self.use_age:
            f["lead_age_days"] = AGE_FIELD
        if self.use_email:
            f["personal_email"] = EMAIL_FIELD
        for c in self.categorical + self.numeric:
            f[c] = c
        if not self.activity_types:
            f = {k: v for k, v in f.items() if v != ACTIVITY_FIELD}
        return f

    @property
    def feature_names(self) -> list[str]:
        return list(self.feature_fields)

    def transform(
        self, leads: pd.DataFrame, events: pd.DataFrame, as_of: np.ndarray
    ) -> pd.DataFrame:
        """Features of `leads` (unique ids) at `as_of` (datetime64[ns] per lead, or NaT = all)."""
        n = len(leads)
        as_of = np.asarray(as_of, dtype="datetime64[ns]").astype(np.int64)
        nat = np.iinfo(np.int64).min
        as_of = np.where(as_of == nat, np.iinfo(np.int64).max, as_of)
        cols: dict[str, np.ndarray] = {}
        if self.activity_types:
            cols.update(self._activity(leads.index, events, as_of, n))
        if self.has_time and self.use_age:
            created = leads["_created_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
            age = (as_of - created) / DAY
            cols["lead_age_days"] = np.where(
                (created == nat) | (as_of == np.iinfo(np.int64).max), np.nan, age
            )
        if self.use_email:
            cols["personal_email"] = personal_email(leads["_email"])
        X = pd.DataFrame(cols, index=leads.index)
        for c in self.categorical:
            X[c] = leads[c].astype(object).to_numpy()
        for c in self.numeric:
            X[c] = leads[c].astype(float).to_numpy()
        return X[self.feature_names]

    def _activity(self, ids: pd.Index, events: pd.DataFrame, as_of: np.ndarray, n: int) -> dict:
        types = self.activity_types
        k = len(types) + 1  # the last slot collects every type, known or not
        row = pd.Index(ids).get_indexer(events["lead_id"])
        ts = events["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        code = pd.Categorical(events["type"], categories=types).codes.astype(np.int64)
        keep = row >= 0
        row, ts, code = row[keep], ts[keep], code[keep]
        cutoff = as_of[row]
        seen = ts < cutoff  # strictly before the as-of time: the point-in-time rule
        row, code = row[seen], code[seen]
        age = (cutoff[seen] - ts[seen]) / DAY
        out: dict[str, np.ndarray] = {}
        slots = {"count": None}
        if self.has_time:
            slots.update({f"count_{w}d": age < w for w in WINDOWS})
        per_type = {}
        for name, mask in slots.items():
            r, c = (row, code) if mask is None else (row[mask], code[mask])
            known = c >= 0
            m = np.bincount(r[known] * k + c[known], minlength=n * k).reshape(n, k).astype(float)
            m[:, -1] = np.bincount(r, minlength=n)
            per_type[name] = m
        if self.has_time:
            last = np.full(n * k, np.inf)
            known = code >= 0
            np.minimum.at(last, row[known] * k + code[known], age[known])
            last = last.reshape(n, k)
            any_last = np.full(n, np.inf)
            np.minimum.at(any_last, row, age)
            last[:, -1] = any_last
            last[np.isinf(last)] = np.nan
            per_type["days_since_last"] = last
        for j, t in enumerate([*types, "activity"]):
            for name, m in per_type.items():
                out[f"{t}_{name}"] = m[:, j]
        return out


def _type_feature_names(t: str, has_time: bool) -> list[str]:
    names = [f"{t}_count"]
    if has_time:
        names += [f"{t}_count_{w}d" for w in WINDOWS] + [f"{t}_days_since_last"]
    return names


def personal_email(emails: pd.Series) -> np.ndarray:
    """1 for a free-mail domain, 0 for a business domain, NaN when there is no address."""
    dom = emails.astype("string").str.rsplit("@", n=1).str[-1].str.strip().str.lower()
    flag = dom.isin(PERSONAL_DOMAINS).astype(float).to_numpy()
    has = emails.astype("string").str.contains("@", regex=False).fillna(False).to_numpy(bool)
    return np.where(has, flag, np.nan)
