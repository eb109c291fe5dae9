"""The gate a challenger cannot bend, with real trainings: the champion judged on its own inputs,
a config that tries to loosen the gate, two trainings interleaved at the compare-and-move point,
a first model below its baseline, and a kill between registration and the alias."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run, write_config

pytestmark = pytest.mark.slow  # every test here trains a model

FAST = {"backtest_months": 0}


@pytest.fixture()
def raw(tmp_path: Path, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert run("generate", "--leads", "3000", "--seed", "9", "--out", "raw").exit_code == 0
    return tmp_path / "raw"


def aliases(client) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model("lead-scoring").aliases.items()}


def test_champion_is_judged_on_its_own_inputs_and_thresholds_and_rechecked_under_the_lock(
    raw: Path, tmp_path: Path, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
):
    import mlflow

    from pipeline import jobs
    from pipeline.tracking import gate

    client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)  # not an earlier test's global URI
    full = write_config(tmp_path / "full.yaml", raw, training=FAST)
    # on 3,000 leads LightGBM lands within noise of the logistic baseline (about 0.02 AUC below,
    # p ~ 0.3), past the shipped 0.01 tolerance; this test is about a challenger against the
    # champion, so its store tolerates 0.05 below a baseline; every other threshold is shipped
    assert run("gate", "set", "--max-baseline-drop", "0.05").exit_code == 0
    r = run("train", "--config", full)
    assert r.exit_code == 0, r.output
    assert aliases(client)["champion"] == "1"

    # no activity table, and a gate section that would wave anything through
    loose = {"max_auc_drop": 1, "max_ece": 1, "min_won": 0, "min_lost": 0}
    bare = write_config(
        tmp_path / "bare.yaml", raw, training=FAST, gate=loose, data={"activities": None}
    )
    r = run("train", "--config", bare)
    assert r.exit_code == 0, r.output
    assert "config gate ignored where it loosens the registry's" in r.stderr
    assert "gate.max_auc_drop 1.0 (registry: 0.01)" in r.stderr
    assert "below champion v1" in r.output and "stays challenger" in r.output
    assert aliases(client)["champion"] == "1"
    m1 = client.get_run(client.get_model_version("lead-scoring", "1").run_id).data.metrics
    m2 = client.get_run(client.get_model_version("lead-scoring", "2").run_id).data.metrics
    assert (
        client.get_run(client.get_model_version("lead-scoring", "2").run_id).data.params[
            "rows_events"
        ]
        == "0"
    )
    # the champion kept its behaviour features: scored with its own events, not an empty table
    assert m2["gate_champion_roc_auc"] > m1["test_roc_auc"] - 0.01
    assert m2["gate_champion_roc_auc"] - m2["gate_new_roc_auc"] > 0.01

    # interleaved: v3 (as weak as v2) is compared with champion v2, then, before it moves the
    # alias, another process makes v1 champion; under the lock v3 is judged again, against v1
    assert run("promote", "2").exit_code == 0 and aliases(client)["champion"] == "2"
    decisions = []
    real_check, real_move = gate.check_against_champion, gate.decide_and_move

    def check(*a, **k):
        decisions.append(real_check(*a, **k))
        return decisions[-1]

    def other_training_wins_first(*a, **k):
        jobs.promote("1", "another training, finished first")
        return real_move(*a, **k)

    monkeypatch.setattr(gate, "check_against_champion", check)
    monkeypatch.setattr(gate, "decide_and_move", other_training_wins_first)
    r = run("train", "--config", bare)
    assert r.exit_code == 0, r.output
    assert [d.champion_version for d in decisions] == ["2", "1"]
    assert decisions[0].passed and not decisions[1].passed
    assert aliases(client)["champion"] == "1" and aliases(client)["challenger"] == "3"
    v3 = client.get_model_version("lead-scoring", "3")
    assert "below champion v1" in v3.tags["gate_reason"]
    assert client.get_run(v3.run_id).data.tags["gate_passed"] == "false"


def test_first_model_below_its_baseline_is_not_champion(raw: Path, tmp_path: Path, mlflow_uri: str):
    import mlflow

    stump = {
        **FAST,
        "candidates": ["lightgbm"],  # the stump itself must serve, not a logistic candidate
        "lightgbm": {"n_estimators": 1, "num_leaves": 2, "max_depth": 1},
    }
    cfg = write_config(tmp_path / "stump.yaml", raw, training=stump)
    r = run("train", "--config", cfg)
    assert r.exit_code == 0, r.output
    assert "does not beat the logistic-regression baseline" in r.output
    assert "stays challenger" in r.output
    client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)
    assert aliases(client) == {"challenger": "1"}
    v1 = client.get_model_version("lead-scoring", "1")
    assert v1.tags["gate_reason"].startswith("gate failed")
    m = client.get_run(v1.run_id).data.metrics
    assert m["test_roc_auc"] < m["baseline_logreg_roc_auc"] and m["gate_passed"] == 0.0


KILL_AT_THE_MOVE = """
import os, signal, sys
from pipeline.tracking import gate
gate.decide_and_move = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
from pipeline.cli import app
app(sys.argv[1:])
"""


def test_kill_between_registration_and_alias_is_repaired_on_the_next_start(
    raw: Path, tmp_path: Path, mlflow_uri: str
):
    import mlflow

    cfg = write_config(tmp_path / "c.yaml", raw, training=FAST)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri, "PYTHONPATH": str(ROOT)}
    p = subprocess.run(
        [sys.executable, "-c", KILL_AT_THE_MOVE, "train", "--config", str(cfg), "--quiet"],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    client = mlflow.MlflowClient(mlflow_uri, mlflow_uri)  # not an earlier test's global URI
    v1 = client.get_model_version("lead-scoring", "1")
    assert v1.tags["gate_reason"].startswith("pending")  # registered with its (pending) reason
    assert client.get_run(v1.run_id).info.status == "RUNNING"
    assert "champion" not in aliases(client)

    r = run("rollback")  # the next start repairs first, then says there is nothing to roll back
    assert r.exit_code == 2 and "no previous champion" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 3  # two repair notes and the error
    assert client.get_run(v1.run_id).info.status == "FAILED"
    assert (
        client.get_model_version("lead-scoring", "1").tags["gate_reason"].startswith("interrupted")
    )
    assert "champion" not in aliases(client)
    r = run("promote", "1")  # a person may still serve it, after review
    assert r.exit_code == 0 and "champion: version None -> 1" in r.output
