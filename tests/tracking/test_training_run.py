"""MLflow's own conventions on a training run: opened before training with a description, FAILED
on a crash, nothing logged when the data checks refuse, the training data as a dataset input, the
registered model from code with an input schema, a PII-free input example, the report, and the
registry version in every answer."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from pipeline import jobs
from pipeline.config import load_config
from pipeline.errors import DataError
from pipeline.synthetic.sample import generate, write_sample
from pipeline.tracking.runs import leads_dataset
from tests.conftest import write_config

PII = ("full_name", "email", "phone")


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory):
    """One real training run into a private store (2,000 leads; the gate relaxed so it serves)."""
    tmp = tmp_path_factory.mktemp("conventions")
    write_sample(generate(2000, seed=11), tmp / "raw")
    cfg_path = write_config(
        tmp / "config.yaml",
        tmp / "raw",
        gate={"min_won": 0, "min_lost": 0, "max_ece": 1.0},
        training={"backtest_months": 1},
    )
    uri = f"sqlite:///{tmp / 'models' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        cfg = load_config(cfg_path)
        done = jobs.train_and_register(cfg, cfg_path)
        yield done, cfg, uri, tmp


@pytest.mark.slow
def test_run_finished_with_a_description(registered):
    done, _, uri, _ = registered
    run = MlflowClient(uri).get_run(done.run_id)
    assert run.info.status == "FINISHED"
    assert "plain-language summary" in run.data.tags["mlflow.note.content"]
    assert run.info.run_name == "train"


@pytest.mark.slow
def test_training_data_logged_as_a_dataset_input(registered):
    done, _, uri, _ = registered
    run = MlflowClient(uri).get_run(done.run_id)
    (inp,) = run.inputs.dataset_inputs
    assert {t.key: t.value for t in inp.tags}["mlflow.data.context"] == "training"
    assert inp.dataset.digest == run.data.tags["data_fingerprint"]
    assert inp.dataset.name == "leads.csv"
    columns = [c["name"] for c in json.loads(inp.dataset.schema)["mlflow_colspec"]]
    assert "converted" in columns and not set(PII) & set(columns)


@pytest.mark.slow
def test_model_has_an_input_schema_and_a_pii_free_example(registered):
    done, cfg, uri, _ = registered
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/lead-scoring/{done.version}")
    inputs = {c.name: c for c in model.metadata.get_input_schema().inputs}
    assert inputs["lead_id"].type.name == "string"
    for c in cfg.schema.categorical:
        assert inputs[c].type.name == "string" and inputs[c].required
    for c in cfg.schema.numeric:
        assert inputs[c].type.name == "double"
    assert not inputs["activities"].required and not inputs["email"].required
    example = model.input_example
    assert len(example) >= 1 and not set(PII) & set(example.columns)
    cells = example.astype(str).to_numpy().ravel()
    assert not any("@" in c for c in cells)  # no email address in any cell
    assert set(example["lead_id"]) <= {f"example-{i}" for i in range(1, 10)}


@pytest.mark.slow
def test_model_is_logged_from_code_and_answers_with_its_version(registered):
    done, _, uri, _ = registered
    mlflow.set_tracking_uri(uri)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/lead-scoring/{done.version}"))
    flavor = (local / "MLmodel").read_text()
    assert "model_code.py" in flavor and not (local / "python_model.pkl").exists()
    model = mlflow.pyfunc.load_model(f"models:/lead-scoring/{done.version}")
    out = model.predict(model.input_example, params={"as_of": "2026-11-01T00:00:00"})
    assert list(out.columns) == ["probability", "error", "model_version"]
    assert (out["model_version"] == done.version).all() and out["error"].isna().all()


@pytest.mark.slow
def test_report_logged_and_written(registered):
    done, _, uri, tmp = registered
    # report.dir unset: reports/ beside the config file, named by the model and its version
    assert done.report == tmp / "reports" / f"lead-scoring-v{done.version}-training.html"
    latest = tmp / "reports" / "lead-scoring-latest-training.html"
    assert latest.read_text() == done.report.read_text()
    mlflow.set_tracking_uri(uri)
    logged = mlflow.artifacts.load_text(f"runs:/{done.run_id}/report.html")
    assert logged == done.report.read_text()
    assert f"Model version {done.version}" in logged


@pytest.mark.slow
def test_a_crash_leaves_a_failed_run(sample_config_path, mlflow_uri, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory while fitting")

    monkeypatch.setattr(jobs, "train", broken)
    with pytest.raises(RuntimeError):
        jobs.train_and_register(load_config(sample_config_path), sample_config_path)
    runs = mlflow.search_runs(experiment_names=["lead-scoring"])
    assert list(runs["status"]) == ["FAILED"]
    assert list(runs["tags.mlflow.runName"]) == ["train"]
    assert runs["tags.mlflow.note.content"].iloc[0]
    run = MlflowClient(mlflow_uri).get_run(runs["run_id"].iloc[0])
    assert run.inputs.dataset_inputs  # opened before training: the data was already recorded


@pytest.mark.slow
def test_refused_data_leaves_no_run(sample_config_path, mlflow_uri, monkeypatch):
    def refuse(*args, **kwargs):
        raise DataError("leads.csv: column 'outcome' has no won leads")

    class Checks:
        def log_and_raise(self):
            refuse()

    monkeypatch.setattr(jobs, "check_training_data", lambda *a, **k: Checks())
    with pytest.raises(DataError):
        jobs.train_and_register(load_config(sample_config_path), sample_config_path)
    assert not Path(mlflow_uri.removeprefix("sqlite:///")).exists()  # no store, no run


@pytest.mark.slow
def test_score_writes_the_scoring_report(registered):
    """`leadscore score --report` on the registered model: stages, top SQLs, drift guard."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    done, cfg, _, tmp = registered
    few = tmp / "few.csv"
    pd.read_csv(tmp / "raw" / "open_leads.csv", dtype=str).head(60).to_csv(few, index=False)
    args = ["score", "--config", str(tmp / "config.yaml"), "--leads", str(few)]
    args += ["--as-of", "2026-11-01T00:00:00", "--output", str(tmp / "scored.csv")]
    args += ["--model-uri", f"models:/lead-scoring/{done.version}", "-q"]
    r = CliRunner().invoke(app, [*args, "--report", str(tmp / "scoring.html")])
    assert r.exit_code == 0, r.output
    html = (tmp / "scoring.html").read_text()
    scores = pd.read_csv(tmp / "scored.csv", dtype={"lead_id": str})
    for stage, n in scores["stage"].value_counts().items():
        assert f'<span class="tag {stage}">{stage}</span></td><td>{n:,}</td>' in html
    best = scores[scores["stage"] == "SQL"].nlargest(1, "probability")
    if len(best):
        assert best["lead_id"].iloc[0] in html
    assert "Drift was not checked: only 60 leads were scored" in html


def test_dataset_schema_read_off_a_few_rows_equals_the_full_inference():
    """The shortcut (schema from one filled and one empty cell per column) must give exactly the
    schema MLflow infers from every row, for text, numbers, dates and columns with and without
    gaps; the profile still counts every row."""
    rng = np.random.default_rng(0)
    n = 500
    text = pd.Series(rng.choice(["a", "b", None], n), dtype="str")
    frame = pd.DataFrame(
        {
            "industry": text,
            "country": pd.Series(rng.choice(["DE", "FR"], n), dtype="str"),
            "budget": np.where(rng.random(n) < 0.3, np.nan, rng.random(n)),
            "employees": rng.integers(1, 500, n).astype(float),
            "converted": rng.integers(0, 2, n).astype(float),
            "created_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 99, n), "D"),
        }
    )
    frame.loc[n - 1, "employees"] = np.nan  # the only gap is in the last row
    full = mlflow.data.from_pandas(frame, source="/tmp/x.csv", targets="converted", digest="d")
    ds = leads_dataset(frame, "/tmp/x.csv", "x.csv", "d")
    assert ds.schema == full.schema
    assert ds.profile == {"num_rows": n, "num_elements": n * 6}
    required = {c["name"]: c["required"] for c in ds.schema.to_dict()}
    assert required == {
        "industry": False, "country": True, "budget": False, "employees": False,
        "converted": True, "created_at": True,
    }  # fmt: skip
