"""`leadscore retrain` and `leadscore grades` from outside, on a private store of the flat
fixture: a fresh champion is not due and nothing is written; 45 days later (`--now`) it trains a
new version, due by age; both versions grade with one set of floors, the registry's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from pipeline.config import GradeFloors
from pipeline.modeling.grades import grade_of
from tests.byo_helpers import example_config
from tests.conftest import run

pytestmark = pytest.mark.slow
FLAT_LEADS = Path(__file__).resolve().parents[1] / "fixtures/flat/Leads.csv"


def store_state(uri: str) -> tuple[str, int, int, list[str]]:
    """The sqlite file's hash, the runs, the versions and the experiments of the store."""
    db = Path(uri.removeprefix("sqlite:///"))
    client = MlflowClient(uri, uri)
    exps = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in exps])
    versions = client.search_model_versions("name='lead-scoring'")
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    return digest, len(runs), len(versions), sorted(e.name for e in exps)


def scores_of(version: int, cfg: Path, out: Path) -> pd.DataFrame:
    uri = f"models:/lead-scoring/{version}"
    r = run("score", "--config", cfg, "--leads", FLAT_LEADS, "--model-uri", uri, "--output", out)
    assert r.exit_code == 0, r.output
    return pd.read_csv(out)


def test_retrain_when_due_and_grades_keep_their_meaning(tmp_path, mlflow_uri):
    cfg = example_config("flat-export", tmp_path)
    assert run("gate", "set", "--min-won", 0, "--min-lost", 0).exit_code == 0  # tiny fixture
    first = run("retrain", "--config", cfg, "-q")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("due: no champion yet")

    before = store_state(mlflow_uri)
    r = run("retrain", "--config", cfg)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("not due: champion version 1 is 0.0 days old"), r.output
    assert "0 new labelled leads" in r.output
    assert store_state(mlflow_uri) == before  # not a byte written: no run, version, experiment

    registered = MlflowClient().get_model_version("lead-scoring", "1").creation_timestamp
    later = pd.Timestamp(registered, unit="ms") + pd.Timedelta(days=45)
    r = run("retrain", "--config", cfg, "--now", later.isoformat(), "-q")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("due: by age: champion version 1 is 45.0 days old"), r.output
    assert "registered lead-scoring version 2" in r.output

    shown = run("grades", "show")
    assert "drafted from cutoffs and base rate, train of version 1" in shown.output
    # one set of floors for both versions: the registry's, whichever version scored the lead
    client = MlflowClient()
    for floors in (None, "A=0.7 B=0.55 C=0.45"):
        if floors:
            assert run("grades", "set", *floors.split()).exit_code == 0
        stored = client.get_registered_model("lead-scoring").tags["grade_floors"]
        bands = GradeFloors.model_validate_json(stored)
        for v in (1, 2):
            s = scores_of(v, cfg, tmp_path / f"v{v}.csv")
            assert s["grade"].tolist() == grade_of(s["probability"], bands).tolist()
            assert s["grade"].nunique() >= 2  # the check compares something
    shown = run("grades", "show").stdout
    assert "A >= 0.7, B >= 0.55, C >= 0.45" in shown and "(leadscore grades set)" in shown


def test_now_before_the_champion_is_one_line(tmp_path, mlflow_uri):
    cfg = example_config("flat-export", tmp_path)
    assert run("gate", "set", "--min-won", 0, "--min-lost", 0).exit_code == 0
    assert run("retrain", "--config", cfg, "-q").exit_code == 0
    r = run("retrain", "--config", cfg, "--now", "2001-01-01")
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert "before champion version 1 was registered" in r.output


def test_grades_set_refuses_floors_out_of_order(mlflow_uri):
    r = run("grades", "set", "A=0.1", "B=0.2", "C=0.05")
    assert r.exit_code == 2 and "A > B > C" in r.output and r.output.count("\n") == 1
    assert run("grades", "set", "A=0.4", "B=0.2", "C=0.08").exit_code == 0
    r = run("grades", "set", "B=0.3")  # the others keep their stored value
    assert r.exit_code == 0 and "A >= 0.4, B >= 0.3, C >= 0.08" in r.output
    r = run("grades", "set", "E=0.3")
    assert r.exit_code == 2 and "A=0.40 B=0.20 C=0.08" in r.output
