"""`leadscore monitor` per grade: leads, won, realised and expected conversion (the mean calibrated
probability) of each grade, logged as `grade_<G>_*` metrics; one warning when a grade converts
significantly below the grade under it (one-sided Fisher's exact test, Bonferroni over the
adjacent pairs); scores written before grades existed are still monitored, per stage only."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import fisher_exact

from pipeline.config import Config
from pipeline.monitoring.monitor import GRADE_ALPHA, grade_order_warnings, monitor
from tests.conftest import run

# leads per grade and their true conversion: in order, or A and B swapped
IN_ORDER = {"A": (150, 0.45), "B": (300, 0.20), "C": (400, 0.08), "D": (600, 0.02)}
SWAPPED = {"A": (300, 0.06), "B": (300, 0.20), "C": (400, 0.08), "D": (600, 0.02)}


def _export(tmp_path: Path, grades: dict[str, tuple[int, float]], seed: int = 0) -> Config:
    """Scores with grades and the leads' outcomes (a fifth still open), and the config that reads
    them; the probability of each lead sits in its grade's band."""
    rng = np.random.default_rng(seed)
    band = {"A": (0.4, 0.6), "B": (0.2, 0.4), "C": (0.08, 0.2), "D": (0.0, 0.08)}
    parts = []
    for g, (n, rate) in grades.items():
        won = rng.random(n) < rate
        outcome = np.where(won, "won", "lost").astype(object)
        outcome[rng.random(n) < 0.2] = None  # still open: no outcome yet
        p = rng.uniform(*band[g], n)
        parts.append(pd.DataFrame({"grade": g, "probability": p, "outcome": outcome}))
    frame = pd.concat(parts, ignore_index=True)
    frame["lead_id"] = [f"L{i}" for i in range(len(frame))]
    frame["stage"] = np.where(
        frame["grade"] == "A", "SQL", np.where(frame["grade"] == "B", "MQL", "lead")
    )
    frame[["lead_id", "outcome"]].to_csv(tmp_path / "leads.csv", index=False)
    frame.drop(columns="outcome").to_csv(tmp_path / "scores.csv", index=False)
    frame.to_pickle(tmp_path / "truth.pkl")
    return Config.model_validate(
        {"data": {"leads": str(tmp_path / "leads.csv")}, "schema": {"categorical": []}}
    )


def _truth(tmp_path: Path) -> pd.DataFrame:
    return pd.read_pickle(tmp_path / "truth.pkl")


def test_conversion_per_grade_is_counted_from_the_outcomes(tmp_path):
    cfg = _export(tmp_path, IN_ORDER)
    scores = pd.read_csv(tmp_path / "scores.csv")
    done = monitor(cfg, tmp_path / "leads.csv", scores, "scores.csv")
    assert done.warnings == []
    table = done.grades.set_index("grade")
    assert table.index.tolist() == ["A", "B", "C", "D"]
    truth = _truth(tmp_path)
    for g, part in truth.groupby("grade"):
        known = part[part["outcome"].notna()]
        assert table.loc[g, "scored"] == len(part)
        assert table.loc[g, "with_outcome"] == len(known)
        assert table.loc[g, "won"] == (known["outcome"] == "won").sum()
        assert table.loc[g, "realised_conversion"] == pytest.approx(
            (known["outcome"] == "won").mean()
        )
        assert table.loc[g, "expected_conversion"] == pytest.approx(known["probability"].mean())
    assert done.stages["scored"].sum() == len(truth)  # the stage table stays as it was


def test_a_grade_converting_below_the_next_is_one_warning(tmp_path):
    cfg = _export(tmp_path, SWAPPED)
    done = monitor(cfg, tmp_path / "leads.csv", pd.read_csv(tmp_path / "scores.csv"), "s.csv")
    assert len(done.warnings) == 1
    line = done.warnings[0]
    assert line.startswith("warning: grades out of order: A converted")
    assert "below B" in line and "Fisher" in line
    assert "below C" not in line and "C converted" not in line  # B-C and C-D stay in order


def _table(won: list[int], known: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grade": ["A", "B", "C", "D"][: len(won)],
            "with_outcome": known,
            "won": won,
            "realised_conversion": np.array(won) / np.maximum(known, 1),
        }
    )


def test_too_few_leads_to_say_so_is_no_warning():
    """A converts 0 of 6 and B 3 of 8: below, but six leads cannot show it (the test's p-value,
    checked here, is far above the line), so nothing is said."""
    table = _table([0, 3, 1], [6, 8, 40])
    p = fisher_exact([[0, 6], [3, 5]], alternative="less").pvalue
    assert p > GRADE_ALPHA / 2
    assert grade_order_warnings(table) == []
    # the same rates on 30 times the leads are evidence
    assert len(grade_order_warnings(_table([0, 90, 30], [180, 240, 1200]))) == 1


def test_a_grade_without_outcomes_is_skipped_not_compared_as_zero():
    table = _table([30, 0, 10, 5], [100, 0, 100, 200])
    assert grade_order_warnings(table) == []  # B has no outcome: A is compared with C


def test_scores_without_grades_are_monitored_per_stage(tmp_path, caplog):
    cfg = _export(tmp_path, IN_ORDER)
    scores = pd.read_csv(tmp_path / "scores.csv").drop(columns="grade")
    with caplog.at_level(logging.INFO, logger="pipeline.monitoring.monitor"):
        done = monitor(cfg, tmp_path / "leads.csv", scores, "old.csv")
    assert done.grades is None and done.warnings == []
    assert done.stages["scored"].sum() == len(scores)
    said = [r.getMessage() for r in caplog.records if "per grade" in r.getMessage()]
    assert len(said) == 1 and "left out" in said[0]
    empty = scores.assign(grade=np.nan)  # a model without floors writes the column empty
    assert monitor(cfg, tmp_path / "leads.csv", empty, "old.csv").grades is None


def _cli_monitor(tmp_path: Path, cfg: Config, scores: Path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return run(
        "monitor", "--config", path, "--outcomes", tmp_path / "leads.csv", "--scores", scores
    )


def test_monitor_command_prints_and_logs_grades(tmp_path, mlflow_uri):
    cfg = _export(tmp_path, SWAPPED)
    r = _cli_monitor(tmp_path, cfg, tmp_path / "scores.csv")
    assert r.exit_code == 0, r.output
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("warning: grades out of order")]
    lines = r.stdout.splitlines()
    at = lines.index(next(ln for ln in lines if ln.startswith("grade ")))
    assert [ln.split()[0] for ln in lines[at + 1 :]] == ["A", "B", "C", "D"]
    logged = mlflow.search_runs(experiment_names=["lead-scoring-scoring"]).iloc[0]
    table = _truth(tmp_path).dropna(subset=["outcome"])
    for g, part in table.groupby("grade"):
        rate = (part["outcome"] == "won").mean()
        assert logged[f"metrics.grade_{g}_conversion"] == pytest.approx(rate)
        assert logged[f"metrics.grade_{g}_expected"] == pytest.approx(part["probability"].mean())
        assert logged[f"metrics.grade_{g}_won"] == (part["outcome"] == "won").sum()
    assert logged["metrics.grades_out_of_order"] == 1.0


def test_monitor_command_on_scores_before_grades(tmp_path, mlflow_uri):
    cfg = _export(tmp_path, IN_ORDER)
    old = tmp_path / "old_scores.csv"
    pd.read_csv(tmp_path / "scores.csv").drop(columns="grade").to_csv(old, index=False)
    r = _cli_monitor(tmp_path, cfg, old)
    assert r.exit_code == 0, r.output
    assert not [ln for ln in r.stdout.splitlines() if ln.startswith("grade")]
    assert len([ln for ln in r.stderr.splitlines() if "per grade left out" in ln]) == 1
    logged = mlflow.search_runs(experiment_names=["lead-scoring-scoring"]).iloc[0]
    assert not [c for c in logged.index if c.startswith("metrics.grade")]
    assert "metrics.realised_SQL" in logged.index
