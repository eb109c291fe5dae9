"""The champion age limit is stored with the registered model like the other thresholds, reads
back as off after being turned off, and a config may only lengthen it."""

from __future__ import annotations

import pytest

from tests.conftest import run

pytestmark = pytest.mark.slow  # each test migrates a fresh MLflow store


def test_age_limit_is_stored_shown_and_turned_off(mlflow_uri: str):
    import mlflow

    from pipeline.tracking import registry

    client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)
    r = run("gate", "show")
    assert r.exit_code == 0 and "max_champion_age_days off" in r.output
    assert "max_baseline_drop 0.01" in r.output and "p < 0.05" in r.output
    r = run("gate", "set", "--max-champion-age-days", "90")
    assert r.exit_code == 0 and "max_champion_age_days 90" in r.output, r.output
    tags = client.get_registered_model("lead-scoring").tags
    assert tags["gate_max_champion_age_days"] == "90" and tags["gate_max_auc_drop"] == "0.01"
    assert registry.gate_policy(client).max_champion_age_days == 90
    assert run("gate", "set", "--max-ece", "0.04").exit_code == 0  # keeps the age limit
    assert registry.gate_policy(client).max_champion_age_days == 90
    r = run("gate", "set", "--max-champion-age-days", "0")
    assert r.exit_code == 0 and "max_champion_age_days off" in r.output
    assert client.get_registered_model("lead-scoring").tags["gate_max_champion_age_days"] == "None"
    assert registry.gate_policy(client).max_champion_age_days is None


@pytest.mark.parametrize("bad", ["-5", "x"])
def test_bad_age_limit_is_one_line(mlflow_uri: str, bad: str):
    r = run("gate", "set", "--max-champion-age-days", bad)
    assert r.exit_code == 2 and "max-champion-age-days" in r.stderr
    assert "Traceback" not in r.stderr
