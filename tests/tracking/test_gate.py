"""The promotion gate as a user meets it: a crippled challenger is not promoted, rollback works."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import write_config

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_crippled_challenger_is_not_promoted_and_rollback_restores(
    tmp_path: Path, mlflow_uri: str, monkeypatch
):
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADSCORE_USER", "alice")
    assert run("generate", "--leads", "3000", "--seed", "9", "--out", "raw").exit_code == 0
    raw = tmp_path / "raw"
    fast = {"backtest_months": 2}
    good = write_config(tmp_path / "good.yaml", raw, training=fast)
    # behaviour features dropped: only the single most common activity type, and no firmographics
    crippled = write_config(
        tmp_path / "crippled.yaml",
        raw,
        training={**fast, "max_activity_types": 1},
        schema={"categorical": ["country"], "numeric": []},
    )
    r = run("train", "--config", str(good))
    assert r.exit_code == 0, r.output
    assert "gate passed (no champion yet)" in r.output
    client = mlflow.MlflowClient()

    def champion() -> str:
        return str(client.get_model_version_by_alias("lead-scoring", "champion").version)

    assert champion() == "1"

    r = run("train", "--config", str(crippled))
    assert r.exit_code == 0, r.output
    assert "gate failed" in r.output and "below champion v1" in r.output
    assert "stays challenger" in r.output
    assert champion() == "1"
    assert str(client.get_model_version_by_alias("lead-scoring", "challenger").version) == "2"
    v2 = client.get_model_version("lead-scoring", "2")
    assert v2.tags["gate_reason"].startswith("gate failed")
    m2 = client.get_run(v2.run_id).data.metrics
    assert m2["gate_passed"] == 0.0
    assert m2["gate_champion_roc_auc"] - m2["gate_new_roc_auc"] > 0.01
    assert client.get_run(v2.run_id).data.tags["gate_passed"] == "false"

    # a person may override; rollback then restores the previous champion, with a record
    assert run("promote", "2").exit_code == 0 and champion() == "2"
    r = run("rollback")
    assert r.exit_code == 0 and champion() == "1"
    hist = json.loads(client.get_registered_model("lead-scoring").tags["champion_history"])
    assert [(h["from"], h["to"]) for h in hist] == [(None, "1"), ("1", "2"), ("2", "1")]
    assert hist[-1]["by"] == "alice" and "rollback" in hist[-1]["reason"]
    assert client.get_model_version("lead-scoring", "1").tags["promoted_by"] == "alice"

    out = tmp_path / "scores.csv"
    r = run(
        "score",
        "--config",
        str(good),
        "--leads",
        str(raw / "open_leads.csv"),
        "--output",
        str(out),
        "--as-of",
        "2026-11-01",
    )
    assert r.exit_code == 0, r.output
    assert (pd.read_csv(out)["model_version"].astype(str) == "1").all()


def test_run_has_model_card_plots_and_tables(tmp_path: Path, mlflow_uri: str, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    assert run("generate", "--leads", "3000", "--seed", "9", "--out", "raw").exit_code == 0
    cfg = write_config(
        tmp_path / "c.yaml",
        tmp_path / "raw",
        training={"backtest_months": 2},
        costs={"channel_column": "source_channel", "per_lead": {"Paid Search": 50.0}},
    )
    r = run("train", "--config", str(cfg))
    assert r.exit_code == 0, r.output
    assert "| SQL |" in r.output  # the funnel table is printed
    run_id = mlflow.MlflowClient().get_model_version("lead-scoring", "1").run_id
    root = Path(mlflow.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    for name in [
        "model_card.md",
        "evaluation/reliability.png",
        "evaluation/gain_lift.png",
        "evaluation/precision_recall.png",
        "evaluation/score_distribution.png",
        "evaluation/backtest.png",
        "evaluation/backtest.csv",
        "evaluation/funnel.csv",
        "evaluation/slices.csv",
        "evaluation/calibration.csv",
    ]:
        assert (root / name).is_file(), name
    card = (root / "model_card.md").read_text()
    for section in ["## Data", "## Metrics", "## Calibration", "## Funnel", "## Backtests"]:
        assert section in card
    assert "## Slices" in card and "source_channel" in card and "## Known limits" in card
    funnel = pd.read_csv(root / "evaluation/funnel.csv")
    assert funnel["cost_per_sql"].notna().all() and (funnel["cost_per_sql"] > 0).all()
    metrics = mlflow.get_run(run_id).data.metrics
    for k in ["test_cost_per_customer", "test_auc_lift_over_points", "backtest_roc_auc_mean"]:
        assert k in metrics, k
