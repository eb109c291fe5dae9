"""Behavioural tests of a model trained on the small sample: direction, invariance, robustness."""

import numpy as np
import pandas as pd
import pytest

from pipeline.training.train import train

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


def test_unseen_categories_and_missing_values_are_scored(trained):
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
    assert out["stage"].iloc[0] in {"lead", "MQL", "SQL"}
    assert out[["reason_1", "reason_2", "reason_3"]].notna().all().all()


def _scored(trained, n: int = 600) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and scores of `n` sample leads 30 days after creation."""
    result, leads, events = trained
    sub = leads.iloc[:n]
    X = result.scorer.features(sub, events, (sub["_created_at"] + pd.Timedelta(days=30)).to_numpy())
    return X, result.scorer.score_features(X, 0)


def test_probabilities_are_two_columns_that_sum_to_one(trained):
    s = trained[0].scorer
    X, out = _scored(trained)
    proba = s.predict_proba(X)
    assert proba.shape == (len(X), 2) and list(s.classes_) == [0, 1]
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    p = s.conversion_probability(X)
    assert p.shape == (len(X),)
    np.testing.assert_array_equal(p, proba[:, 1])
    np.testing.assert_array_equal(out["probability"].to_numpy(), p)
    # the won column: leads that went on to win get higher probabilities than those that lost
    y = trained[1]["_label"].reindex(X.index).to_numpy()
    assert p[y == 1].mean() > 2 * p[y == 0].mean()


def test_stage_follows_the_cutoffs(trained):
    s = trained[0].scorer
    _, out = _scored(trained)
    p, stage = out["probability"].to_numpy(), out["stage"].to_numpy()
    cut = s.cutoffs
    assert 0 < cut.mql <= cut.sql < 1
    assert (stage[p >= cut.sql] == "SQL").all()
    assert (stage[(p >= cut.mql) & (p < cut.sql)] == "MQL").all()
    assert (stage[p < cut.mql] == "lead").all()
    assert {"lead", "SQL"} <= set(stage)  # the cutoffs really split these leads
    # at the cutoffs themselves: a probability equal to a cutoff reaches that stage
    at = cut.stage(np.array([cut.sql, cut.mql, np.nextafter(cut.mql, 0)]))
    assert at.tolist() == ["SQL", "MQL" if cut.mql < cut.sql else "SQL", "lead"]


def test_score_is_monotone_in_probability_and_a_percentile_of_recent_leads(trained, training_rows):
    s = trained[0].scorer
    _, out = _scored(trained)
    p, score = out["probability"].to_numpy(), out["score"].to_numpy()
    assert np.issubdtype(score.dtype, np.integer) and score.min() >= 0 and score.max() <= 100
    order = np.argsort(p, kind="stable")
    assert (np.diff(score[order]) >= 0).all()
    assert (score[p > p.min()] >= score[p == p.min()].max()).all()
    rank = out["stage"].map({"lead": 0, "MQL": 1, "SQL": 2}).to_numpy()
    assert (np.diff(rank[order]) >= 0).all()
    assert score.max() - score.min() >= 50  # the score spreads the leads, it is not flat
    # the reference leads (the validation leads' last snapshots) are spread over 0-100: the score
    # ranks a lead among recent leads, it is not the probability times 100
    rows = training_rows
    ref = s.score_features(rows.X[rows.part("val") & rows.one_per_lead], 0)["score"]
    assert 40 <= ref.median() <= 60 and ref.quantile(0.9) >= 85
    pd.testing.assert_frame_equal(out, _scored(trained)[1])  # scoring twice: the same frame


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
    raw = s.estimator.predict_proba(X)[:, 1]
    assert np.allclose(contrib.sum(1) + base, np.log(raw / (1 - raw)), atol=1e-6)
    fields, fc = s.field_contributions(X)
    assert np.allclose(fc.sum(1), contrib.sum(1))


def test_lightgbm_contributions_equal_shap_tree_explainer(trained, sample_config, training_rows):
    import shap

    from pipeline.modeling.candidates import fit_lightgbm_candidate
    from pipeline.modeling.scorer import model_contributions

    result, leads, events = trained
    s = result.scorer
    X = s.features(leads.iloc[:100], events, np.full(100, np.datetime64("2026-11-01")))
    # the booster that served, or the one the logistic candidate beat on validation
    booster = (
        s.estimator
        if s.candidate == "lightgbm"
        else fit_lightgbm_candidate(sample_config, training_rows)
    )
    enc = booster.named_steps["encode"].transform(X)
    sv = shap.TreeExplainer(booster.named_steps["lgbm"].booster_).shap_values(enc)
    sv = sv[1] if isinstance(sv, list) else sv
    assert np.allclose(sv, model_contributions("lightgbm", booster, X)[0], atol=1e-6)


def test_word_caches_stay_out_of_the_pickle_and_change_no_score(trained, training_rows):
    """The scorer caches its reason words and category phrases per process; a pickled (registered)
    model carries neither, and scores with them equal scores without them."""
    import pickle

    result = trained[0]
    X = training_rows.X.iloc[:300]
    first = result.scorer.score_features(X, 3)
    assert "_phrases" in result.scorer.__dict__ and "_words" in result.scorer.__dict__
    clone = pickle.loads(pickle.dumps(result.scorer))
    assert "_phrases" not in clone.__dict__ and "_words" not in clone.__dict__
    pd.testing.assert_frame_equal(clone.score_features(X, 3), first)
    pd.testing.assert_frame_equal(result.scorer.score_features(X, 3), first)
