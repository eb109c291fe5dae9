"""The CLI as a user runs it: generate, train, register, score, explain, promote, rollback."""

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import write_config

runner = CliRunner()
CONTRACT_COLUMNS = [
    "lead_id",
    "probability",
    "score",
    "stage",
    "reason_1",
    "reason_2",
    "reason_3",
    "model_version",
    "scored_at",
]


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture()
def project(tmp_path, mlflow_uri, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("generate", "--leads", "3000", "--seed", "9", "--out", str(tmp_path / "raw"))
    assert r.exit_code == 0, r.output
    cfg = write_config(tmp_path / "config.yaml", tmp_path / "raw")
    return tmp_path, cfg


def test_train_register_score_explain(project):
    import mlflow

    tmp, cfg = project
    r = run("train", "--config", str(cfg))
    assert r.exit_code == 0, r.output
    client = mlflow.MlflowClient()
    champ = client.get_model_version_by_alias("lead-scoring", "champion")
    assert client.get_model_version_by_alias("lead-scoring", "challenger").version == champ.version
    metrics = client.get_run(champ.run_id).data.metrics
    for k in [
        "test_roc_auc",
        "test_pr_auc",
        "test_brier",
        "test_log_loss",
        "test_ece",
        "test_lift_at_10",
        "baseline_points_roc_auc",
        "baseline_logreg_roc_auc",
        "mql_threshold",
        "sql_threshold",
        "test_sql_precision",
        "test_mql_recall",
        "oracle_roc_auc",
    ]:
        assert k in metrics, k

    out = tmp / "scored" / "scores.csv"
    r = run(
        "score",
        "--config",
        str(cfg),
        "--leads",
        str(tmp / "raw/open_leads.csv"),
        "--output",
        str(out),
        "--as-of",
        "2026-11-01",
    )
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out)
    open_leads = pd.read_csv(tmp / "raw/open_leads.csv")
    assert list(s.columns) == [*CONTRACT_COLUMNS, "fit_score", "engagement_score"]
    assert s[["fit_score", "engagement_score"]].apply(lambda c: c.between(0, 100)).all().all()
    assert sorted(s["lead_id"]) == sorted(open_leads["lead_id"])
    assert s["probability"].between(0, 1).all() and s["score"].between(0, 100).all()
    assert set(s["stage"]) <= {"SQL", "MQL", "lead"}
    assert s["reason_1"].str.match(r"^[+-] \w").all()
    assert (s["model_version"].astype(str) == str(champ.version)).all()

    lid = s["lead_id"].iloc[0]
    r = run(
        "explain",
        lid,
        "--config",
        str(cfg),
        "--leads",
        str(tmp / "raw/open_leads.csv"),
        "--as-of",
        "2026-11-01",
        "--plot",
        str(tmp / "waterfall.png"),
    )
    assert r.exit_code == 0 and lid in r.output and "probability" in r.output
    assert "fit " in r.output and "engagement " in r.output
    assert (tmp / "waterfall.png").read_bytes()[:4] == b"\x89PNG"
    arts = {
        a.path
        for d in ("explain", "explain/dependence")
        for a in client.list_artifacts(champ.run_id, d)
    }
    assert {"explain/importance_by_field.csv", "explain/shap_beeswarm_by_field.png"} <= arts
    assert len([a for a in arts if a.startswith("explain/dependence/")]) == 5

    # a second version from the same data and config is as good: it passes the gate
    assert run("train", "--config", str(cfg)).exit_code == 0
    assert str(client.get_model_version_by_alias("lead-scoring", "challenger").version) == "2"
    assert str(client.get_model_version_by_alias("lead-scoring", "champion").version) == "2"
    # promote and rollback move champion
    assert run("promote", str(champ.version)).exit_code == 0
    assert client.get_model_version_by_alias("lead-scoring", "champion").version == champ.version
    assert run("rollback").exit_code == 0
    assert str(client.get_model_version_by_alias("lead-scoring", "champion").version) == "2"


def test_pii_never_reaches_mlflow_artifacts(project):
    import mlflow

    tmp, cfg = project
    assert run("train", "--config", str(cfg)).exit_code == 0
    leads = pd.read_csv(tmp / "raw/leads.csv")
    needles = [
        leads["email"].iloc[0],
        leads["email"].iloc[-1],
        leads["phone"].iloc[0],
        leads["full_name"].iloc[0],
    ]
    run_id = mlflow.MlflowClient().get_model_version_by_alias("lead-scoring", "champion").run_id
    root = Path(mlflow.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    files = [p for p in root.parent.parent.rglob("*") if p.is_file()]
    assert files
    for p in files:
        blob = p.read_bytes()
        for n in needles:
            assert n.encode() not in blob, (n, p)


def test_score_with_unknown_model_fails_cleanly_and_keeps_previous_output(project):
    tmp, cfg = project
    out = tmp / "scores.csv"
    out.write_text("previous,file\n1,2\n")
    r = run(
        "score",
        "--config",
        str(cfg),
        "--output",
        str(out),
        "--model-uri",
        "models:/lead-scoring@nope",
    )
    assert r.exit_code == 2
    assert "not found" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert out.read_text() == "previous,file\n1,2\n"


def test_missing_leads_file_is_one_clear_line(project):
    tmp, cfg = project
    r = run("score", "--config", str(cfg), "--leads", str(tmp / "nope.csv"))
    assert r.exit_code == 2 and "nope.csv" in r.output and "not found" in r.output
