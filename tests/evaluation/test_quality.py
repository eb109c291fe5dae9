"""Model quality: funnel, size-aware params, out-of-time split by date, backtests, calibration
under class re-weighting, the gate's decisions, tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config, CostsConfig, GateConfig, LightGBMParams, load_config
from pipeline.evaluation.funnel import funnel_table, slice_metrics
from pipeline.evaluation.gate import Champion, evaluate_gate
from pipeline.evaluation.quality import funnel_and_slices
from pipeline.modeling.cutoffs import Cutoffs
from pipeline.modeling.params import size_aware
from pipeline.modeling.split import TIME, split_leads
from tests.conftest import write_config


def test_funnel_counts_add_up_and_costs_follow_channels():
    p = np.array([0.9, 0.8, 0.5, 0.3, 0.2, 0.1, 0.05, 0.01])
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    cut = Cutoffs(mql=0.3, sql=0.8, sql_rule="x", mql_rule="y")
    ch = pd.Series(["a", "a", "b", "b", "b", "c", "c", "c"])
    t = funnel_table(y, p, cut, ch, CostsConfig(per_lead={"a": 10, "b": 4}, default=1)).set_index(
        "stage"
    )
    assert t.loc[["SQL", "MQL", "lead"], "leads"].tolist() == [2, 2, 4]
    assert t.loc["all", "leads"] == 8 and t.loc["all", "won"] == 4
    assert t.loc[["SQL", "MQL", "lead"], "wins_captured"].sum() == pytest.approx(1.0)
    assert t.loc["MQL", "cum_wins_captured"] == pytest.approx(3 / 4)
    assert t.loc["SQL", "realised_conversion"] == 1.0
    assert t.loc["SQL", "mql_to_sql_rate"] == pytest.approx(2 / 4)
    spend = 10 + 10 + 4 + 4 + 4 + 1 + 1 + 1
    assert t.loc["all", "spend"] == spend
    assert t["cost_per_mql"].iloc[0] == pytest.approx(spend / 4)
    assert t["cost_per_sql"].iloc[0] == pytest.approx(spend / 2)
    assert t["cost_per_customer"].iloc[0] == pytest.approx(spend / 4)
    assert "cost_per_mql" not in funnel_table(y, p, cut).columns


def test_training_funnel_follows_lead_ids_and_reads_the_cutoff_metrics_off_it():
    """The path training takes (`funnel_and_slices`): test predictions in their own order, the
    channel and slice columns looked up by lead id in the leads, and the cutoffs' precision, recall
    and shares read off the same funnel table."""
    ids = [f"L{i}" for i in range(8)]
    leads = pd.DataFrame(
        {"source_channel": ["a", "a", "b", "b", "b", "c", "c", "c"], "region": ["N", "S"] * 4},
        index=pd.Index(ids, name="lead_id"),
    )
    p = np.array([0.9, 0.8, 0.5, 0.3, 0.2, 0.1, 0.05, 0.01])
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    order = [7, 2, 5, 0, 3, 6, 1, 4]  # the predictions' rows are not the leads' order
    preds = pd.DataFrame(
        {"lead_id": np.array(ids)[order], "label": y[order], "probability": p[order]}
    )
    cfg = Config.model_validate(
        {
            "costs": {"per_lead": {"a": 10, "b": 4}, "default": 1},
            "training": {"slice_columns": ["region"]},
        }
    )
    cut = Cutoffs(mql=0.3, sql=0.8, sql_rule="x", mql_rule="y")
    tables, metrics = funnel_and_slices(cfg, leads, preds, cut)
    funnel = tables["funnel"].set_index("stage")
    assert funnel.loc["SQL", "spend"] == 20 and funnel.loc["MQL", "spend"] == 8
    assert metrics["test_cost_per_sql"] == pytest.approx(35 / 2)
    assert metrics["test_sql_precision"] == 1.0 and metrics["test_sql_share"] == 2 / 8
    assert metrics["test_mql_recall"] == 3 / 4 and metrics["test_mql_share"] == 4 / 8
    assert metrics["test_sql_precision"] == metrics["test_sql_realised_conversion"]
    assert metrics["test_mql_recall"] == metrics["test_mql_or_sql_wins_captured"]
    s = tables["slices"].set_index("value")
    assert s.loc["N", "won"] == 2 and s.loc["S", "won"] == 2
    empty_sql = Cutoffs(mql=0.3, sql=0.95, sql_rule="x", mql_rule="y")
    _, none = funnel_and_slices(cfg, leads, preds, empty_sql)
    assert np.isnan(none["test_sql_precision"]) and none["test_sql_share"] == 0.0


def test_slice_metrics_withhold_auc_for_tiny_slices():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    g = pd.Series(["big"] * 190 + ["tiny"] * 10)
    s = slice_metrics(y, rng.random(200), {"channel": g}).set_index("value")
    assert s.loc["big", "leads"] == 190 and not np.isnan(s.loc["big", "roc_auc"])
    assert np.isnan(s.loc["tiny", "roc_auc"])


def test_size_aware_defaults_adapt_only_unset_fields_and_never_deepen():
    small, large = size_aware(LightGBMParams(), 5_000), size_aware(LightGBMParams(), 5_000_000)
    assert small.min_child_samples < large.min_child_samples
    assert large.learning_rate > small.learning_rate
    assert large.n_estimators < small.n_estimators
    assert small.max_depth == large.max_depth == LightGBMParams().max_depth
    user = LightGBMParams(learning_rate=0.02, min_child_samples=7)
    kept = size_aware(user, 5_000_000)
    assert (kept.learning_rate, kept.min_child_samples) == (0.02, 7)


def test_test_start_date_sets_the_out_of_time_slice():
    created = pd.date_range("2025-01-01", periods=100, freq="D")
    leads = pd.DataFrame({"_created_at": created, "_label": [0.0, 1.0] * 50})
    s = split_leads(leads, 0.2, 0.15, 0, test_start="2025-03-12")
    split, by_time = s.assignment, s.kind == TIME
    assert by_time
    test_created = leads.loc[split.index[split == "test"], "_created_at"]
    assert len(test_created) == int((created >= "2025-03-12").sum())
    assert test_created.min() >= pd.Timestamp("2025-03-12")
    assert (leads.loc[split.index[split != "test"], "_created_at"] < "2025-03-12").all()


@pytest.mark.slow
def test_backtests_are_monthly_and_beat_the_points_rule(trained):
    result, _, _ = trained
    bt = result.extra_tables["backtest"]
    assert bt.attrs["mode"] == "monthly" and len(bt) >= 3
    assert bt["period"].is_monotonic_increasing
    assert (bt["roc_auc"] > bt["points_roc_auc"]).all()
    assert result.metrics["backtest_roc_auc_min"] == bt["roc_auc"].min()
    for k in ("test_auc_lift_over_points", "test_auc_lift_over_logreg", "test_mql_to_sql_rate"):
        assert k in result.metrics


def _train(cfg_path):
    from pipeline.jobs import load_oracle, load_training_data
    from pipeline.training.train import train

    cfg = load_config(cfg_path)
    leads, events = load_training_data(cfg)
    return train(cfg, leads, events, load_oracle(cfg))


@pytest.mark.slow
def test_without_dates_backtests_fall_back_to_stratified_folds(sample_dir, tmp_path):
    path = write_config(
        tmp_path / "c.yaml",
        sample_dir,
        schema={"created_at": None},
        training={"backtest_months": 3, "snapshot_days": [7]},
    )
    r = _train(path)
    bt = r.extra_tables["backtest"]
    assert r.info["split"] == "stratified_random"
    assert bt.attrs["mode"] == "stratified_folds" and len(bt) == 3
    assert bt["period"].str.startswith("fold").all()


@pytest.mark.slow
def test_class_weighting_cannot_distort_final_probabilities(sample_dir, tmp_path):
    """scale_pos_weight inflates the booster's raw probabilities; calibration must undo it."""
    path = write_config(
        tmp_path / "c.yaml",
        sample_dir,
        # the booster is the model weighted here: the logistic candidate must not win the choice
        training={
            "backtest_months": 0,
            "candidates": ["lightgbm"],
            "lightgbm": {"scale_pos_weight": 8.0},
        },
    )
    r = _train(path)
    p = r.test_predictions
    raw_mean = r.scorer.estimator.predict_proba(
        r.scorer.features(
            *_leads_events(path, p["lead_id"]), p["as_of"].to_numpy(dtype="datetime64[ns]")
        )
    )[:, 1].mean()
    observed = p["label"].mean()
    assert raw_mean > 1.2 * observed  # the weighting did distort the raw scores
    assert abs(p["probability"].mean() - observed) < 0.03
    assert r.metrics["test_ece"] < 0.05
    assert r.metrics["test_ece_uncalibrated"] > r.metrics["test_ece"]


def _leads_events(path, ids):
    from pipeline.jobs import load_training_data

    leads, events = load_training_data(load_config(path))
    return leads.loc[ids.to_numpy()], events


def _preds(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    good = np.clip(0.2 + 0.5 * (y - 0.2) + rng.normal(0, 0.1, n), 0.001, 0.999)
    return pd.DataFrame({"label": y, "probability": good}), good, y


def test_gate_names_every_failed_criterion():
    preds, good, y = _preds(1)
    metrics = {"test_ece": 0.01, "test_roc_auc": 0.9, "baseline_logreg_roc_auc": 0.8}
    champ = Champion("1", good, y.astype(float), age_days=10.0)  # as the registry hands it over
    ok = evaluate_gate(GateConfig(), metrics, preds, champion=champ)
    assert ok.passed and ok.checks["gate_auc_drop"] == pytest.approx(0.0)
    worse = preds.assign(
        probability=np.clip(good + np.random.default_rng(2).normal(0, 0.3, len(y)), 0, 1)
    )
    bad = evaluate_gate(GateConfig(), {**metrics, "test_ece": 0.2}, worse, champion=champ)
    assert not bad.passed
    assert any("below champion v1" in f for f in bad.failures)
    assert any("ECE" in f for f in bad.failures)
    below = evaluate_gate(GateConfig(), {**metrics, "baseline_logreg_roc_auc": 0.95}, preds)
    assert not below.passed and "logistic-regression baseline (0.9500)" in below.reason
    few = evaluate_gate(GateConfig(min_won=10_000), metrics, preds)
    assert not few.passed and "too little evidence" in few.reason
    assert few.metrics()["gate_passed"] == 0.0


def _slices(cfg, leads) -> dict[str, pd.Index]:
    tc = cfg.training
    s = split_leads(leads, tc.val_share, tc.test_share, tc.seed, tc.test_start)
    split, _ = s.assignment, s.kind == TIME
    return {name: split.index[split == name] for name in ("fit", "val", "test")}


def _trials(r) -> pd.DataFrame:
    return r.trials.filter(regex=r"^(number|value|params_|user_attrs_)")


@pytest.mark.slow
def test_tune_is_seeded_uses_validation_only_and_writes_a_config(sample_dir, tmp_path):
    from pipeline.jobs import load_training_data, write_tuned_config
    from pipeline.training.tune import tune

    path = write_config(tmp_path / "c.yaml", sample_dir, training={"snapshot_days": [7, 30, 60]})
    cfg = load_config(path)
    leads, events = load_training_data(cfg)
    parts = _slices(cfg, leads)
    a = tune(cfg, leads, events, n_trials=2)
    assert 0.5 < a.default_value <= a.best_value <= 1 and a.shap_cost_ratio > 0
    assert a.trials["value"].max() == a.best_value  # the best trial is the one reported
    assert a.trials["value"].iloc[0] == a.default_value  # the first trial is the default shape

    # the test leads changed beyond recognition: outcomes flipped, firmographics overwritten,
    # their activity replaced by demo requests. Tuning must not notice (same seed, same result).
    test = parts["test"]
    t_leads = leads.copy()
    t_leads.loc[test, "_label"] = 1 - t_leads.loc[test, "_label"]
    t_leads.loc[test, "industry"] = "Changed"
    t_leads.loc[test, "annual_ad_budget"] = 1.0
    demos = pd.DataFrame(
        {
            "lead_id": test,
            "ts": leads.loc[test, "_created_at"].to_numpy() + np.timedelta64(1, "D"),
            "type": "demo_request",
        }
    )
    t_events = pd.concat([events[~events["lead_id"].isin(test)], demos], ignore_index=True)
    assert all(_slices(cfg, t_leads)[k].equals(parts[k]) for k in parts)  # same split
    b = tune(cfg, t_leads, t_events[events.columns], n_trials=2)
    assert (b.best_params, b.best_value, b.default_value) == (
        a.best_params,
        a.best_value,
        a.default_value,
    )
    pd.testing.assert_frame_equal(_trials(a), _trials(b))

    # the validation leads are what it learns from: shuffle their outcomes and the result moves
    val = parts["val"]
    v_leads = leads.copy()
    shuffled = np.random.default_rng(0).permutation(v_leads.loc[val, "_label"].to_numpy())
    v_leads.loc[val, "_label"] = shuffled
    c = tune(cfg, v_leads, events, n_trials=1)
    assert c.default_value != a.default_value

    out = write_tuned_config(path, a.best_params, tmp_path / "tuned.yaml")
    tuned = load_config(out)
    assert tuned.training.lightgbm.max_depth == a.best_params["max_depth"]
    assert tuned.training.lightgbm.num_leaves == a.best_params["num_leaves"]
    assert tuned.data.leads == cfg.data.leads


def test_tune_leaf_cap_keeps_unlimited_depth_valid():
    """max_depth <= 0 means "no limit" to LightGBM: the leaf cap must not turn it into 0.5 leaves."""
    from pipeline.training.tune import _leaf_cap

    assert _leaf_cap(31, -1) == 31
    assert _leaf_cap(31, 0) == 31
    assert _leaf_cap(31, 3) == 8
    assert _leaf_cap(4, 6) == 4
