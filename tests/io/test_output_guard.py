"""Outputs never overwrite inputs: every write of a command (scores, rejected rows, reports, the
database, a drafted or tuned config, a plot) is refused, with one line and exit 2, when its path
is a file the command reads, the config, or the tracking store or anything in its folder; the
path is compared after symlinks and relative parts are resolved, and the input stays whole.

All refusals come before any model is loaded or trained, so no model is needed here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from pipeline.io.atomic import Inputs
from tests.conftest import ROOT, run, write_config


@pytest.fixture()
def project(tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """A project folder (cwd) with a copy of the sample export, a config and an MLflow store
    file: (config path, leads, activities, store file)."""
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    for name in ("leads.csv", "activities.csv", "oracle.csv"):
        (raw / name).write_bytes((sample_dir / name).read_bytes())
    cfg = write_config(tmp_path / "config.yaml", raw)
    db = tmp_path / "models" / "mlflow.db"
    db.parent.mkdir()
    db.write_bytes(b"SQLite format 3\x00 stand-in for the store")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///models/mlflow.db")
    return cfg, raw / "leads.csv", raw / "activities.csv", db


def _refused(r, *needles: str) -> None:
    err = r.stderr if hasattr(r, "stderr") else r.output
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1, r.output
    assert "refusing to write" in err and "choose another path" in err
    for n in needles:
        assert n in err, err


def _snapshot(*paths: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


@pytest.mark.parametrize(
    ("target", "hit"),
    [
        ("data/raw/leads.csv", "it is the leads file"),  # relative
        ("./data/../data/raw/leads.csv", "it is the leads file"),  # the same, with detours
        ("data/raw/activities.csv", "it is the activities file"),
        ("config.yaml", "it is the config file"),
        ("models/mlflow.db", "it is the tracking store"),
        ("models/artifacts/1/model.csv", "it is the artifact root"),  # inside the store's folder
        ("models/mlflow.db-wal", "it is the tracking store's own file"),
        ("sqlite:///models/mlflow.db", "the scores database there: it is the tracking store"),
        ("sqlite:///data/raw/leads.csv", "it is the leads file"),
    ],
)
def test_score_output_that_is_an_input_is_refused(project, target, hit):
    cfg, leads, acts, db = project
    before = _snapshot(leads, acts, db, cfg)
    r = run("score", "--config", cfg, "--output", target, "--as-of", "2026-11-01")
    _refused(r, hit)
    assert _snapshot(leads, acts, db, cfg) == before
    assert not (Path("models") / "artifacts").exists()


def test_score_output_through_a_symlink_to_the_leads_is_refused(project, tmp_path):
    cfg, leads, acts, db = project
    link = tmp_path / "elsewhere.csv"
    os.symlink(leads, link)
    before = _snapshot(leads)
    r = run("score", "--config", cfg, "--output", link, "--as-of", "2026-11-01")
    _refused(r, "leads file")
    assert _snapshot(leads) == before and link.is_symlink()


def test_score_leads_given_on_the_command_line_are_protected(project, tmp_path):
    cfg, leads, _, _ = project
    other = tmp_path / "new_leads.csv"
    other.write_bytes(leads.read_bytes())
    r = run("score", "--config", cfg, "--leads", other, "--output", other, "--as-of", "2026-11-01")
    _refused(r, "leads file")
    assert other.read_bytes() == leads.read_bytes()


def test_score_rejected_rows_file_and_report_cannot_land_on_an_input(project, tmp_path):
    cfg, leads, acts, _ = project
    before = _snapshot(leads, acts)
    r = run("score", "--config", cfg, "--output", "out/s.csv", "--report", leads)
    _refused(r, "scoring report", "leads file")
    # scores to out/x.csv would put its rejected rows in out/x.rejected.csv: here that is the input
    mine = tmp_path / "out" / "x.rejected.csv"
    mine.parent.mkdir()
    mine.write_bytes(leads.read_bytes())
    r = run("score", "--config", cfg, "--leads", mine, "--output", "out/x.csv")
    _refused(r, "rejected-rows file", "leads file")
    assert _snapshot(leads, acts) == before and mine.read_bytes() == leads.read_bytes()
    assert not Path("out/x.csv").exists()


def test_score_staging_folder_inside_the_store_is_refused(project, tmp_path):
    cfg, *_ = project
    raw = yaml.safe_load(cfg.read_text())
    raw["scoring"]["staging_dir"] = "models/artifacts/staging"
    cfg.write_text(yaml.safe_dump(raw))
    r = run("score", "--config", cfg, "--output", f"sqlite:///{tmp_path / 'scores.db'}")
    _refused(r, "staging folder", "artifact root")
    assert not (tmp_path / "models" / "artifacts" / "staging").exists()


def test_init_out_equal_to_an_input_is_refused_even_with_force(project):
    _, leads, acts, db = project
    before = _snapshot(leads, acts, db)
    for out in (leads, acts, "models/mlflow.db"):
        r = run("init", "--leads", leads, "--activities", acts, "--out", out, "--force")
        _refused(r, "drafted config")
    assert _snapshot(leads, acts, db) == before


@pytest.mark.slow  # refused before training, but it calls tune (tests/test_tiers.py)
def test_tune_out_equal_to_the_config_is_refused(project):
    cfg, *_ = project
    before = cfg.read_bytes()
    r = run("tune", "--config", cfg, "--out", cfg, "--trials", 1)
    _refused(r, "tuned config", "config file")
    assert cfg.read_bytes() == before


@pytest.mark.slow  # refused before training, but it calls train (tests/test_tiers.py)
def test_train_report_dir_inside_the_store_is_refused_before_training(project):
    cfg, _, _, db = project
    raw = yaml.safe_load(cfg.read_text())
    raw["report"] = {"dir": "models/artifacts/reports"}
    cfg.write_text(yaml.safe_dump(raw))
    before = db.read_bytes()
    r = run("train", "--config", cfg, "--quiet")
    _refused(r, "reports folder (report.dir)", "artifact root")
    assert db.read_bytes() == before and not Path("models/artifacts/reports").exists()


def test_explain_plot_on_an_input_is_refused(project):
    cfg, leads, *_ = project
    before = leads.read_bytes()
    r = run("explain", "L1", "--config", cfg, "--plot", leads)
    _refused(r, "waterfall plot", "leads file")
    assert leads.read_bytes() == before


def test_inputs_compare_resolved_paths_and_hard_links(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "a.csv"
    f.write_text("x\n")
    os.link(f, tmp_path / "b.csv")
    inputs = Inputs().add("a.csv", "leads file").add(tmp_path / "store", "store", folder=True)
    assert inputs.clash(tmp_path / "a.csv") == f"leads file {f}"
    assert inputs.clash("b.csv") == f"leads file {f}"  # a hard link: the same file
    assert inputs.clash("store/deep/x.html") is not None
    assert inputs.clash("c.csv") is None and inputs.clash("store2/x") is None


def test_default_config_reports_folder_is_beside_the_config():
    from pipeline.config import load_config
    from pipeline.jobs import reports_dir

    cfg = load_config(ROOT / "config/default.yaml")
    assert reports_dir(cfg, ROOT / "config/default.yaml") == ROOT / "config" / "reports"
    cfg.report.dir = "out/reports"
    assert reports_dir(cfg, ROOT / "config/default.yaml") == Path("out/reports")


@pytest.mark.parametrize("cwd", ["/", "project"])
def test_store_guard_verdict_is_the_same_from_any_working_folder(tmp_path, monkeypatch, cwd):
    """Config, store and outputs in one folder, absolute paths: a scheduler running from `/` gets
    the verdict a user gets from the folder; files beside the store are free, the store is not."""
    from pipeline.tracking.store import protect_store

    monkeypatch.chdir("/" if cwd == "/" else tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    guard = protect_store(Inputs())
    for free in ("scores.csv", "reports/x.html", "mlflow.db.backup"):
        assert guard.clash(tmp_path / free) is None, free
    for taken in ("mlflow.db", "mlflow.db-journal", "artifacts/1/x.csv"):
        assert guard.clash(tmp_path / taken) is not None, taken


@pytest.mark.slow  # refused before any trial, but it calls tune (tests/test_tiers.py)
def test_tune_refuses_what_train_refuses_before_any_trial(project):
    """`tune` runs `train`'s checks first: a config `train` refuses spends no trial and writes
    no tuned config."""
    cfg, *_ = project
    raw = yaml.safe_load(cfg.read_text())
    raw["segments"] = {"column": "not_a_feature"}
    cfg.write_text(yaml.safe_dump(raw))
    out = cfg.parent / "tuned.yaml"
    r = run("tune", "--config", cfg, "--out", out, "--trials", 1)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    errors = [x for x in r.output.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "segments.column: 'not_a_feature'" in errors[0], r.output
    assert not out.exists()
