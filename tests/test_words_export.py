"""What a person reads, on a generated export with the traits of real ones (period columns, 476
hex page ids, an origin missing more often for won leads; `pipeline.synthetic.traits`), through
init -> train -> score -> explain as a new user runs them, with segments configured that no
segment model beats: the rules hold off the sample's shape."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pandas as pd
import pytest
import yaml

from pipeline.synthetic.traits import INDICATORS
from pipeline.words import is_hash_like
from tests.conftest import run

pytestmark = pytest.mark.slow

RAW_NAMES = ("nr.employed", "euribor3m", "emp.var.rate", "pdays", "poutcome", "landing_page_id")


@dataclass
class Done:
    cfg: dict
    train_output: str
    scores: pd.DataFrame
    explain_output: str
    report: str


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Done:
    d = tmp_path_factory.mktemp("traits")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{d / 'models' / 'mlflow.db'}")
        mp.chdir(d)
        args = ("-n", 3_000, "--seed", 7, "--shape", "campaign-traits", "--out", d / "raw")
        assert run("generate", *args).exit_code == 0
        leads = d / "raw" / "leads.csv"
        cfg = d / "config.yaml"
        assert run("init", "--leads", leads, "--out", cfg).exit_code == 0
        drafted = yaml.safe_load(cfg.read_text(encoding="utf-8"))
        # segments no model can win with: every lead is the pooled model's
        drafted["segments"] = {"column": "industry", "min_won": 100_000}
        cfg.write_text(yaml.safe_dump(drafted, allow_unicode=True), encoding="utf-8")
        assert run("gate", "set", "--max-baseline-drop", "0.05").exit_code == 0
        t = run("train", "--config", cfg)
        assert t.exit_code == 0, t.output
        out = d / "scores.csv"
        s = run("score", "--config", cfg, "--output", out, "--as-of", "2026-11-02")
        assert s.exit_code == 0, s.output
        scores = pd.read_csv(out, keep_default_na=False, na_values=[""])
        e = run("explain", *scores["lead_id"].head(3), "--config", cfg, "--as-of", "2026-11-02")
        assert e.exit_code == 0, e.output
    page = next((d / "reports").glob("lead-scoring-v*-training.html")).read_text(encoding="utf-8")
    return Done(drafted, t.output, scores, e.output, page)


def _text(page: str) -> str:
    t = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    t = re.sub(r"<img\b[^>]*>", " ", t)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", t)))


def _reasons(scores: pd.DataFrame) -> pd.DataFrame:
    return scores[[c for c in scores if c.startswith("reason_")]]


def test_init_drafts_the_period_columns_and_labels_every_page_id(done: Done) -> None:
    sc = done.cfg["schema"]
    assert sorted(sc["context"]) == sorted(INDICATORS)
    pages = sc["labels"]["landing_page_id"]["values"]
    assert len(pages) == 476 and all(v.startswith("landing page #") for v in pages.values())


def test_no_reason_shows_an_id_an_absence_or_an_indicator(done: Done) -> None:
    r = _reasons(done.scores)
    cells = pd.unique(r.stack().dropna().astype(str))
    assert len(cells) > 20
    assert not [c for c in cells if any(is_hash_like(w) for w in re.split(r"[\s:()]+", c))]
    assert not [c for c in cells if c.startswith("[+]") and "not given" in c]
    assert not [c for c in cells if any(n in c for n in (*RAW_NAMES, "Euribor", "employ"))]
    market = r.apply(lambda row: sum("market conditions" in str(x) for x in row), axis=1)
    assert market.max() == 1 and (market == 1).mean() > 0.05  # the model uses them, said once
    full = r.notna().sum(axis=1)
    assert (full == r.shape[1]).mean() > 0.95  # a left-out absence gives its slot to the next


def test_model_segment_reads_pooled_and_the_printouts_say_so(done: Done) -> None:
    assert (done.scores["model_segment"] == "pooled").all()
    assert "segments (industry): none beat the pooled model" in done.train_output
    assert done.explain_output.count("scored by the pooled model") == 3


def test_report_tables_show_no_raw_column_names(done: Done) -> None:
    text = _text(done.report)
    tables = text.split("What moves a lead's chances", 1)[1].split("Is this version serving?")[0]
    assert not [n for n in RAW_NAMES if n in tables], tables[:2000]
    assert "Market conditions at the time" in tables
    assert "– of them" not in text
