"""The decimal convention travels with the model: a column that training read with decimal commas
is read so at scoring, even when the scoring file's values (`1.234`) could be read either way;
a scoring config's `data.decimal` still wins."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.tracking.pyfunc import load_scorer
from tests.byo_helpers import ROOT, example_config
from tests.conftest import run

pytestmark = pytest.mark.slow
TIME = "Total Time Spent on Website"
VIEWS = "Page Views Per Visit"


def _comma(v: str) -> str:
    """'1234' -> '1.234,0' and '3.34' -> '3,34': an export written with decimal commas."""
    if pd.isna(v):
        return v
    whole, _, frac = f"{float(v):,.2f}".partition(".")
    return f"{whole.replace(',', '.')},{frac}"


def test_scoring_reads_an_ambiguous_column_as_training_did(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}")
    raw = pd.read_csv(ROOT / "tests/fixtures/flat/Leads.csv", dtype=str, keep_default_na=False)
    raw = raw.replace("", pd.NA)
    export = raw.assign(**{TIME: raw[TIME].map(_comma), VIEWS: raw[VIEWS].map(_comma)})
    export.to_csv(tmp_path / "leads.csv", sep=";", index=False)
    data = {"leads": str(tmp_path / "leads.csv"), "sep": ";"}
    cfg = example_config("flat-export", tmp_path, data=data)
    r = run("train", "--config", cfg)
    assert r.exit_code == 0, r.output
    # the 700-lead fixture is below the shipped gate's evidence floor: version 1 is read directly
    scorer, _ = load_scorer("models:/lead-scoring/1")
    assert scorer.meta["decimals"][TIME] == "," and scorer.meta["decimals"][VIEWS] == ","

    # scoring leads whose time column holds only '1.234'-style values (either reading fits)
    few = raw.head(40).drop(columns="Converted")
    seconds = [1000 + 37 * i for i in range(len(few))]
    grouped = few.assign(**{TIME: [f"{s // 1000}.{s % 1000:03d}" for s in seconds], VIEWS: "3"})
    plain = grouped.assign(**{TIME: [str(s) for s in seconds]})

    def score(frame: pd.DataFrame, name: str, config=cfg) -> pd.Series:
        frame.to_csv(tmp_path / f"{name}.csv", sep=";", index=False)
        out = tmp_path / f"{name}-scores.csv"
        leads = tmp_path / f"{name}.csv"
        uri = "models:/lead-scoring/1"
        r = run("score", "--config", config, "--leads", leads, "--output", out, "--model-uri", uri)
        assert r.exit_code == 0, r.output
        return pd.read_csv(out, dtype={"lead_id": str}).set_index("lead_id")["probability"]

    as_trained = score(grouped, "grouped")
    assert len(as_trained) == len(few)
    pd.testing.assert_series_equal(as_trained, score(plain, "plain"))  # 1.234 read as 1234
    # the scoring config's data.decimal wins: '.' reads 1.234 seconds, another score
    dot = example_config("flat-export", tmp_path / "dot", data={**data, "decimal": "."})
    as_dot = score(grouped, "grouped-dot", dot)
    assert (as_dot - as_trained).abs().max() > 1e-6
