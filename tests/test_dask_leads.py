"""The Dask engine's workers read the leads file in blocks (`pipeline/training/leadparts.py`):
this process never reads it. Slow, on a 2-worker LocalCluster of this module's own: the leads
gathered here (the narrow frame) equal the whole-file reader's canonical leads whatever the
block size (blocks smaller than a line or than the header, csv, parquet, compressed); a bad
cell fails in the local reader's one line, its row counted over the blocks; `train --engine
dask` succeeds with every leads reader of this process broken."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.canonical import load_leads
from pipeline.training.leadparts import read_leads_on_cluster
from tests.conftest import refuse_reading_here, run, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster) as c:
        yield c


def _on_cluster(client: Client, cfg: Config, block_mb: float, parts: int = 5) -> pd.DataFrame:
    cfg = cfg.model_copy(deep=True)
    cfg.training.dask.block_mb = block_mb
    hosts = sorted(client.scheduler_info(n_workers=-1)["workers"])
    leads, futures, blocks = read_leads_on_cluster(client, cfg, lambda k: hosts[k % 2], parts)
    assert len(futures) == parts and blocks >= 1
    return leads


def _local(cfg: Config) -> pd.DataFrame:
    want = load_leads(cfg)
    return want.drop(columns="_email")  # e-mails stay on the workers


def _with_leads(cfg: Config, path: Path) -> Config:
    cfg = cfg.model_copy(deep=True)
    cfg.data.leads = str(path)
    return cfg


@pytest.mark.parametrize("block_mb", [0.002, 0.05, 64])
def test_leads_read_in_blocks_are_the_whole_file_readers(client, sample_config, block_mb):
    pd.testing.assert_frame_equal(
        _on_cluster(client, sample_config, block_mb), _local(sample_config)
    )


def test_blocks_smaller_than_a_line_or_the_header(client, sample_config, tmp_path):
    """A file of 40 leads cut every 7 bytes (the header line is longer): each block starts at
    the line after its first byte, none is lost or read twice."""
    lines = Path(sample_config.data.leads).read_text().splitlines(keepends=True)
    path = tmp_path / "leads.csv"
    path.write_text("".join(lines[:41]))
    cfg = _with_leads(sample_config, path)
    got = _on_cluster(client, cfg, 7 / 2**20, parts=3)
    assert len(got) == 40
    pd.testing.assert_frame_equal(got, _local(cfg))


@pytest.mark.parametrize("kind", ["parquet", "csv.gz"])
def test_parquet_row_groups_and_compressed_files(client, sample_config, tmp_path, kind):
    raw = pd.read_csv(sample_config.data.leads, dtype=str, keep_default_na=False)
    raw.loc[5, "lead_id"] = raw.loc[5, "lead_id"] + ".0"  # 1000.0 is lead 1000
    path = tmp_path / f"leads.{kind}"
    if kind == "parquet":
        raw.to_parquet(path, row_group_size=300)
    else:
        with open(sample_config.data.leads, "rb") as src, gzip.open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    cfg = _with_leads(sample_config, path)
    pd.testing.assert_frame_equal(_on_cluster(client, cfg, 0.05), _local(cfg))


def _broken(sample_config: Config, tmp_path: Path, how: str) -> Path:
    raw = pd.read_csv(sample_config.data.leads, dtype=str, keep_default_na=False)
    late, early = len(raw) - 25, 40
    if how == "date":
        raw.loc[late, "created_at"] = "2026-13-45"
    elif how == "number":
        raw.loc[late, "employees"] = "twelve"
        raw.loc[late + 3, "created_at"] = "not a date"  # the dates are checked first
    elif how == "duplicate":  # far apart: different blocks, one partition
        raw.loc[late, "lead_id"] = " " + raw.loc[early, "lead_id"]
        raw.loc[late + 2, "employees"] = "twelve"  # a repeat is found before a bad number
    elif how == "empty_id":
        raw.loc[late, "lead_id"] = ""
        raw.loc[early, "lead_id"] = raw.loc[early + 1, "lead_id"]  # an empty id comes first
    elif how == "outcome":
        raw["outcome"] = raw["outcome"].replace({"won": "WON!"})
        raw.loc[late, "closed_at"] = "yesterday"  # the label rules come before close dates
    path = tmp_path / how / "leads.csv"
    path.parent.mkdir()
    raw.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("how", ["date", "number", "duplicate", "empty_id", "outcome"])
def test_a_bad_cell_fails_in_the_local_readers_line(client, sample_config, tmp_path, how):
    cfg = _with_leads(sample_config, _broken(sample_config, tmp_path, how))
    with pytest.raises(DataError) as local:
        load_leads(cfg)
    with pytest.raises(DataError) as blocks:
        _on_cluster(client, cfg, 0.02)
    assert str(blocks.value) == str(local.value)


def test_train_succeeds_with_the_drivers_leads_readers_broken(
    cluster, sample_dir: Path, sample_config: Config, mlflow_uri: str, tmp_path: Path, monkeypatch
) -> None:
    """`train --engine dask` with every way this process could read the leads file raising
    (`load_leads`, the table reader, pandas' csv reader on that path): the workers read it; the
    run counts the local engine's leads."""
    import mlflow

    refuse_reading_here(monkeypatch, Path(sample_config.data.leads), "load_leads")
    cfg_path = write_config(
        tmp_path / "config.yaml", sample_dir, training={"dask": {"block_mb": 0.1}}
    )
    res = run("train", "--config", cfg_path, "--engine", "dask", "--scheduler",
              cluster.scheduler_address, "--quiet")  # fmt: skip
    assert res.exit_code == 0, res.output
    mlflow.set_tracking_uri(mlflow_uri)
    r = mlflow.search_runs(experiment_names=["lead-scoring"]).iloc[0]
    assert r["status"] == "FINISHED" and r["params.engine"] == "dask"
    monkeypatch.undo()
    assert int(r["params.rows_leads"]) == len(load_leads(sample_config))
    assert int(r["params.dask_lead_blocks"]) > 3
