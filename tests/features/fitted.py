"""A `FeatureBuilder` fitted on a one-lead history that holds exactly the given activity types, for
tests that need a known vocabulary without a sample export (learned state comes from `fit` only)."""

from __future__ import annotations

import pandas as pd

from pipeline.features.builder import FeatureBuilder


def fitted_builder(types: list[str], has_time: bool = True, **params) -> FeatureBuilder:
    created = pd.Timestamp("2026-01-01") if has_time else pd.NaT
    leads = pd.DataFrame({"_created_at": [created]}, index=pd.Index(["L"], name="lead_id"))
    events = pd.DataFrame(
        {"lead_id": ["L"] * len(types), "ts": pd.Timestamp("2026-01-02"), "type": types}
    )
    b = FeatureBuilder(**params).fit(leads, events)
    assert b.activity_types_ == sorted(types) and b.has_time_ == has_time
    return b
