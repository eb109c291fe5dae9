"""Grades on the shared flat model (fast tier, read-only on its store): the first registered
version drafted floors into the registry, and a scoring run grades every lead with them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from pipeline.modeling.grades import grade_of
from tests.conftest import run

FLAT_LEADS = Path(__file__).resolve().parents[1] / "fixtures/flat/Leads.csv"


def test_scores_grade_with_the_registrys_floors(flat_model, tmp_path):
    _, cfg, uri = flat_model
    tags = MlflowClient(uri, uri).get_registered_model("lead-scoring").tags
    floors = json.loads(tags["grade_floors"])
    assert "drafted from cutoffs and base rate, train of version 1" in tags["grades_set_by"]
    shown = run("grades", "show")
    assert shown.exit_code == 0 and f"A >= {floors['A']:g}" in shown.stdout
    out = tmp_path / "scores.csv"
    r = run("score", "--config", cfg, "--leads", FLAT_LEADS, "--output", out, "-q")
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out)
    assert "grade" in s.columns and s["grade"].notna().all()
    assert list(s.columns).index("grade") == list(s.columns).index("engagement_score") + 1
    assert s["grade"].tolist() == grade_of(s["probability"], floors).tolist()
