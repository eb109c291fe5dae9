"""Behavioural tests of a model trained on the small sample: direction, invariance, robustness."""

import numpy as np
import pandas as pd
import pytest

from pipeline.modeling.train import train

pytestmark = pytest.mark.slow  # every test here trains a model


def _open_lead(leads: pd.DataFrame) -> pd.DataFrame:
    """A copy of a lost lead as an unscored one-row frame, with a fixed id."""
    row = leads[leads["_label"] == 0].iloc[[0]].copy()
    row.index = pd.Index(["X1"], name="lead_id")
    return row


def test_demo_request_raises_the_probability(trained):
    result, leads, events = trained
    lead = _open_lead(leads)
    as_of = (lead["_created_at"] + pd.Timedelta(days=20)).to_numpy()
    base = pd.DataFrame(
        {"lead_id": ["X1"], "ts": lead["_created_at"] + pd.Timedelta(days=2), "type": ["web_visit"]}
    )
    demo = pd.concat(
        [
            base,
            pd.DataFrame(
                {
                    "lead_id": ["X1"],
                    "ts": lead["_created_at"] + pd.Timedelta(days=18),
                    "type": ["demo_request"],
                }
            ),
        ]
    )
    s = result.scorer
    p0 = s.score(lead, base, as_of)["probability"].iloc[0]
    p1 = s.score(lead, demo, as_of)
    assert p1["probability"].iloc[0] > p0
    assert p1.filter(like="reason_").iloc[0].str.contains("requested a demo").any()


def _expected_stage(p: np.ndarray, cutoffs) -> np.ndarray:
    return np.select([p >= cutoffs.sql, p >= cutoffs.mql], ["SQL", "MQL"], "lead")


def test_unseen_categories_score_as_one_other_level_and_missing_values_are_scored(trained):
    result, leads, events = trained
    s = result.scorer
    lead = _open_lead(leads)
    as_of = (lead["_created_at"] + pd.Timedelta(days=5)).to_numpy()
    ev = events.iloc[:0]
    odd = [lead.assign(industry=v) for v in ("Underwater Basket Weaving", "Zeppelin Repair")]
    a, b = (s.score(x, ev, as_of, 0).iloc[0] for x in odd)
    # two values never seen in training are the same unknown to the model: same probability
    assert a["probability"] == b["probability"] and a["score"] == b["score"]
    gaps = lead.assign(
        industry="Underwater Basket Weaving", employees=np.nan, annual_ad_budget=np.nan
    )
    out = s.score(gaps, ev, as_of, 3)
    X = s.features(gaps, ev, as_of)
    assert X[["employees", "annual_ad_budget"]].isna().all().all()  # kept missing, not imputed
    p = out["probability"].to_numpy()
    assert np.isfinite(p).all() and 0 < p[0] < 1
    assert p[0] == pytest.approx(s.calibrator.predict_proba(X)[0, 1], abs=1e-12)
    assert out["stage"].iloc[0] == _expected_stage(p, s.cutoffs)[0]
    assert out[["reason_1", "reason_2", "reason_3"]].notna().all().all()


def test_score_and_stage_follow_the_probability_and_the_cutoffs(trained):
    """score = share of reference leads at or below the probability; stage = the cutoffs applied
    to the probability; both monotone in it; and scoring twice gives the same frame."""
    result, leads, events = trained
    s = result.scorer
    sub = leads.iloc[:600]
    as_of = (sub["_created_at"] + pd.Timedelta(days=30)).to_numpy()
    out = s.score(sub, events, as_of, 0)
    p, score, stage = out["probability"].to_numpy(), out["score"].to_numpy(), out["stage"]

    cut = s.cutoffs
    assert 0 < cut.mql <= cut.sql < 1
    assert (stage.to_numpy() == _expected_stage(p, cut)).all()
    assert stage.nunique() >= 2  # the cutoffs really split these leads
    ref = s.score_reference
    share = 100 * (ref[None, :] <= p[:, None]).mean(axis=1)
    assert np.abs(score - share).max() <= 0.5
    order = np.argsort(p, kind="stable")
    assert (np.diff(score[order]) >= 0).all()
    rank = stage.map({"lead": 0, "MQL": 1, "SQL": 2}).to_numpy()
    assert (np.diff(rank[order]) >= 0).all()
    assert score.max() - score.min() >= 50  # the score spreads the leads, it is not flat
    pd.testing.assert_frame_equal(out, s.score(sub, events, as_of, 0))


def test_row_order_does_not_change_a_leads_score(trained):
    result, leads, events = trained
    sub = leads.iloc[:300]
    as_of = np.full(len(sub), np.datetime64("2026-11-01"))
    a = result.scorer.score(sub, events, as_of)
    perm = np.random.default_rng(0).permutation(len(sub))
    b = result.scorer.score(sub.iloc[perm], events.sample(frac=1, random_state=2), as_of[perm])
    pd.testing.assert_frame_equal(a, b.loc[a.index])


def test_model_beats_points_and_gets_close_to_the_oracle(trained):
    m = trained[0].metrics
    assert m["test_roc_auc"] > m["baseline_points_roc_auc"] + 0.05
    assert m["test_roc_auc"] >= 0.9 * m["oracle_roc_auc"]
    assert 0 <= m["mql_threshold"] <= m["sql_threshold"] <= 1


def test_same_data_config_and_seed_give_identical_metrics(trained, sample_config):
    result, leads, events = trained
    again = train(sample_config, leads, events, None)
    for k, v in again.metrics.items():
        assert v == pytest.approx(result.metrics[k], abs=0, rel=0) or (
            np.isnan(v) and np.isnan(result.metrics[k])
        ), k


def test_reason_values_add_up_to_the_raw_log_odds(trained):
    result, leads, events = trained
    s = result.scorer
    X = s.features(leads.iloc[:200], events, np.full(200, np.datetime64("2026-11-01")))
    contrib, base = s.contributions(X)
    raw = s.booster.predict_proba(X)[:, 1]
    assert np.allclose(contrib.sum(1) + base, np.log(raw / (1 - raw)), atol=1e-6)
    fields, fc = s.field_contributions(X)
    assert np.allclose(fc.sum(1), contrib.sum(1))


def test_lightgbm_contributions_equal_shap_tree_explainer(trained):
    import shap

    result, leads, events = trained
    s = result.scorer
    X = s.features(leads.iloc[:100], events, np.full(100, np.datetime64("2026-11-01")))
    enc = s.booster.named_steps["encode"].transform(X)
    sv = shap.TreeExplainer(s.booster.named_steps["lgbm"].booster_).shap_values(enc)
    sv = sv[1] if isinstance(sv, list) else sv
    assert np.allclose(sv, s.contributions(X)[0], atol=1e-6)
