"""The shape matrix: every export shape `generate --shape` writes, through init -> validate ->
train -> score as a new user would run them (the CLI), with the checks each shape must pass.

One module-scoped run per shape (`shape_run`); each check is its own test over every shape, so a
check is added by writing one more `test_...(shape_run)` function.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import run

pytestmark = pytest.mark.slow

LEADS = 3_000
AS_OF = "2026-11-02"
# shape: (extra init options by file name, split kind the run must name)
SHAPES = {
    "event-log": ({"--activities": "activities.csv"}, "time"),
    "flat": ({}, "time"),
    "flat-nodates": ({}, "stratified_random"),
    "semicolon": ({}, "stratified_random"),
    "two-table": ({"--outcomes": "deals.csv"}, "time"),
    "campaign-traits": ({}, "stratified_random"),
    "two-table-recent": ({"--outcomes": "deals.csv"}, "time"),
    "ordered-nodates": ({}, "position"),
}
# what a user does after reading init's draft: uncomment a key init drafted commented
UNCOMMENT = {"ordered-nodates": "rows_in_time_order: true"}
# the recent tail leaves ~19 won test leads of 3,000: the store waives the evidence threshold
GATE_WAIVERS = {"two-table-recent": ["--min-won", "10"]}


@dataclass
class ShapeRun:
    shape: str
    folder: Path
    config: Path
    expected_split: str
    validate_output: str
    train_output: str
    tags: dict
    metrics: dict
    backtest: pd.DataFrame
    skipped: pd.DataFrame
    scores: pd.DataFrame
    report: str  # the training report's HTML, as `train` wrote it (report.dir or reports/)

    @property
    def cfg(self) -> dict:
        return yaml.safe_load(self.config.read_text(encoding="utf-8"))

    def report_text(self) -> str:
        """The page's words: tags and embedded images out, image descriptions (alt) kept."""
        t = re.sub(r"<(style|script)\b.*?</\1>", " ", self.report, flags=re.S)
        t = re.sub(r'<img\b[^>]*alt="([^"]*)"[^>]*>', r" [image: \1] ", t)
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", t)))


@pytest.fixture(scope="module", params=list(SHAPES))
def shape_run(request, tmp_path_factory) -> ShapeRun:
    """One shape generated, drafted, validated, trained and scored through the CLI."""
    import mlflow

    shape = request.param
    extra, split = SHAPES[shape]
    d = tmp_path_factory.mktemp(shape)
    uri = f"sqlite:///{d / 'models' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(d)
        r = run("generate", "-n", LEADS, "--seed", 7, "--shape", shape, "--out", d / "raw")
        assert r.exit_code == 0, r.output
        opts = [x for k, f in extra.items() for x in (k, d / "raw" / f)]
        cfg = d / "config.yaml"
        r = run("init", "--leads", d / "raw" / "leads.csv", *opts, "--out", cfg)
        assert r.exit_code == 0, r.output
        if shape in UNCOMMENT:
            text = cfg.read_text(encoding="utf-8")
            assert f"  # {UNCOMMENT[shape]}\n" in text, text
            cfg.write_text(text.replace(f"  # {UNCOMMENT[shape]}", f"  {UNCOMMENT[shape]}"))
        v = run("validate", "--config", cfg)
        assert v.exit_code == 0, v.output
        # on these few leads LightGBM lands within noise of the logistic baseline on some shapes
        # (up to ~0.03 AUC below it, p > 0.1), past the shipped 0.01 tolerance; these tests follow
        # a shape to its scores, so each store tolerates 0.05 below a baseline, the rest shipped
        waive = GATE_WAIVERS.get(shape, [])
        assert run("gate", "set", "--max-baseline-drop", "0.05", *waive).exit_code == 0
        t = run("train", "--config", cfg)
        assert t.exit_code == 0, t.output
        out = d / "scores.csv"
        r = run("score", "--config", cfg, "--output", out, "--as-of", AS_OF)
        assert r.exit_code == 0, r.output
        mlflow.set_tracking_uri(uri)
        exp = mlflow.get_experiment_by_name("lead-scoring")
        last = mlflow.search_runs([exp.experiment_id], order_by=["start_time DESC"]).iloc[0]
        tags = {k.removeprefix("tags."): v for k, v in last.items() if k.startswith("tags.")}
        metrics = {
            k.removeprefix("metrics."): v for k, v in last.items() if k.startswith("metrics.")
        }
        backtest = _table(mlflow, last["run_id"], "evaluation/backtest.json", d)
        skipped = _table(mlflow, last["run_id"], "evaluation/backtest_skipped.json", d)
    scores = pd.read_csv(out, keep_default_na=False, na_values=[""])
    pages = sorted((d / "reports").glob("lead-scoring-v*-training.html"))
    assert [p.name for p in pages] == ["lead-scoring-v1-training.html"], pages
    report = pages[0].read_text(encoding="utf-8")
    return ShapeRun(
        shape, d, cfg, split, v.output, t.output, tags, metrics, backtest, skipped, scores, report
    )


def _table(mlflow, run_id: str, path: str, d: Path) -> pd.DataFrame:
    """A logged table artifact; an empty frame when the run logged none under that path."""
    names = {
        a.path for a in mlflow.artifacts.list_artifacts(run_id=run_id, artifact_path="evaluation")
    }
    if path not in names:
        return pd.DataFrame()
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(d))
    table = json.loads(Path(local).read_text())
    return pd.DataFrame(table["data"], columns=table["columns"])


def test_split_kind_is_named(shape_run: ShapeRun) -> None:
    assert shape_run.tags.get("split") == shape_run.expected_split


def test_sub_scores_vary_or_are_empty(shape_run: ShapeRun) -> None:
    for col in ("fit_score", "engagement_score"):
        s = shape_run.scores[col]
        assert s.isna().all() or s.nunique() > 1, f"{col} is a constant on {shape_run.shape}"


def test_scores_are_percentiles_ordered_like_probabilities(shape_run: ShapeRun) -> None:
    """Every row's score is a whole number in 0-100 and never below that of a lead with a lower
    probability; the sub-scores, where present, are whole numbers in 0-100, and fit_score is
    present on every row (each shape has firmographic columns). A percentile that returned NaN,
    or scores out of order with the probabilities, would fail here."""
    s = shape_run.scores
    p, score = s["probability"].to_numpy(float), s["score"].to_numpy(float)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all(), shape_run.shape
    assert np.isfinite(score).all(), f"empty or NaN score on {shape_run.shape}"
    assert ((score >= 0) & (score <= 100) & (score == np.round(score))).all()
    assert score.min() < score.max(), f"score is a constant on {shape_run.shape}"
    # rounded probabilities keep their order; equal ones may hold either score
    ranked = s.sort_values(["probability", "score"])["score"].to_numpy(float)
    assert (np.diff(ranked) >= 0).all(), f"score out of order with probability on {shape_run.shape}"
    for col in ("fit_score", "engagement_score"):
        v = s[col].to_numpy(float)
        v = v[~np.isnan(v)]
        assert ((v >= 0) & (v <= 100) & (v == np.round(v))).all(), (col, shape_run.shape)
    assert s["fit_score"].notna().all(), f"fit_score empty on {shape_run.shape}"


def test_backtests_promise_what_happens(shape_run: ShapeRun) -> None:
    """Pooled over the periods, the leads the backtests promised to win (sum of probabilities)
    and those that won agree within noise (binomial z < 4): a period trained on under-counted
    wins (two tables with won-only close dates) promised 0.8-9% against an actual 13-14%."""
    bt = shape_run.backtest
    assert len(bt) >= 1, f"no backtest period on {shape_run.shape}"
    n = bt["test_leads"].to_numpy(float)
    p = bt["mean_probability"].to_numpy(float)
    promised, won = float((n * p).sum()), float(bt["won"].sum())
    sd = float(np.sqrt((n * p * (1 - p)).sum()))
    assert abs(won - promised) < 4 * sd + 3, (shape_run.shape, won, promised, sd)
    for _, row in bt.iterrows():  # and no single period far off
        ratio = row["mean_probability"] / max(row["observed_rate"], 1e-9)
        assert 0.4 < ratio < 2.5, (shape_run.shape, row.to_dict())


# what a page on each split kind must say, and must not
SPLIT_WORDS = {
    "time": (["recent leads it never saw", "Month Leads Wins"], ["held out at random", "Fold "]),
    "position": (
        ["labelled rows of the file, which it never saw", "Rows Leads Wins"],
        ["held out at random", "Fold ", "Month Leads Wins", "recent leads"],
    ),
    "stratified_random": (
        ["leads held out at random", "Fold Leads Wins"],
        ["recent leads", "Month Leads Wins", "as if it were each earlier month"],
    ),
}


def test_report_names_the_split_kind(shape_run: ShapeRun) -> None:
    """ "Measured on N recent leads it never saw" only on an out-of-time split; a random one says
    so, and its backtests are folds, not months."""
    text = shape_run.report_text()
    must, must_not = SPLIT_WORDS[shape_run.expected_split]
    for words in must:
        assert words in text, (shape_run.shape, words)
    for words in must_not:
        assert words not in text, (shape_run.shape, words)


def test_report_has_no_points_rule_without_points_rules(shape_run: ShapeRun) -> None:
    """No points-rule column, sentence or curve (the charts' descriptions name what they draw)
    when the config has no points rules: only the note that there are none."""
    assert not shape_run.cfg.get("baseline_points")
    text = shape_run.report_text().lower()
    assert "no points rules configured" in text
    rest = text.replace("no points rules configured", "")
    assert "points rule" not in rest, re.findall(r".{80}points rule.{80}", rest)
    assert "[image: share of wins caught against share of leads called, with" in text


RAW_NAME = {
    "snake_case": re.compile(r"\b[A-Za-z]+_[A-Za-z0-9_]+\b"),
    "dotted": re.compile(r"\b[A-Za-z]+\.[A-Za-z][A-Za-z0-9]*\b"),
    "hash": re.compile(r"\b[0-9a-fA-F]{16,}\b"),
    "camelCase": re.compile(r"\b[a-z]+[A-Z][a-z]+\w*|\b[A-Z][a-z]+[A-Z][a-z]+\w*"),
}


def test_reasons_show_no_raw_codes_when_labels_were_drafted(shape_run: ShapeRun) -> None:
    """`[-] nr.employed: 5,099`, `landing page id: 58326e62...`, `origin: paid_search`: none of
    these once init drafted schema.labels."""
    labels = (shape_run.cfg.get("schema") or {}).get("labels")
    if not labels:
        pytest.skip(f"no schema.labels drafted on {shape_run.shape}")
    cols = [c for c in shape_run.scores if c.startswith("reason_")]
    reasons = pd.unique(shape_run.scores[cols].stack().dropna().astype(str))
    assert len(reasons) > 10, shape_run.shape
    bad = {k: [r for r in reasons if rx.search(r)][:5] for k, rx in RAW_NAME.items()}
    assert not any(bad.values()), (shape_run.shape, bad)


def test_every_lead_is_accounted_for(shape_run: ShapeRun) -> None:
    """Labelled, open and left out as too recent add up to the leads read, and the same count
    (with its rule and days) is in validate, the train printout, the report's first lines and
    the run's metric; two tables with won-only dates and a slow recent tail leave some out."""
    m, text = shape_run.metrics, shape_run.report_text()
    left = int(m["leads_left_out_recent"])
    if shape_run.shape == "two-table-recent":
        assert left > 0
    head = text[: text.find("In short")]
    found = re.search(r"([\d,]+) leads: ([\d,]+) labelled .*?, ([\d,]+) still open", head)
    assert found, head
    leads, labelled, open_ = (int(g.replace(",", "")) for g in found.groups())
    assert labelled + open_ == leads, head
    if not left:
        assert "every labelled lead was trained on or tested" in head
        return
    said = f"{left:,} of the labelled leads"
    rule = re.compile(r"counts as known \d+ days after creation")
    assert said in head and rule.search(head), head
    assert said in shape_run.train_output and rule.search(shape_run.train_output)
    assert f"{left:,} labelled leads will be left out as too recent" in shape_run.validate_output


def test_backtests_are_present_and_skips_are_said(shape_run: ShapeRun) -> None:
    """Backtests run wherever the data allows (two tables with won-only dates and slow deals
    included, on outcomes as known at the export, said with why); each skipped period is logged
    with its reason and counts, counted in a metric and shown in the report, and the report
    never gives "backtest_months is 0" when it is not."""
    sk, text = shape_run.skipped, shape_run.report_text()
    assert len(shape_run.backtest) >= 1, shape_run.shape
    assert int(shape_run.metrics["backtest_periods_skipped"]) == len(sk)
    assert "backtest_months is 0" not in text
    if len(sk):
        assert {"period", "reason", "test_leads", "train_won", "train_lost"} <= set(sk.columns)
        assert f"Periods skipped ({len(sk)})" in text
        assert f"period(s) tested, {len(sk)} skipped" in shape_run.train_output
        for _, row in sk.iterrows():
            assert f"{row['period']} {row['reason']}" in text, row.to_dict()
    if shape_run.shape == "two-table-recent":
        # outcomes known at the time (long after creation) test fewer months than asked
        # for: `auto` fits on outcomes as known at the export, for the whole run, and says why
        assert (shape_run.backtest["outcomes"] == "at_export").all()
        why = "because with outcomes as known at the time only "
        assert "Each month fit on outcomes as known at the export, as the test split" in text
        assert why in text and why in shape_run.train_output
        assert "train on what was known then" not in text  # the glossary says the rule used
    if shape_run.expected_split == "position":
        assert shape_run.backtest["period"].str.startswith("rows ").all()


def test_run_description_names_the_split(shape_run: ShapeRun) -> None:
    """The run's description says which split it used; a random split is never 'out-of-time'."""
    note = shape_run.tags["mlflow.note.content"]
    if shape_run.expected_split == "stratified_random":
        assert "out-of-time" not in note and "stratified-random" in note, note
    elif shape_run.expected_split == "position":
        assert "out-of-time by position" in note and "newest" in note, note
    else:
        assert "Test split: out-of-time: test = leads created from" in note, note
    assert shape_run.tags["target"] == "ever won"
