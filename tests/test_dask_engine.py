"""The Dask training engine (`training.engine: dask`, pipeline/training/distributed.py).

Fast: rows built per partition of leads equal the local engine's rows; what is learnt from all
fit leads (activity types, kept categories) is the same summed over partitions; a scheduler that
does not answer and a misused option are one line. Slow, on a 2-worker LocalCluster: the same
registry names and a test AUC within 0.01 of the local engine, scored by plain `score`; a worker
killed in the middle of the LightGBM fit fails the run cleanly.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import Config, DaskConfig
from pipeline.errors import ClusterError, ConfigError
from pipeline.features.builder import type_counts
from pipeline.jobs import load_training_data
from pipeline.modeling.booster import CategoryEncoder
from pipeline.modeling.prepare import (
    at_scale,
    lead_snapshots,
    prepare_training_rows,
    snapshot_rows,
    split_for_training,
)
from pipeline.training.cluster import dask_client
from pipeline.training.distributed import partition_of
from tests.conftest import run

PARTS = 5


def partitions(leads: pd.DataFrame, events: pd.DataFrame, n: int = PARTS) -> list:
    lp, ep = partition_of(leads.index.to_numpy(), n), partition_of(events["lead_id"].to_numpy(), n)
    return [(leads[lp == k], events[ep == k]) for k in range(n)]


@pytest.fixture(scope="module")
def data(sample_config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_training_data(sample_config)


def test_a_lead_and_its_events_share_a_partition(data) -> None:
    leads, events = data
    parts = partitions(leads, events)
    assert sum(len(p[0]) for p in parts) == len(leads)
    assert sum(len(p[1]) for p in parts) == len(events)
    for lp, ep in parts:
        assert set(ep["lead_id"]) <= set(lp.index)
    assert min(len(p[0]) for p in parts) > 0  # the hash spreads the leads


def test_rows_per_partition_are_the_local_engine_rows(sample_config: Config, data) -> None:
    """Snapshots, sampling and features go lead by lead: partitions give the same rows."""
    cfg = sample_config.model_copy(deep=True)
    cfg.training.scale.min_snapshots = 0  # the sampled (at-scale) path too
    leads, events = data
    whole = prepare_training_rows(cfg, leads, events)
    leads2, s, export = split_for_training(cfg, leads, events)
    split = s.assignment
    pieces = []
    for lp, ep in partitions(leads2, events):
        sp = split[split.index.isin(lp.index)]
        snaps, _ = lead_snapshots(cfg, whole.builder, lp, sp, export)
        snaps, X, y, one = snapshot_rows(cfg, whole.builder, lp, ep, snaps, at_scale(cfg, 0))
        pieces.append(
            pd.concat([snaps, X, pd.Series(y, name="_y"), pd.Series(one, name="_1")], axis=1)
        )
    got = pd.concat(pieces, ignore_index=True)
    want = pd.concat(
        [
            whole.snaps,
            whole.X,
            pd.Series(whole.y, name="_y"),
            pd.Series(whole.one_per_lead, name="_1"),
        ],
        axis=1,
    )
    key = ["lead_id", "as_of"]
    got, want = (f.sort_values(key).reset_index(drop=True) for f in (got, want))
    pd.testing.assert_frame_equal(got, want)


def test_vocabulary_summed_over_partitions_is_the_whole_one(sample_config: Config, data) -> None:
    leads, events = data
    rows = prepare_training_rows(sample_config, leads, events)
    counts = pd.concat([type_counts(lp, ep) for lp, ep in partitions(leads, events)])
    summed = counts.groupby(level=0).sum()
    assert summed.equals(type_counts(leads, events).sort_index())
    whole = rows.builder
    again = type(whole)(whole.categorical, whole.numeric, max_activity_types=3).fit_counts(
        summed, True
    )
    top3 = type_counts(leads, events).sort_values(ascending=False).index[:3]
    assert again.activity_types_ == sorted(top3)
    X = rows.X
    enc = CategoryEncoder(whole.categorical, 20).fit(X)
    blocks = np.array_split(np.arange(len(X)), PARTS)
    per_part = [enc.value_counts(X.iloc[b]) for b in blocks]
    merged = {
        c: pd.concat([p[c] for p in per_part]).groupby(level=0).sum() for c in enc.categories_
    }
    assert enc.kept_categories(merged) == enc.categories_


def test_a_scheduler_that_does_not_answer_is_one_line() -> None:
    cfg = DaskConfig(connect_timeout_s=1)
    t = time.perf_counter()
    with (
        pytest.raises(ClusterError, match=r"tcp://127.0.0.1:9 did not answer") as e,
        dask_client(cfg, "tcp://127.0.0.1:9"),
    ):
        pass
    assert "\n" not in str(e.value)
    assert time.perf_counter() - t < 30


def test_scheduler_without_dask_is_a_usage_mistake(sample_config: Config) -> None:
    from pipeline.cli import with_engine

    with pytest.raises(ConfigError, match="--scheduler is for --engine dask"):
        with_engine(sample_config.model_copy(deep=True), None, "tcp://h:8786")
    with pytest.raises(ConfigError, match="--engine spark: use local or dask"):
        with_engine(sample_config.model_copy(deep=True), "spark", None)
    cfg = with_engine(sample_config.model_copy(deep=True), "dask", "tcp://h:8786")
    assert (cfg.training.engine, cfg.training.dask.scheduler) == ("dask", "tcp://h:8786")


# --- slow: a 2-worker LocalCluster --------------------------------------------------------------


def _runs(uri: str) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=["lead-scoring"])


@pytest.mark.slow
def test_dask_engine_registers_the_same_model_within_001_auc(
    cluster, trained, sample_config_path: Path, mlflow_uri: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    local_auc = trained[0].metrics["test_roc_auc"]
    res = run("train", "--config", sample_config_path, "--engine", "dask", "--scheduler",
              cluster.scheduler_address, "--quiet")  # fmt: skip
    assert res.exit_code == 0, res.output
    runs = _runs(mlflow_uri)
    r = runs.iloc[0]
    assert r["status"] == "FINISHED"
    assert r["params.engine"] == "dask" and r["params.dask_workers"] == "2"
    assert int(r["params.dask_partitions"]) == 8 and float(r["params.dask_memory_limit_mb"]) > 0
    assert int(r["params.dask_rounds"]) > 0
    assert abs(r["metrics.test_roc_auc"] - local_auc) <= 0.01
    client = MlflowClient(mlflow_uri)
    assert str(client.get_model_version_by_alias("lead-scoring", "challenger").version) == "1"
    out = tmp_path / "scores.csv"
    cfg_leads = _leads_path(sample_config_path)
    res = run("score", "--config", sample_config_path, "--model-uri", "models:/lead-scoring/1",
              "--leads", cfg_leads, "--output", out, "--quiet")  # fmt: skip
    assert res.exit_code == 0, res.output
    scores = pd.read_csv(out)
    assert scores["score"].between(0, 100).all() and len(scores) > 0


def _leads_path(config_path: Path) -> str:
    import yaml

    return yaml.safe_load(Path(config_path).read_text())["data"]["leads"]


def _kill_a_worker_during_the_fit(cluster, done: threading.Event) -> None:
    """SIGKILL one worker process as soon as LightGBM's training tasks run on the cluster."""
    from distributed import Client

    with Client(cluster.scheduler_address) as c:
        while not done.is_set():
            busy = [k for keys in c.processing().values() for k in keys if "_train_part" in str(k)]
            if busy:
                pids = c.run(os.getpid)
                os.kill(sorted(pids.values())[0], signal.SIGKILL)
                return
            time.sleep(0.05)


@pytest.mark.slow
def test_a_worker_killed_mid_fit_fails_the_run_cleanly(
    cluster, sample_config_path: Path, mlflow_uri: str
) -> None:
    from mlflow import MlflowClient

    done = threading.Event()
    killer = threading.Thread(target=_kill_a_worker_during_the_fit, args=(cluster, done))
    killer.start()
    try:
        res = run("train", "--config", sample_config_path, "--engine", "dask", "--scheduler",
                  cluster.scheduler_address, "--quiet")  # fmt: skip
    finally:
        done.set()
        killer.join()
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "worker" in errors[0], res.stderr
    assert res.stderr.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in res.output
    assert _runs(mlflow_uri)["status"].tolist() == ["FAILED"]
    assert MlflowClient(mlflow_uri).search_registered_models() == []
