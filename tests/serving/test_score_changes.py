"""Why a score changed: two scorings of the same leads, into a database or with --previous FILE,
give every lead whose score moved by 5 or more a change_reason in the words of reasons."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import run

MOVED = 5


def _latest(url: str) -> pd.DataFrame:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return pd.read_sql(sa.text("SELECT * FROM lead_scores_latest"), c)
    finally:
        eng.dispose()


def _check_moved_have_reasons(df: pd.DataFrame) -> pd.DataFrame:
    moved = df[df["score_change"].abs() >= MOVED]
    assert len(moved) > 0, "no score moved: the test proves nothing"
    missing = moved[moved["change_reason"].isna()]
    assert missing.empty, missing[["lead_id", "score_change"]].head()
    assert moved["change_reason"].str.match(r"^(\[[+-]\] |new model version )").all()
    return moved


def _edited(leads: Path, out: Path) -> Path:
    """The flat fixture's leads with the visits and website time of every other lead raised."""
    df = pd.read_csv(leads, dtype=str, keep_default_na=False)
    rows = df.index[::2]
    for col in ("TotalVisits", "Total Time Spent on Website"):
        x = pd.to_numeric(df.loc[rows, col], errors="coerce").fillna(0)
        df.loc[rows, col] = (x * 3 + 10).astype(int).astype(str)
    df.to_csv(out, index=False)
    return out


def test_previous_file_gives_moved_leads_a_reason(flat_model, tmp_path):
    folder, cfg, _ = flat_model
    leads = Path("tests/fixtures/flat/Leads.csv").resolve()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    r = run("score", "--config", cfg, "--leads", leads, "--output", first, "-q")
    assert r.exit_code == 0, r.output
    before = pd.read_csv(first)
    assert "score_parts" in before.columns and "change_reason" not in before.columns
    edited = _edited(leads, tmp_path / "edited.csv")
    r = run("score", "--config", cfg, "--leads", edited, "--output", second, "--previous", first)
    assert r.exit_code == 0, r.output
    after = pd.read_csv(second)
    moved = _check_moved_have_reasons(after)
    assert moved["change_reason"].str.contains("now ").any()
    same = after.iloc[1::2]  # rows not edited: same data, same model, same as-of
    assert (same["score_change"] == 0).all() and same["change_reason"].isna().all()


def test_same_file_as_previous_and_output(flat_model, tmp_path):
    """--previous may name the output it replaces: it is read before anything is written."""
    _, cfg, _ = flat_model
    leads = Path("tests/fixtures/flat/Leads.csv").resolve()
    out = tmp_path / "scores.csv"
    assert run("score", "--config", cfg, "--leads", leads, "--output", out, "-q").exit_code == 0
    r = run("score", "--config", cfg, "--leads", leads, "--output", out, "--previous", out, "-q")
    assert r.exit_code == 0, r.output
    assert (pd.read_csv(out)["score_change"] == 0).all()


def test_previous_that_is_not_a_scores_file_is_one_line(flat_model, tmp_path):
    _, cfg, _ = flat_model
    leads = Path("tests/fixtures/flat/Leads.csv").resolve()
    r = run("score", "--config", cfg, "--leads", leads, "--output", tmp_path / "s.csv",
            "--previous", leads)  # fmt: skip
    assert r.exit_code == 2
    assert "not a scores file" in r.output and "Traceback" not in r.output


@pytest.mark.slow
def test_two_database_runs_give_moved_leads_a_reason(registered, tmp_path):
    """Scored on day 0 and again 12 days later with the same files: every lead whose score moved
    by 5 or more says why, in reason words (new events since, days gone by without any)."""
    folder, cfg = registered
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    leads = folder / "raw" / "leads.csv"
    common = ["--config", cfg, "--leads", leads, "--output", url, "-q"]
    r = run("score", *common, "--as-of", "2026-10-01", "--run-id", "one")
    assert r.exit_code == 0, r.output
    r = run("score", *common, "--as-of", "2026-10-13", "--run-id", "two")
    assert r.exit_code == 0, r.output
    latest = _latest(url)
    moved = _check_moved_have_reasons(latest)
    words = moved["change_reason"].str.cat(sep=" | ")
    assert "more days without" in words or "since last scored" in words, words[:500]
    eng = sa.create_engine(url)
    with eng.connect() as c:
        stored = pd.read_sql(sa.text("SELECT * FROM lead_scores WHERE run_id = 'two'"), c)
    eng.dispose()
    assert stored["change_reason"].notna().sum() == latest["change_reason"].notna().sum()


@pytest.mark.slow
def test_training_run_logs_insights(registered):
    """The champion's training run carries evaluation/insights.csv, a row per frequent value."""
    from pipeline.tracking.runs import artifact_path, latest_training_run

    run = latest_training_run()
    t = pd.read_csv(artifact_path(run["run_id"], "evaluation/insights.csv"))
    assert {"column", "value", "leads", "wins", "lift", "ci_low", "ci_high"} <= set(t.columns)
    assert "industry" in set(t["column"]) and (t["leads"] >= 30).all()


def test_database_history_gives_moved_leads_a_reason(flat_model, tmp_path):
    """Two runs into sqlite, the second on edited leads: the view and the table carry the
    change and its reason; the first run's rows have none."""
    _, cfg, _ = flat_model
    leads = Path("tests/fixtures/flat/Leads.csv").resolve()
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    r = run("score", "--config", cfg, "--leads", leads, "--output", url, "--run-id", "a", "-q")
    assert r.exit_code == 0, r.output
    edited = _edited(leads, tmp_path / "edited.csv")
    r = run("score", "--config", cfg, "--leads", edited, "--output", url, "--run-id", "b", "-q")
    assert r.exit_code == 0, r.output
    latest = _latest(url)
    _check_moved_have_reasons(latest)
    eng = sa.create_engine(url)
    with eng.connect() as c:
        first = pd.read_sql(sa.text("SELECT * FROM lead_scores WHERE run_id = 'a'"), c)
    eng.dispose()
    assert first["score_change"].isna().all() and first["change_reason"].isna().all()
