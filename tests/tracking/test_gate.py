"""The promotion gate as a user meets it: a crippled challenger is not promoted, rollback works."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run, write_config

pytestmark = pytest.mark.slow  # every test here trains a model

PNGS = [
    "evaluation/reliability.png",
    "evaluation/gain_lift.png",
    "evaluation/precision_recall.png",
    "evaluation/score_distribution.png",
    "evaluation/backtest.png",
    "explain/importance_by_field.png",
]


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
    # on 3,000 leads LightGBM lands within noise of the logistic baseline (about 0.02 AUC below,
    # p ~ 0.3), past the shipped 0.01 tolerance; this test is about a crippled challenger against
    # a champion, so its store tolerates 0.05 below a baseline; every other threshold is shipped
    assert run("gate", "set", "--max-baseline-drop", "0.05").exit_code == 0
    r = run("train", "--config", str(good))
    assert r.exit_code == 0, r.output
    assert "gate passed (no champion yet; vs logistic-regression baseline" in r.output
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
    run_id = mlflow.MlflowClient().get_model_version("lead-scoring", "1").run_id
    data = mlflow.get_run(run_id).data
    m = data.metrics
    root = Path(mlflow.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    for name in PNGS:
        blob = (root / name).read_bytes()
        assert blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 5000, name  # a drawn figure

    # the funnel: stages partition the test leads, the costs follow the channel prices
    funnel = pd.read_csv(root / "evaluation/funnel.csv").set_index("stage")
    stages = funnel.loc[["SQL", "MQL", "lead"]]
    n_test = int(data.params["rows_test_leads"])
    assert stages["leads"].sum() == funnel.loc["all", "leads"] == n_test
    assert n_test == m["test_won"] + m["test_lost"]
    assert stages["won"].sum() == funnel.loc["all", "won"] == m["test_won"]
    assert funnel.loc["all", "realised_conversion"] == pytest.approx(m["test_observed_rate"])
    assert stages["share"].sum() == pytest.approx(1.0)
    assert funnel.loc["SQL", "realised_conversion"] > funnel.loc["lead", "realised_conversion"]
    slices = pd.read_csv(root / "evaluation/slices.csv")
    paid = slices[(slices["column"] == "source_channel") & (slices["value"] == "Paid Search")]
    spend = 50.0 * int(paid["leads"].iloc[0])  # only Paid Search has a price
    assert spend > 0 and funnel.loc["all", "spend"] == pytest.approx(spend)
    n_sql, n_mql = funnel.loc["SQL", "leads"], funnel.loc[["SQL", "MQL"], "leads"].sum()
    assert funnel["cost_per_sql"].iloc[0] == pytest.approx(spend / n_sql)
    assert funnel["cost_per_mql"].iloc[0] == pytest.approx(spend / n_mql)
    assert m["test_cost_per_customer"] == pytest.approx(spend / m["test_won"])
    for c in ("source_channel", "country", "company_size"):  # each slice column covers the test
        assert slices.loc[slices["column"] == c, "leads"].sum() == n_test, c
    # the printed funnel is the logged one
    sql_row = re.search(r"^\| SQL \| (\d+) \|", r.output, re.M)
    assert sql_row and int(sql_row[1]) == n_sql

    # the calibration table and the backtests are the numbers the metrics report
    cal = pd.read_csv(root / "evaluation/calibration.csv").set_index("probabilities")
    after = cal.loc[[i for i in cal.index if i.startswith("calibrated")]].iloc[0]
    before = cal.loc["booster (uncalibrated)"]
    assert after["roc_auc"] == pytest.approx(m["test_roc_auc"])
    assert after["ece"] == pytest.approx(m["test_ece"]) and after["brier"] == pytest.approx(
        m["test_brier"]
    )
    assert before["roc_auc"] == pytest.approx(m["test_roc_auc_uncalibrated"])
    assert before["ece"] == pytest.approx(m["test_ece_uncalibrated"])
    bt = pd.read_csv(root / "evaluation/backtest.csv")
    # at most the 2 months asked for (a month with too few test leads is skipped)
    assert 1 <= len(bt) == m["backtest_periods"] <= 2 and bt["period"].is_monotonic_increasing
    assert bt["roc_auc"].between(0.5, 1).all()
    assert m["backtest_roc_auc_mean"] == pytest.approx(bt["roc_auc"].mean())
    assert m["test_auc_lift_over_points"] == pytest.approx(
        m["test_roc_auc"] - m["baseline_points_roc_auc"]
    )
    assert m["test_auc_lift_over_points"] > 0

    # the card says the same numbers, to the digit it prints
    card = (root / "model_card.md").read_text()
    for section in ["## Data", "## Metrics", "## Calibration", "## Funnel", "## Backtests"]:
        assert section in card
    assert "## Slices" in card and "source_channel" in card and "## Known limits" in card
    assert f"| ROC AUC (model) | {m['test_roc_auc']:.4f} |" in card
    assert f"| expected calibration error | {m['test_ece']:.4f} |" in card
    assert f"- SQL: probability >= {m['sql_threshold']:.4f}" in card
    assert f"- MQL: probability >= {m['mql_threshold']:.4f}" in card
    assert f"({n_test:,} test leads, {int(m['test_won'])} won)" in card
