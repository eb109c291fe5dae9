"""Candidates chosen on validation: on a two-table export whose truth is linear in the columns (few
leads, many weak additive effects) the logistic regression beats the booster on validation, is
registered, passes the default gate and scores through the CLI with reasons and sub-scores; its
reasons are exact linear contributions; `training.candidates` restricts the list."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config import Config
from pipeline.jobs import load_training_data
from pipeline.modeling.logistic import fit_logistic, known_categories, linear_contributions
from pipeline.modeling.prepare import prepare_training_rows
from pipeline.training import backtest
from pipeline.training.train import train
from tests.conftest import ROOT, read_scores, run

pytestmark = pytest.mark.slow  # every test here trains a model

NUMERIC = [f"x{i}" for i in range(10)]
WEIGHTS = np.array([0.9, -0.8, 0.7, 0.6, -0.6, 0.5, 0.5, -0.4, 0.4, 0.3])
REGION = {"north": 0.6, "south": -0.5, "east": 0.2, "west": -0.2, "centre": 0.0}


def linear_export(folder: Path, n: int = 6000, n_open: int = 200, seed: int = 3) -> Path:
    """A two-table export (leads + outcomes with close dates) whose true log-odds are linear in the
    log of each amount plus a region effect; the last `n_open` leads are open (no outcome)."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 3, (n, len(NUMERIC)))
    region = rng.choice(list(REGION), n)
    logit = -2.0 + (z - 1.5) @ WEIGHTS + np.vectorize(REGION.get)(region)
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 700, n)), "D")
    leads = pd.DataFrame(np.round(np.expm1(z), 2), columns=NUMERIC)
    leads.loc[rng.random(n) < 0.05, "x9"] = np.nan  # some unknowns: missing indicators
    leads.insert(0, "lead_id", np.arange(1, n + 1))
    leads.insert(1, "created_at", created.strftime("%Y-%m-%d %H:%M"))
    leads["region"] = region
    closed = created + pd.to_timedelta(rng.uniform(5, 60, n), "D")
    outcomes = pd.DataFrame(
        {"lead_id": leads["lead_id"], "stage": np.where(won, "won", "lost"), "closed": closed}
    ).iloc[: n - n_open]
    outcomes["closed"] = outcomes["closed"].dt.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    leads.to_csv(folder / "leads.csv", index=False)
    leads.iloc[n - n_open :].to_csv(folder / "open.csv", index=False)
    outcomes.to_csv(folder / "outcomes.csv", index=False)
    raw = yaml.safe_load((ROOT / "config/default.yaml").read_text())
    raw["data"] = {
        "leads": str(folder / "leads.csv"),
        "outcomes": str(folder / "outcomes.csv"),
        "activities": None,
    }
    raw["schema"] = {
        "lead_id": "lead_id",
        "created_at": "created_at",
        "outcome": {"column": "stage", "won": ["won"], "lost": ["lost"], "closed_at": "closed"},
        "categorical": ["region"],
        "numeric": NUMERIC,
    }
    raw["baseline_points"] = {}
    raw["training"]["backtest_months"] = 0
    raw["scoring"] = {"output": str(folder / "scores.csv")}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_logistic_wins_on_validation_serves_and_scores(tmp_path: Path, mlflow_uri: str) -> None:
    cfg = linear_export(tmp_path / "export")
    out = run("train", "--config", cfg)
    assert out.exit_code == 0, out.output
    assert "gate passed" in out.output  # the real default gate, first model of an empty registry
    mlflow.set_tracking_uri(mlflow_uri)
    r = mlflow.search_runs(experiment_names=["lead-scoring"]).iloc[0]
    assert r["params.candidate"] == "logistic"
    val_lr = r["metrics.candidate_logistic_val_roc_auc"]
    val_gbm = r["metrics.candidate_lightgbm_val_roc_auc"]
    assert val_lr > val_gbm
    assert r["metrics.candidate_val_auc_margin"] == pytest.approx(val_lr - val_gbm)
    # the served model is the logistic one: its test AUC is the logistic candidate's
    assert r["metrics.test_roc_auc"] == pytest.approx(
        r["metrics.candidate_logistic_test_roc_auc"], abs=0.01
    )
    report = Path(
        mlflow.artifacts.download_artifacts(run_id=r["run_id"], artifact_path="report.html")
    )
    assert "The serving model is logistic regression" in report.read_text()
    scores = tmp_path / "scores.csv"
    out = run(
        "score",
        "--config",
        cfg,
        "--leads",
        tmp_path / "export/open.csv",
        "--output",
        scores,
        "--as-of",
        "2026-01-01",
    )
    assert out.exit_code == 0, out.output
    s = read_scores(scores)
    assert len(s) == 200 and s["probability"].between(0, 1).all()
    assert s["reason_1"].str.match(r"^\[[+-]\] ").all()
    assert s["fit_score"].nunique() > 10  # sub-scores from the linear parts, not a constant


def test_linear_contributions_are_exact_and_sum_per_column(tmp_path: Path) -> None:
    linear_export(tmp_path)
    X = pd.read_csv(tmp_path / "leads.csv")[[*NUMERIC, "region"]]
    y = (X["x0"] > X["x1"]).to_numpy(int)
    X.loc[:9, "region"] = "atlantis"  # rare: pooled with the infrequent levels
    X.loc[10:19, "region"] = "lemuria"  # two pooled levels: an array, which has no truth value
    model = fit_logistic(X, y, ["region"], seed=1)
    c, base = linear_contributions(model, X)
    assert c.shape == X.shape
    np.testing.assert_allclose(base + c.sum(axis=1), model.decision_function(X), atol=1e-9)
    # a column's part moves only with that column: change x3, only column 3 changes
    X2 = X.copy()
    X2["x3"] = X2["x3"] * 2 + 1
    c2, _ = linear_contributions(model, X2)
    changed = np.abs(c2 - c).max(axis=0) > 1e-12
    assert changed.tolist() == [c == "x3" for c in X.columns]
    assert known_categories(model) == {"region": set(REGION)}


def test_candidates_config_restricts_the_list(tmp_path: Path) -> None:
    path = linear_export(tmp_path, n=1500, n_open=0)
    raw = yaml.safe_load(path.read_text())
    raw["training"]["candidates"] = ["lightgbm"]
    cfg = Config.model_validate(raw)
    leads, events = load_training_data(cfg)
    r = train(cfg, leads, events)
    assert r.scorer.candidate == "lightgbm" and "lgbm" in r.scorer.estimator.named_steps
    assert "candidate_logistic_val_roc_auc" not in r.metrics
    assert r.info["candidate"] == "lightgbm" and r.metrics["baseline_logreg_is_served"] == 0.0
    assert r.metrics["baseline_logreg_roc_auc"] > 0.5  # the baseline is still fit and measured


@pytest.mark.parametrize("served", ["logistic", "lightgbm"])
def test_backtests_refit_the_candidate_that_serves(tmp_path: Path, served: str) -> None:
    """A backtest answers "would the served recipe have held up": with a logistic winner every
    period refits a logistic model (its AUC differs from a booster's on the same periods)."""
    path = linear_export(tmp_path, n=3000, n_open=0)
    raw = yaml.safe_load(path.read_text())
    raw["training"]["candidates"] = [served]
    raw["training"]["backtest_months"] = 3
    cfg = Config.model_validate(raw)
    leads, events = load_training_data(cfg)
    r = train(cfg, leads, events)
    bt = r.extra_tables["backtest"]
    assert r.scorer.candidate == served
    assert len(bt) >= 2 and set(bt["candidate"]) == {served}
    other = "lightgbm" if served == "logistic" else "logistic"
    rows = prepare_training_rows(cfg, leads, events)
    with backtest.worker_pool() as pool:
        method = bt["calibration"].iloc[0]
        theirs = backtest.start_backtests(cfg, leads, rows, method, pool, other)().table
    assert set(theirs["candidate"]) == {other}
    assert not np.allclose(theirs["roc_auc"].to_numpy(), bt["roc_auc"].to_numpy())
