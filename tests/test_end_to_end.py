"""The CLI as a user runs it: generate, train, register, score, explain, promote, rollback."""

import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run, write_config

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


def printed_metrics(output: str) -> dict[str, float]:
    """The metrics `leadscore train` prints, one "  name  0.1234" line each."""
    return {k: float(v) for k, v in re.findall(r"^  ([a-z0-9_]+) +(-?[0-9.]+|nan)$", output, re.M)}


def check_training_metrics(m: dict[str, float], printed: dict[str, float]) -> None:
    """The logged metrics of a run on the sample data: finite, in range, consistent with each
    other and with what `train` printed."""
    needed = [
        *("test_roc_auc", "test_pr_auc", "test_brier", "test_log_loss", "test_ece"),
        *("test_lift_at_10", "baseline_points_roc_auc", "baseline_logreg_roc_auc"),
        *("mql_threshold", "sql_threshold", "test_sql_precision", "test_mql_recall"),
        *("oracle_roc_auc", "test_observed_rate", "test_auc_over_oracle"),
    ]
    bad = [k for k in needed if not math.isfinite(m.get(k, math.nan))]
    assert not bad, f"missing or not finite: {bad}"
    assert {"test_roc_auc", "oracle_roc_auc", "test_ece", "sql_threshold"} <= set(printed)
    for k, v in printed.items():  # printed with 4 decimals
        assert m[k] == pytest.approx(v, abs=5.1e-5), k
    rate = m["test_observed_rate"]
    assert 0 < rate < 1
    # better than the rules it replaces, not better than the truth
    assert 0.5 < m["baseline_points_roc_auc"] < m["test_roc_auc"]
    assert m["baseline_logreg_roc_auc"] > 0.5
    assert m["test_roc_auc"] <= m["oracle_roc_auc"] + 0.02 <= 1.02
    assert m["test_auc_over_oracle"] == pytest.approx(m["test_roc_auc"] / m["oracle_roc_auc"])
    # better than always predicting the observed rate
    assert rate < m["test_pr_auc"] <= 1
    assert 0 < m["test_brier"] < rate * (1 - rate)
    assert 0 < m["test_log_loss"] < -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
    assert 1 < m["test_lift_at_10"] <= 1 / rate
    assert 0 <= m["test_ece"] <= 0.05  # the gate's max_ece: this version passed it
    assert 0 < m["mql_threshold"] <= m["sql_threshold"] < 1
    assert 0 < m["test_sql_precision"] <= 1 and 0.5 < m["test_mql_recall"] <= 1


def check_scores(s: pd.DataFrame, mql: float, sql: float) -> None:
    """Scored leads agree with the logged cutoffs; score and stage rise with the probability."""
    p = s["probability"].to_numpy()
    assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    assert s["score"].between(0, 100).all()
    for c in ("fit_score", "engagement_score"):
        assert s[c].between(0, 100).all() and s[c].nunique() > 10, c
    # probabilities are written with 6 decimals: leads within that of a cutoff may fall either side
    clear = (np.abs(p - sql) > 1e-6) & (np.abs(p - mql) > 1e-6)
    expected = np.select([p >= sql, p >= mql], ["SQL", "MQL"], "lead")
    assert (s["stage"].to_numpy()[clear] == expected[clear]).all()
    assert clear.mean() > 0.9 and set(s["stage"]) <= {"SQL", "MQL", "lead"}
    order = np.argsort(p, kind="stable")
    assert (np.diff(s["score"].to_numpy()[order]) >= 0).all()
    assert s["score"].max() - s["score"].min() >= 50


@pytest.fixture()
def project(tmp_path, mlflow_uri, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("generate", "--leads", "3000", "--seed", "9", "--out", str(tmp_path / "raw"))
    assert r.exit_code == 0, r.output
    cfg = write_config(tmp_path / "config.yaml", tmp_path / "raw")
    return tmp_path, cfg


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory):
    """A generated export trained once by the CLI into a private store, shared by this module's
    tests that need a registered model (each other test gets a fresh `project`)."""
    tmp = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'models' / 'mlflow.db'}")
        mp.chdir(tmp)
        r = run("generate", "--leads", "3000", "--seed", "9", "--out", str(tmp / "raw"))
        assert r.exit_code == 0, r.output
        cfg = write_config(tmp / "config.yaml", tmp / "raw")
        # on 3,000 leads (~400 test leads) LightGBM lands within noise of the logistic baseline
        # (about 0.02 AUC below it, p ~ 0.3), past the shipped 0.01 tolerance; these tests follow a
        # champion through score, explain, promote and rollback, so this private store tolerates
        # 0.05 below a baseline, as `leadscore gate set` would; every other threshold is shipped
        r = run("gate", "set", "--max-baseline-drop", "0.05")
        assert r.exit_code == 0, r.output
        r = run("train", "--config", str(cfg))
        assert r.exit_code == 0, r.output
        yield tmp, cfg, r.output


@pytest.mark.slow
def test_train_register_score_explain(trained_project):
    import mlflow

    tmp, cfg, train_output = trained_project
    uri = os.environ["MLFLOW_TRACKING_URI"]  # this module's store, whatever ran before
    client = mlflow.MlflowClient(uri, uri)
    champ = client.get_model_version_by_alias("lead-scoring", "champion")
    assert client.get_model_version_by_alias("lead-scoring", "challenger").version == champ.version
    metrics = client.get_run(champ.run_id).data.metrics
    check_training_metrics(metrics, printed_metrics(train_output))
    # MLflow's own registry chatter stays off the terminal: train's first line says it once
    assert "Successfully registered" not in train_output and "Created version" not in train_output
    # the activities' match line comes first, then the registration
    assert f"\nregistered lead-scoring version {champ.version} " in f"\n{train_output}"

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
    # score_parts: what the next run's score_change and change_reason compare with
    assert list(s.columns) == [
        *CONTRACT_COLUMNS,
        "fit_score",
        "engagement_score",
        "grade",
        "score_parts",
    ]
    assert s[["fit_score", "engagement_score"]].apply(lambda c: c.between(0, 100)).all().all()
    assert sorted(s["lead_id"]) == sorted(open_leads["lead_id"])
    check_scores(s, metrics["mql_threshold"], metrics["sql_threshold"])
    assert s["reason_1"].str.match(r"^\[[+-]\] \w").all()
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
    assert r.exit_code == 0, r.output
    # the lead explained is the lead scored: same probability, score, stage, sub-scores, reasons
    head = re.search(
        rf"^{re.escape(lid)}: probability ([0-9.]+), score (\d+), stage (\w+), grade ([A-D]), "
        rf"fit (\d+), engagement (\d+) \(model version {champ.version}, ",
        r.output,
        re.M,
    )
    assert head, r.output
    row = s.set_index("lead_id").loc[lid]
    assert float(head[1]) == pytest.approx(row["probability"], abs=5.1e-4)
    assert (int(head[2]), head[3], head[4]) == (row["score"], row["stage"], row["grade"])
    assert (int(head[5]), int(head[6])) == (row["fit_score"], row["engagement_score"])
    said = [ln.strip() for ln in r.output.splitlines() if re.match(r"^  \[[+-]\] ", ln)]
    assert said[:3] == row[["reason_1", "reason_2", "reason_3"]].tolist()
    assert (tmp / "waterfall.png").read_bytes()[:4] == b"\x89PNG"
    arts = {
        a.path
        for d in ("explain", "explain/dependence")
        for a in client.list_artifacts(champ.run_id, d)
    }
    assert {"explain/importance_by_field.csv", "explain/shap_beeswarm_by_field.png"} <= arts
    assert len([a for a in arts if a.startswith("explain/dependence/")]) == 5

    # a second version from the same data and config is the same model: it passes the gate
    assert run("train", "--config", str(cfg)).exit_code == 0
    assert str(client.get_model_version_by_alias("lead-scoring", "challenger").version) == "2"
    v2 = client.get_model_version_by_alias("lead-scoring", "champion")
    assert str(v2.version) == "2"
    m2 = client.get_run(v2.run_id).data.metrics
    assert {k: m2[k] for k in metrics if k.startswith("test_")} == {
        k: v for k, v in metrics.items() if k.startswith("test_")
    }
    assert m2["gate_passed"] == 1.0 and m2["gate_new_roc_auc"] == m2["gate_champion_roc_auc"]
    # promote and rollback move champion
    assert run("promote", str(champ.version)).exit_code == 0
    assert client.get_model_version_by_alias("lead-scoring", "champion").version == champ.version
    assert run("rollback").exit_code == 0
    assert str(client.get_model_version_by_alias("lead-scoring", "champion").version) == "2"


@pytest.mark.slow
def test_pii_never_reaches_mlflow_artifacts(trained_project):
    import mlflow

    tmp, _, _ = trained_project
    leads = pd.read_csv(tmp / "raw/leads.csv")
    needles = [
        leads["email"].iloc[0],
        leads["email"].iloc[-1],
        leads["phone"].iloc[0],
        leads["full_name"].iloc[0],
    ]
    uri = os.environ["MLFLOW_TRACKING_URI"]
    client = mlflow.MlflowClient(uri, uri)
    run_id = client.get_model_version_by_alias("lead-scoring", "champion").run_id
    root = Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    files = [p for p in root.parent.parent.rglob("*") if p.is_file()]
    assert files
    for p in files:
        blob = p.read_bytes()
        for n in needles:
            assert n.encode() not in blob, (n, p)


@pytest.mark.slow
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
    assert "no model named 'lead-scoring'" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert out.read_text() == "previous,file\n1,2\n"


def test_missing_leads_file_is_one_clear_line(project):
    tmp, cfg = project
    r = run("score", "--config", str(cfg), "--leads", str(tmp / "nope.csv"))
    assert r.exit_code == 2 and "nope.csv" in r.output and "not found" in r.output
