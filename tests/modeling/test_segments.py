"""Segment models with a pooled fallback, through `generate`, `train` and `score`: where one region
truly behaves differently (`generate --segment-shift 1`) that region gets its own model, which
beats the pooled one on the region's test leads, and its leads are scored by it (`model_segment`);
where regions behave alike (`--segment-shift 0`) every segment falls back to pooled."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import read_scores, run, write_config

from pipeline.config import load_config
from pipeline.jobs import load_training_data
from pipeline.modeling.prepare import prepare_training_rows
from pipeline.report.drivers import probability_changes
from pipeline.synthetic.regions import SHIFTED
from pipeline.tracking.pyfunc import load_scorer

pytestmark = pytest.mark.slow  # every test here trains a model

CATEGORICAL = ["industry", "company_size", "job_role", "seniority", "country", "source_channel"]


def _train(tmp_path: Path, mlflow_uri: str, shift: str, n: int) -> tuple[Path, pd.Series]:
    data = tmp_path / "raw"
    assert run("generate", "-n", n, "--segment-shift", shift, "--out", data).exit_code == 0
    cfg = write_config(
        tmp_path / "config.yaml",
        data,
        schema={"categorical": [*CATEGORICAL, "region"]},
        segments={"column": "region"},
        training={"backtest_months": 0},
    )
    out = run("train", "--config", cfg)
    assert out.exit_code == 0, out.output
    mlflow.set_tracking_uri(mlflow_uri)
    return cfg, mlflow.search_runs(experiment_names=["lead-scoring"]).iloc[0]


def _score(tmp_path: Path, cfg: Path) -> pd.DataFrame:
    scores = tmp_path / "scores.csv"
    args = ["--leads", tmp_path / "raw/open_leads.csv", "--output", scores]
    out = run("score", "--config", cfg, "--model-uri", "models:/lead-scoring/1", *args)
    assert out.exit_code == 0, out.output
    return read_scores(scores)


def _card(run_id: str) -> str:
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model_card.md")
    text = Path(path).read_text()
    assert "## Segments (test leads)" in text
    return text


def test_a_region_that_behaves_differently_gets_its_own_model(
    tmp_path: Path, mlflow_uri: str
) -> None:
    cfg, r = _train(tmp_path, mlflow_uri, "1", 40_000)
    assert r["params.segments_own"] == SHIFTED
    assert f"- {SHIFTED}: beats pooled on validation" in _card(r["run_id"])
    info = mlflow.artifacts.load_dict(f"runs:/{r['run_id']}/training_info.json")
    assert info["segments_own"] == [SHIFTED]
    tables = Path(mlflow.artifacts.download_artifacts(run_id=r["run_id"]))
    seg = pd.read_csv(next(tables.rglob("segments.csv")))
    row = seg.set_index("segment").loc[SHIFTED]
    assert row["serves"] == SHIFTED and row["test_auc_segment"] > row["test_auc_pooled"]
    assert (seg.set_index("segment").drop(SHIFTED)["serves"] == "pooled").all()
    s = _score(tmp_path, cfg)
    leads = pd.read_csv(tmp_path / "raw/open_leads.csv").set_index("lead_id")
    region = leads.loc[s["lead_id"], "region"].to_numpy()
    assert (s["model_segment"] == pd.Series(region).where(region == SHIFTED, "pooled")).all()
    assert s["reason_1"].str.match(r"^\[[+-]\] ").all()  # reasons from whichever model served
    assert list(s.columns[:4]) == ["lead_id", "probability", "score", "stage"]  # contract first
    # the report's probability drivers read each lead on the scale of the model that serves it
    scorer, _ = load_scorer("models:/lead-scoring/1")
    conf = load_config(cfg)
    X = prepare_training_rows(conf, *load_training_data(conf)).X.iloc[:3000]
    assert (scorer.segment_of(X) == SHIFTED).any() and (scorer.segment_of(X) == "pooled").any()
    _, served, _ = probability_changes(scorer, X)
    np.testing.assert_allclose(served, scorer.conversion_probability(X), atol=1e-9)


def test_regions_that_behave_alike_all_fall_back_to_pooled(tmp_path: Path, mlflow_uri: str) -> None:
    cfg, r = _train(tmp_path, mlflow_uri, "0", 20_000)
    assert r["params.segments_own"] == "none"
    info = mlflow.artifacts.load_dict(f"runs:/{r['run_id']}/training_info.json")
    assert info["segments_own"] == [] and len(info["segments_pooled"]) == 4
    s = _score(tmp_path, cfg)
    assert (s["model_segment"] == "pooled").all()  # configured segments are never silent
