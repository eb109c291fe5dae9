"""`leadscore score` on a period whose market conditions (`schema.context`) moved: drift in them is
never said as a lead feature; the period's columns are said once, as a warning when the served
model uses them and as a note when training left them out, and the scoring run's MLflow metrics
carry no per-feature PSI for them (`monitoring.drift`)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import run
from tests.modeling.test_context_choice import period_export

pytestmark = pytest.mark.slow
N_SCORED = 800  # above drift's minimum sample


def _moved_period(folder: Path) -> Path:
    """Leads of a new period: the lead trait as in training, the period column at a value it
    never took (the training months cycle through 1-4)."""
    rng = np.random.default_rng(11)
    created = pd.Timestamp("2025-01-20") - pd.to_timedelta(rng.uniform(1, 30, N_SCORED), "D")
    leads = pd.DataFrame(
        {
            "lead_id": np.arange(900_001, 900_001 + N_SCORED),
            "created_at": created.strftime("%Y-%m-%d"),
            "x": np.round(rng.normal(size=N_SCORED), 3),
            "job": rng.choice(["a", "b", "c"], N_SCORED),
            "rate": np.full(N_SCORED, 9.0),
        }
    )
    path = folder / "new_period.csv"
    leads.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("context", ["leave_out", "use"])
def test_market_conditions_drift_is_said_once_and_only_when_used(
    tmp_path: Path, mlflow_uri: str, context: str
) -> None:
    cfg = period_export(tmp_path, flips=False, n=1500)
    cfg.training.context = context
    cfg.training.candidates = ["lightgbm"]  # the logistic candidate always reads the context
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    r = run("train", "--config", cfg_path)
    assert r.exit_code == 0, r.output
    leads = _moved_period(tmp_path)
    args = ["score", "--config", cfg_path, "--leads", leads, "--output", tmp_path / "s.csv"]
    r = run(*args, "--as-of", "2025-01-20", "--model-uri", "models:/lead-scoring/1")
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert not [ln for ln in lines if "'rate'" in ln]  # never a feature
    market = [ln for ln in lines if "market conditions" in ln]
    assert len(market) == 1 and "(rate)" in market[0], lines
    run_ = mlflow.search_runs(experiment_names=["lead-scoring-scoring"]).iloc[0]
    assert "metrics.psi_rate" not in run_.index
    assert run_["metrics.psi_x"] >= 0  # a lead feature the booster splits on keeps its PSI
    if context == "use":
        assert market[0].startswith("warning: market conditions moved since training (rate)")
        assert run_["metrics.psi_market_conditions"] > 0.2
        assert run_["tags.market_conditions"] == "used"
    else:
        assert market[0].startswith("note:") and "does not use them" in market[0]
        assert "metrics.psi_market_conditions" not in run_.index
        assert run_["tags.market_conditions"] == "not_used"
