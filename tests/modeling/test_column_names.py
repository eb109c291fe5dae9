"""Any column name works: an export whose feature columns (and activity types, which become
feature names too) hold every character LightGBM's JSON refuses, spaces and non-ASCII letters
trains, scores with reasons in the export's own words, and logs its drift metrics.

LightGBM sees safe internal names (the encoder keeps the mapping); MLflow metric keys are made
safe where they are logged; reasons and reports keep the display names."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from pipeline.modeling.booster import safe_feature_names
from pipeline.synthetic.sample import generate, write_sample
from pipeline.tracking.runs import metric_key
from tests.conftest import run, write_config

# every character LightGBM's feature-name check refuses, plus spaces, $ and non-ASCII
HOSTILE = {
    "industry": 'Industry "quoted" {x}',
    "company_size": "score[1]",
    "job_role": "a:b, a,b",
    "country": "Pays / Région",
    "annual_ad_budget": "Annual Revenue ($)",
    "employees": "Größe 員工 👥",
}
HOSTILE_TYPE = {"demo_request": 'demo "request" [1]', "pricing_page_visit": "prix: {page}"}


def test_safe_feature_names_are_lightgbm_safe_and_unique():
    names = [*HOSTILE.values(), "a b", "a_b", "a,b", ""]
    safe = safe_feature_names(names)
    assert len(set(safe)) == len(names)
    assert all(ch.isascii() and (ch.isalnum() or ch == "_") for n in safe for ch in n)
    assert safe_feature_names(names) == safe  # stable: the same export, the same names


def test_metric_keys_are_mlflow_safe():
    from mlflow.utils.validation import _validate_metric_name

    for name in [*HOSTILE.values(), "psi_../../x", "", "psi_a/b"]:
        _validate_metric_name(metric_key(f"psi_{name}"))


@pytest.mark.slow
def test_hostile_column_names_train_and_score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}")
    data = generate(2500, seed=5)
    acts = data.activities.assign(
        activity_type=data.activities["activity_type"].replace(HOSTILE_TYPE)
    )
    data = replace(
        data,
        leads=data.leads.rename(columns=HOSTILE),
        open_leads=data.open_leads.rename(columns=HOSTILE),
        activities=acts,
    )
    raw = tmp_path / "raw"
    write_sample(data, raw)
    cat = [HOSTILE[c] for c in ("industry", "company_size", "job_role", "country")]
    cat.append("source_channel")
    num = [HOSTILE["annual_ad_budget"], HOSTILE["employees"]]
    cfg = write_config(
        tmp_path / "config.yaml",
        raw,
        schema={"categorical": cat, "numeric": num},
        gate={"min_won": 0, "min_lost": 0},  # see the waiver below
        training={"backtest_months": 1},
        baseline_points={HOSTILE_TYPE["demo_request"]: 30},
        # "score" in a name reads as an after-the-fact column; this one is company size, kept
        leakage={"accept": [HOSTILE["company_size"]]},
    )
    assert run("validate", "--config", cfg).exit_code == 0
    # ~25 won test leads, below the shipped gate's evidence floor (30 / 100); this test is about
    # names surviving training and scoring, so its store and its config (which may tighten the
    # store's thresholds, never loosen them) both waive the evidence counts
    assert run("gate", "set", "--min-won", 0, "--min-lost", 0).exit_code == 0
    r = run("train", "--config", cfg, "--quiet")
    assert r.exit_code == 0, r.output
    out = tmp_path / "scores.csv"
    r = run(
        "score",
        "--config",
        cfg,
        "--leads",
        raw / "open_leads.csv",
        "--output",
        out,
        "--as-of",
        "2026-11-01",
    )
    assert r.exit_code == 0, r.output
    assert "drift metrics" not in r.output and "cannot log" not in r.output
    scores = pd.read_csv(out)
    assert len(scores) == len(data.open_leads) and scores["probability"].between(0, 1).all()
    words = " ".join(scores[["reason_1", "reason_2", "reason_3"]].fillna("").stack())
    assert any(w in words for w in ("demo", "prix", "Industry", "Annual Revenue", "Größe"))
    # the scoring run logged one PSI metric per column under a safe key
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("lead-scoring-scoring")
    (scoring,) = client.search_runs([exp.experiment_id], "attributes.run_name = 'score'")
    assert metric_key("psi_Annual Revenue ($)") in scoring.data.metrics
    assert "psi_max" in scoring.data.metrics
