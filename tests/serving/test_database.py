"""Scores into a database: history, the latest view with score_change, idempotent run ids, monitor
from the same URL, and a kill -9 in the middle of a write leaving the tables as they were.

PostgreSQL is a real server started by the `postgres_url` fixture (tests/serving/conftest.py);
SQLite is a file. The kill tests hold a lock the writer needs, so the writer is provably inside
its open transaction (rows written, not committed) when it is killed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.serving import database
from tests.serving.conftest import printed_table

runner = CliRunner()
TIMEOUT = 300  # seconds a subprocess may take to reach the write on a busy machine


def fresh_database(server_url: str, name: str) -> str:
    """A new empty database on the test server: one per test, so tests do not see each other."""
    eng = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    eng.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def query(url: str, sql: str) -> pd.DataFrame:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return pd.read_sql(sa.text(sql), c)
    finally:
        eng.dispose()


def score_args(cfg: Path, leads: Path, output: str, as_of: str, run_id: str) -> list[str]:
    return [
        "score", "--config", str(cfg), "--leads", str(leads), "--activities", "raw/activities.csv",
        "--output", output, "--as-of", as_of, "--run-id", run_id, "-q",
    ]  # fmt: skip


@pytest.mark.slow
def test_postgres_history_latest_view_and_score_change(registered, postgres_url):
    """Two runs over overlapping leads: the history holds both, the view the latest per lead with
    score_change against the lead's previous run; re-running a run id adds nothing."""
    tmp, cfg = registered
    url = fresh_database(postgres_url, "history")
    leads = pd.read_csv(tmp / "raw" / "leads.csv", dtype=str)
    created = pd.to_datetime(leads["created_at"])
    leads = leads[created.between("2026-06-15", "2026-08-25")].head(300)  # still young at as-of
    assert len(leads) == 300
    first, second = leads.iloc[:200], leads.iloc[100:]
    first.to_csv(tmp / "first.csv", index=False)
    second.to_csv(tmp / "second.csv", index=False)
    runs = [("first.csv", "2026-09-01", "run-1"), ("second.csv", "2026-11-01", "run-2")]
    expected = {}
    for name, as_of, run_id in runs:
        r = runner.invoke(app, score_args(cfg, tmp / name, url, as_of, run_id))
        assert r.exit_code == 0, r.output
        assert "lead_scores" in r.output and run_id in r.output
        csv = f"{run_id}.csv"  # the same run as a file: what the table must hold
        r = runner.invoke(app, score_args(cfg, tmp / name, csv, as_of, run_id))
        assert r.exit_code == 0, r.output
        expected[run_id] = pd.read_csv(csv, dtype={"lead_id": str}).set_index("lead_id")

    history = query(url, "SELECT * FROM lead_scores")
    assert len(history) == 400
    assert history.groupby("run_id").size().to_dict() == {"run-1": 200, "run-2": 200}
    for run_id, want in expected.items():
        got = history[history["run_id"] == run_id].set_index("lead_id").loc[want.index]
        for col in ["score", "stage", "reason_1", "reason_3", "model_version", "fit_score"]:
            assert (got[col].astype(str) == want[col].astype(str)).all(), col
        assert (got["probability"] - want["probability"]).abs().max() < 1e-9

    latest = query(url, "SELECT * FROM lead_scores_latest").set_index("lead_id")
    assert sorted(latest.index) == sorted(leads["lead_id"])
    only_first = first["lead_id"].iloc[:100]
    both, only_second = second["lead_id"].iloc[:100], second["lead_id"].iloc[100:]
    assert (latest.loc[only_first, "run_id"] == "run-1").all()
    assert (latest.loc[second["lead_id"], "run_id"] == "run-2").all()
    assert latest.loc[only_first, "score_change"].isna().all()
    assert latest.loc[only_second, "score_change"].isna().all()
    change = expected["run-2"].loc[both, "score"] - expected["run-1"].loc[both, "score"]
    assert (latest.loc[both, "score_change"] == change).all()
    assert (change != 0).sum() > 10  # two months older, the scores really moved

    r = runner.invoke(app, score_args(cfg, tmp / "second.csv", url, "2026-11-01", "run-2"))
    assert r.exit_code == 0, r.output
    assert len(query(url, "SELECT run_id FROM lead_scores")) == 400  # replaced, not added
    assert query(url, "SELECT run_id FROM lead_score_runs ORDER BY run_seq")["run_id"].tolist() == [
        "run-1",
        "run-2",
    ]
    again = query(url, "SELECT * FROM lead_scores_latest").set_index("lead_id")
    pd.testing.assert_series_equal(
        again["score_change"].loc[both], latest["score_change"].loc[both]
    )

    assert_monitor_reads_the_latest_view(tmp, cfg, url, leads)


def assert_monitor_reads_the_latest_view(tmp: Path, cfg: Path, url: str, leads: pd.DataFrame):
    """`leadscore monitor --scores URL`: every scored lead once, its outcome joined, per stage
    and per grade (the view's `grade` column)."""
    leads[["lead_id", "outcome"]].to_csv(tmp / "outcomes.csv", index=False)
    args = ["monitor", "--config", str(cfg), "--outcomes", "outcomes.csv", "--scores", url]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    labelled = leads["outcome"].isin(["won", "lost"]).sum()
    for key in ("stage", "grade"):
        rows = printed_table(r.stdout, key)
        assert sum(int(v[1].replace(",", "")) for v in rows.values()) == len(leads), key
        assert sum(int(v[2].replace(",", "")) for v in rows.values()) == labelled, key


@pytest.mark.slow
def test_database_errors_are_one_line(registered, tmp_path):
    tmp, cfg = registered
    leads = tmp / "raw" / "open_leads.csv"
    bad = "postgresql://nobody@127.0.0.1:1/nowhere"
    r = runner.invoke(app, score_args(cfg, leads, bad, "2026-11-01", "x"))
    assert r.exit_code == 2 and "127.0.0.1:1/nowhere" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    args = ["monitor", "--config", str(cfg), "--outcomes", "raw/leads.csv", "--scores", empty]
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "lead_scores_latest" in r.output, r.output


def start_scorer(tmp: Path, cfg: Path, url: str, log: Path) -> subprocess.Popen:
    """`leadscore score` into `url` in its own process, on every lead of the sample."""
    args = score_args(cfg, tmp / "raw" / "leads.csv", url, "2026-11-01", "killed")
    with open(log, "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args], cwd=tmp, stdout=err, stderr=err
        )


def wait_for(check, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the scorer never reached its write"
        time.sleep(0.05)


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL


@pytest.mark.slow
def test_kill_9_mid_write_leaves_postgres_tables_as_they_were(registered, postgres_url, tmp_path):
    import psycopg

    tmp, cfg = registered
    url = fresh_database(postgres_url, "killed")
    r = runner.invoke(app, score_args(cfg, tmp / "raw/open_leads.csv", url, "2026-11-01", "ok"))
    assert r.exit_code == 0, r.output
    before = query(url, "SELECT * FROM lead_scores ORDER BY lead_id")
    assert len(before) > 0
    writer = (
        "SELECT a.pid, a.wait_event_type, l.mode FROM pg_stat_activity a JOIN pg_locks l "
        "ON l.pid = a.pid AND l.relation = 'lead_scores'::regclass AND l.granted "
        "WHERE a.application_name = 'leadscore'"
    )
    dsn = sa.make_url(url).render_as_string(hide_password=False).replace("+psycopg", "")
    # the writer stops at lead_score_runs, its rows written: EXCLUSIVE blocks its insert there
    # but not its earlier read of the previous scores (ACCESS SHARE), as ACCESS EXCLUSIVE would
    with psycopg.connect(dsn) as lock:
        lock.execute("LOCK TABLE lead_score_runs IN EXCLUSIVE MODE")
        proc = start_scorer(tmp, cfg, url, tmp_path / "scorer.log")
        try:

            def blocked() -> bool:
                w = query(url, writer)
                return bool(len(w)) and (w["wait_event_type"] == "Lock").any()

            wait_for(blocked, proc, tmp_path / "scorer.log")
            assert "RowExclusiveLock" in set(query(url, writer)["mode"])  # it has inserted rows
            kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        lock.rollback()
    deadline = time.monotonic() + 60
    while len(query(url, "SELECT pid FROM pg_stat_activity WHERE application_name = 'leadscore'")):
        assert time.monotonic() < deadline, "the killed writer's session never ended"
        time.sleep(0.1)
    after = query(url, "SELECT * FROM lead_scores ORDER BY lead_id")
    pd.testing.assert_frame_equal(after, before)
    assert query(url, "SELECT run_id FROM lead_score_runs")["run_id"].tolist() == ["ok"]
    assert len(query(url, "SELECT lead_id FROM lead_scores_latest")) == len(before)


@pytest.mark.slow
def test_kill_9_mid_write_leaves_sqlite_file_as_it_was(registered, tmp_path):
    tmp, cfg = registered
    db = tmp_path / "scores.db"
    url = f"sqlite:///{db}"
    r = runner.invoke(app, score_args(cfg, tmp / "raw/open_leads.csv", url, "2026-11-01", "ok"))
    assert r.exit_code == 0, r.output
    before = query(url, "SELECT * FROM lead_scores ORDER BY lead_id")
    assert len(before) > 0
    log = tmp_path / "scorer.log"
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM lead_scores").fetchone()  # a shared lock: no COMMIT
    proc = start_scorer(tmp, cfg, url, log)
    try:
        # the writer logs 'committing' once every row is in its transaction; the reader's lock
        # then holds it at COMMIT, with its rollback journal on disk
        wait_for(lambda: b"committing" in log.read_bytes(), proc, log)
        assert Path(f"{db}-journal").exists()
        kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.rollback()
    reader.close()
    after = query(url, "SELECT * FROM lead_scores ORDER BY lead_id")  # the hot journal rolls back
    pd.testing.assert_frame_equal(after, before)
    assert query(url, "PRAGMA integrity_check").iloc[0, 0] == "ok"
    assert query(url, "SELECT run_id FROM lead_score_runs")["run_id"].tolist() == ["ok"]


def staged_file(path: Path, scores: list[int], reasons: int = 3) -> Path:
    n = len(scores)
    df = pd.DataFrame(
        {"lead_id": [f"L{i}" for i in range(n)], "probability": [s / 100 for s in scores]}
    )
    df["score"], df["stage"] = scores, "lead"
    for i in range(reasons):
        df[f"reason_{i + 1}"] = f"[+] reason {i + 1}"
    df["model_version"], df["scored_at"] = "1", "2026-11-01T00:00:00+00:00"
    df["fit_score"], df["engagement_score"] = 50, 50
    df.to_csv(path, index=False)
    return path


def test_sqlite_history_score_change_and_more_reason_columns(tmp_path):
    """The writer alone on SQLite: score_change per lead, and a later run with more reasons adds
    the columns (earlier rows keep NULL there) instead of failing."""
    url = f"sqlite:///{tmp_path / 'sub' / 'scores.db'}"
    assert database.write_scores(url, staged_file(tmp_path / "a.csv", [10, 20, 30]), "a") == 3
    assert (
        database.write_scores(url, staged_file(tmp_path / "b.csv", [15, 20], 4), "b", batch_rows=1)
        == 2
    )
    latest = database.read_latest(url).set_index("lead_id")
    assert latest["score_change"].tolist()[:2] == [5, 0] and pd.isna(
        latest.loc["L2", "score_change"]
    )
    assert latest.loc["L0", "reason_4"] == "[+] reason 4" and pd.isna(latest.loc["L2", "reason_4"])
    assert latest.loc["L2", "run_id"] == "a"
    assert database.is_database_url(url) and not database.is_database_url("data/scored/x.csv")


def test_grade_column_in_table_and_view_added_to_an_older_table(tmp_path):
    """`grade` is stored and shown in the latest view; a table an earlier leadscore created
    without it gets the column (earlier rows NULL) instead of failing."""
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    database.write_scores(url, staged_file(tmp_path / "a.csv", [10, 20, 30]), "a")
    db = sqlite3.connect(tmp_path / "scores.db")
    db.execute(f"DROP VIEW {database.VIEW}")
    db.execute(f"ALTER TABLE {database.TABLE} DROP COLUMN grade")  # as an older version made it
    db.commit()
    db.close()
    b = staged_file(tmp_path / "b.csv", [15, 20])
    pd.read_csv(b).assign(grade=["C", "B"]).to_csv(b, index=False)
    database.write_scores(url, b, "b")
    latest = database.read_latest(url).set_index("lead_id")
    assert latest.loc["L0", "grade"] == "C" and latest.loc["L1", "grade"] == "B"
    assert pd.isna(latest.loc["L2", "grade"])


def test_monitor_reads_grade_only_where_the_view_has_it(tmp_path):
    """`leadscore monitor --scores URL` asks the view for `grade` only when it has one: a view an
    earlier leadscore made without it is still read (the monitor then reports per stage only)."""
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    need = ["lead_id", "probability", "stage"]
    database.write_scores(url, staged_file(tmp_path / "a.csv", [10, 20, 30]), "a")
    assert "grade" in database.read_latest(url, need, optional=("grade",)).columns
    db = sqlite3.connect(tmp_path / "scores.db")
    db.execute(f"DROP VIEW {database.VIEW}")
    db.execute(f"ALTER TABLE {database.TABLE} DROP COLUMN grade")  # as an older version made it
    db.execute(f"CREATE VIEW {database.VIEW} AS SELECT * FROM {database.TABLE}")
    db.commit()
    db.close()
    old = database.read_latest(url, need, optional=("grade",))
    assert list(old.columns) == need and len(old) == 3
