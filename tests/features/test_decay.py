"""Engagement that decays: `<type>_decay_<h>d` weighs each event before the as-of time by
0.5 ** (age in days / h); events at or after the as-of time change nothing."""

import numpy as np
import pandas as pd
import pytest

from pipeline.features.builder import FeatureBuilder
from tests.features.test_builder import events_frame, leads_frame


def decaying() -> FeatureBuilder:
    b = FeatureBuilder(["industry"], ["employees"], decay_half_life_days=(7, 30))
    return b.fit(leads_frame().loc[["A"]], events_frame())


def test_decayed_counts_by_hand():
    as_of = pd.to_datetime(["2026-02-01", "2026-02-01"]).to_numpy()
    X = decaying().transform(leads_frame(), events_frame(), as_of)
    a = X.loc["A"]
    # web visits 30 and 12 days before, the demo request 4 days before
    assert a["web_visit_decay_7d"] == pytest.approx(0.5 ** (30 / 7) + 0.5 ** (12 / 7))
    assert a["web_visit_decay_30d"] == pytest.approx(0.5 + 0.5 ** (12 / 30))
    assert a["demo_request_decay_7d"] == pytest.approx(0.5 ** (4 / 7))
    # every event of lead B (an unknown type too) counts in the all-activity feature
    assert X.loc["B", "activity_decay_7d"] == pytest.approx(2 * 0.5 ** (2 / 7))
    assert X.loc["B", "demo_request_decay_30d"] == 0


def test_decay_respects_the_as_of_time():
    leads, ev = leads_frame(), events_frame()
    as_of = pd.to_datetime(["2026-01-25", "2026-01-29"]).to_numpy()
    before = decaying().transform(leads, ev, as_of)
    later = pd.DataFrame(
        {
            "lead_id": ["A", "B", "A", "B"],
            "ts": np.r_[as_of, as_of + np.timedelta64(3, "D")],  # at and after each as-of
            "type": ["demo_request", "web_visit", "web_visit", "demo_request"],
        }
    )
    after = decaying().transform(leads, pd.concat([ev, later], ignore_index=True), as_of)
    pd.testing.assert_frame_equal(before, after)
    assert {"web_visit_decay_7d", "activity_decay_30d"} <= set(before.columns)


def test_off_by_default_and_without_dates():
    plain = FeatureBuilder(["industry"], ["employees"]).fit(leads_frame(), events_frame())
    assert not any("_decay_" in n for n in plain.feature_names)
    undated = leads_frame(_created_at=pd.NaT)
    b = FeatureBuilder(["industry"], ["employees"], decay_half_life_days=(7,))
    assert not any("_decay_" in n for n in b.fit(undated, events_frame()).feature_names)


@pytest.mark.slow
def test_decay_loses_no_auc_on_the_sample(sample_config, trained):
    """`features.decay_half_life_days: [7, 30]` on the tests' sample: no test AUC lost beyond
    0.003 against the same training without it (docs/configuration.md has the larger runs)."""
    from pipeline.jobs import load_oracle
    from pipeline.training.train import train

    base, leads, events = trained
    cfg = sample_config.model_copy(deep=True)
    cfg.features.decay_half_life_days = [7, 30]
    decayed = train(cfg, leads, events, load_oracle(cfg))
    assert any("_decay_7d" in n for n in decayed.scorer.builder.feature_names)
    assert decayed.metrics["test_roc_auc"] >= base.metrics["test_roc_auc"] - 0.003
