"""Faults of the machine, not of the input: a full disk under the output, the rejected rows or the
registry, an output path that cannot be a file. Each ends in one stderr line naming the path and
the cause, exit 2, and the earlier outputs intact; failing to log a scoring run is a warning."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import StorageError
from pipeline.io.atomic import write_text_atomic
from tests.byo_helpers import FIX
from tests.conftest import run

FLAT = FIX / "flat/Leads.csv"
OLD_SCORES = "lead_id,probability\nold,0.5\n"
OLD_REJECTED = "row,Prospect ID,reason\n9,old,earlier run\n"
FULL = "No space left on device"


@pytest.fixture()
def out_dir(flat_model, tmp_path: Path) -> Path:
    """A folder holding an earlier run's scores and rejected rows."""
    (tmp_path / "scores.csv").write_text(OLD_SCORES)
    (tmp_path / "scores.rejected.csv").write_text(OLD_REJECTED)
    return tmp_path


def score(flat_model, output: Path, leads: Path = FLAT):
    return run("score", "--config", flat_model[1], "--leads", leads, "--output", output)


def one_line(r, *needles: str) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines  # notes before it, nothing after
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


def intact(folder: Path) -> None:
    """The earlier run's files unchanged, and no temporary file left beside them."""
    assert (folder / "scores.csv").read_text() == OLD_SCORES
    assert (folder / "scores.rejected.csv").read_text() == OLD_REJECTED
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def fail_replace_into(monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """The rename that publishes a file whose name ends with `suffix` hits a full disk."""
    real = os.replace

    def replace(src, dst, *a, **k):
        if str(dst).endswith(suffix):
            raise OSError(errno.ENOSPC, FULL, str(src))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.slow
def test_output_that_is_a_folder(flat_model, out_dir: Path):
    (out_dir / "sub").mkdir()
    one_line(score(flat_model, out_dir / "sub"), str(out_dir / "sub"), "is a folder")
    intact(out_dir)


@pytest.mark.slow
def test_output_under_a_file(flat_model, out_dir: Path):
    target = out_dir / "scores.csv" / "new.csv"
    one_line(score(flat_model, target), str(target), "is a file, not a folder")
    intact(out_dir)


@pytest.mark.slow
def test_output_in_proc(flat_model, out_dir: Path):
    one_line(score(flat_model, Path("/proc/leadscore/scores.csv")), "/proc/leadscore/scores.csv")
    intact(out_dir)


@pytest.mark.slow
def test_full_disk_under_the_output(flat_model, out_dir: Path, monkeypatch):
    fail_replace_into(monkeypatch, "scores.csv")
    one_line(score(flat_model, out_dir / "scores.csv"), str(out_dir / "scores.csv"), FULL)
    intact(out_dir)


@pytest.mark.slow
def test_full_disk_under_the_rejected_rows(flat_model, out_dir: Path, monkeypatch):
    leads = pd.read_csv(FLAT, dtype=str, keep_default_na=False)
    leads.loc[1, "TotalVisits"] = "lots"
    bad = out_dir / "bad.csv"
    leads.to_csv(bad, index=False)
    fail_replace_into(monkeypatch, ".rejected.csv")
    one_line(score(flat_model, out_dir / "scores.csv", bad), "scores.rejected.csv", FULL)
    intact(out_dir)


@pytest.mark.slow
def test_a_clean_run_removes_an_earlier_runs_rejected_rows_and_honours_the_umask(
    flat_model, out_dir: Path
):
    old = os.umask(0o027)
    try:
        r = score(flat_model, out_dir / "scores.csv")
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert not (out_dir / "scores.rejected.csv").exists()
    assert len(pd.read_csv(out_dir / "scores.csv")) == 700
    assert (out_dir / "scores.csv").stat().st_mode & 0o777 == 0o640


@pytest.mark.slow
def test_a_registry_that_cannot_log_the_scoring_run_is_a_warning(flat_model, out_dir, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    def full(*a, **k):
        raise MlflowException("(sqlite3.OperationalError) database or disk is full")

    monkeypatch.setattr(MlflowClient, "create_run", full)
    r = score(flat_model, out_dir / "scores.csv")
    assert r.exit_code == 0, r.output
    warn = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warn) == 1 and "cannot log the scoring run" in warn[0]
    assert "database or disk is full" in warn[0] and "Traceback" not in r.output
    assert len(pd.read_csv(out_dir / "scores.csv")) == 700


@pytest.mark.slow
@pytest.mark.parametrize("where", ["artifacts", "database"])
def test_train_on_a_full_registry_ends_in_one_line(flat_model, tmp_path, monkeypatch, where):
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    uri = flat_model[2]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow.MlflowClient(uri, uri)
    before = len(client.search_model_versions("name='lead-scoring'"))

    def no_space(self, local, *a, **k):
        raise OSError(errno.ENOSPC, FULL, self.artifact_dir)

    def db_full(*a, **k):
        raise MlflowException("(sqlite3.OperationalError) database or disk is full")

    if where == "artifacts":
        monkeypatch.setattr(LocalArtifactRepository, "log_artifact", no_space)
        monkeypatch.setattr(LocalArtifactRepository, "log_artifacts", no_space)
        needles = [str(Path(uri.removeprefix("sqlite:///")).parent / "artifacts"), FULL]
    else:
        monkeypatch.setattr(SqlAlchemyStore, "create_model_version", db_full)
        needles = [uri, "database or disk is full"]
    line = one_line(run("train", "--config", flat_model[1]), *needles)
    assert line.startswith("error: ")
    assert len(client.search_model_versions("name='lead-scoring'")) == before
    assert str(client.get_model_version_by_alias("lead-scoring", "champion").version) == "1"


def test_the_atomic_writer_names_the_target(tmp_path: Path):
    (tmp_path / "f").write_text("x")
    for target, why in [
        (tmp_path, "is a folder"),
        (tmp_path / "f" / "a.txt", "is a file, not a folder"),
        (Path("/proc/nope/a.txt"), "No such file or directory"),
    ]:
        with pytest.raises(StorageError, match=why) as e:
            write_text_atomic("new", target)
        assert str(e.value).startswith(f"{target}: cannot write")
    assert (tmp_path / "f").read_text() == "x"


def test_a_store_that_is_not_a_database_or_sits_under_a_file(tmp_path, monkeypatch):
    import mlflow

    before = mlflow.get_tracking_uri()
    (tmp_path / "notadb.db").write_text("lead_id,probability\nA,0.5\n")
    (tmp_path / "afile").write_text("x")
    try:
        for uri, cause in [
            (f"sqlite:///{tmp_path / 'notadb.db'}", "file is not a database"),
            (f"sqlite:///{tmp_path / 'afile' / 'mlflow.db'}", str(tmp_path / "afile")),
        ]:
            monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
            for args in (["gate", "show"], ["rollback"], ["explain", "A", "--leads", FLAT]):
                line = one_line(run(*args), "cannot open the tracking store", cause)
                assert line.startswith("error: ")
    finally:
        mlflow.set_tracking_uri(before)  # the failed commands set it to the broken store
