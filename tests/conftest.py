"""Shared fixtures: a small sample export, a config pointing at it, and a private MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import settings

# Property tests draw the same examples on every run (a failure is reproducible, CI never flakes
# on a new draw) and have no per-example deadline (the shared 2-core machines vary in speed).
settings.register_profile("leadscore", derandomize=True, deadline=None)
settings.load_profile("leadscore")

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from pipeline.config import Config, load_config  # noqa: E402
from pipeline.synthetic.sample import generate, write_sample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = 4000


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("raw")
    write_sample(generate(SMALL, seed=7), d)
    return d


def write_config(path: Path, data_dir: Path, **overrides: dict) -> Path:
    raw = yaml.safe_load((ROOT / "config/default.yaml").read_text())
    raw["data"]["leads"] = str(data_dir / "leads.csv")
    raw["data"]["activities"] = str(data_dir / "activities.csv")
    raw["data"]["oracle"] = str(data_dir / "oracle.csv")
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="session")
def sample_config_path(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("cfg") / "config.yaml", sample_dir)


@pytest.fixture(scope="session")
def sample_config(sample_config_path: Path) -> Config:
    return load_config(sample_config_path)


@pytest.fixture(scope="session")
def trained(sample_config: Config):
    """One model trained in-process on the small sample (no MLflow), shared by behavioural tests."""
    from pipeline.jobs import load_oracle, load_training_data
    from pipeline.training.train import train

    leads, events = load_training_data(sample_config)
    return train(sample_config, leads, events, load_oracle(sample_config)), leads, events


@pytest.fixture(scope="session")
def training_rows(sample_config: Config, trained):
    """The rows `trained` learnt from, rebuilt (cheap: no fitting), for tests that need the
    reference leads or the fit slice."""
    from pipeline.modeling.prepare import prepare_training_rows

    _, leads, events = trained
    return prepare_training_rows(sample_config, leads, events)


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker LocalCluster per test module (a module that kills a worker spoils only its own
    cluster: the other worker's LightGBM gives up on its lost peer later and aborts)."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        memory_limit="2GB",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,  # the cluster runs in this process: its logs are not ours
    ) as c:
        yield c


@pytest.fixture()
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def read_scores(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def run(*args: object):
    """`leadscore ARGS...` in-process (paths and numbers as the words a shell would pass)."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def flat_model_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One model of the flat export shape (tests/fixtures/flat), trained through the CLI once per
    session in a private MLflow store: (folder, config path, tracking URI). About ten seconds,
    so the scoring input-rule tests that use it stay in the fast tier."""
    from tests.byo_helpers import example_config

    tmp = tmp_path_factory.mktemp("flat_model")
    uri = f"sqlite:///{tmp / 'models' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        cfg = example_config("flat-export", tmp)
        # the fixture holds ~60 won and ~45 lost test leads, below the shipped gate's evidence
        # floor (30 / 100); the tests using this model are about scoring, so this private store
        # waives the evidence counts, as `leadscore gate set` would, and keeps every other check
        r = run("gate", "set", "--min-won", 0, "--min-lost", 0)
        assert r.exit_code == 0, r.output
        r = run("train", "--config", cfg)
        assert r.exit_code == 0, r.output
    return tmp, cfg, uri


@pytest.fixture()
def flat_model(flat_model_store, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, str]:
    """The shared flat-shape model's store made current for one test: (folder, config, URI)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", flat_model_store[2])
    return flat_model_store


def refuse_reading_here(monkeypatch: pytest.MonkeyPatch, path: Path, loader: str) -> None:
    """Every way this process could read `path` raises (the Dask workers, other processes, are
    not patched): `loader` ('load_events' or 'load_leads') where jobs and canonical call it, the
    table reader and pandas' csv and parquet readers on that path."""
    import pipeline.io.canonical as canonical
    import pipeline.io.readers as readers
    import pipeline.jobs as jobs

    def refuse(*_a, **_k):
        raise AssertionError(f"the driver read {path}")

    def guard(real):
        def read(src, *a, **k):
            if isinstance(src, (str, Path)) and Path(src).resolve() == path.resolve():
                refuse()
            return real(src, *a, **k)

        return read

    for module in (jobs, canonical):
        monkeypatch.setattr(module, loader, refuse)
    for module in (canonical, readers):
        monkeypatch.setattr(module, "read_table", guard(readers.read_table))
    monkeypatch.setattr(pd, "read_csv", guard(pd.read_csv))
    monkeypatch.setattr(pd, "read_parquet", guard(pd.read_parquet))
