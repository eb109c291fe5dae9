"""The Dask engine reads the export partitioned (`pipeline/training/partitions.py`): the workers
read the activities file in blocks and shuffle it to the leads' partitions; this process never
reads it. Slow, on a 2-worker LocalCluster of this module's own: the driver's events reader
broken, training still succeeds; the rows built on the cluster are the local engine's; bad
activities fail in the local engine's one line."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import Config
from pipeline.jobs import load_training_data
from pipeline.modeling.prepare import prepare_training_rows
from tests.conftest import refuse_reading_here, run, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(sample_config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_training_data(sample_config)


def _runs(uri: str) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=["lead-scoring"])


def _small_blocks_config(sample_dir: Path, tmp_path: Path, activities: Path | None = None) -> Path:
    """The sample's config with the activities read in blocks of 0.25 MB (6 blocks of its
    1.3 MB file)."""
    path = write_config(tmp_path / "config.yaml", sample_dir, training={"dask": {"block_mb": 0.25}})
    if activities is not None:
        import yaml

        raw = yaml.safe_load(path.read_text())
        raw["data"]["activities"] = str(activities)
        path.write_text(yaml.safe_dump(raw))
    return path


def test_the_driver_never_reads_the_activities_file(
    cluster,
    sample_dir: Path,
    sample_config: Config,
    data,
    mlflow_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`train --engine dask` succeeds with the local events reader broken on this process: the
    workers read the file; the run's counts are the local engine's, and it records this
    process's peak memory beside the workers'."""
    cfg_path = _small_blocks_config(sample_dir, tmp_path)
    refuse_reading_here(monkeypatch, Path(sample_config.data.activities), "load_events")
    res = run("train", "--config", cfg_path, "--engine", "dask", "--scheduler",
              cluster.scheduler_address, "--quiet")  # fmt: skip
    assert res.exit_code == 0, res.output
    r = _runs(mlflow_uri).iloc[0]
    assert r["status"] == "FINISHED" and r["params.engine"] == "dask"
    assert int(r["params.rows_events"]) == len(data[1])
    assert int(r["params.dask_event_blocks"]) > 3
    assert r["metrics.dask_driver_peak_mb"] > 0 and r["metrics.dask_worker_peak_mb"] > 0


def test_rows_built_on_the_cluster_are_the_local_engines(cluster, sample_config: Config, data):
    """The rows gathered from the cluster (every row, below `gather_rows`), read and shuffled
    by the workers, equal the local engine's rows from the whole export: same builder, same
    snapshots, features, labels and evaluation rows, modulo order."""
    from pipeline.training.distributed import fit_on_cluster
    from pipeline.training.partitions import cluster_export

    cfg = sample_config.model_copy(deep=True)
    cfg.training.candidates = ["logistic"]  # the rows only: no booster on the cluster
    cfg.training.scale.min_snapshots = 0  # the sampled, float32 path too
    cfg.training.dask.block_mb = 0.25
    cfg.training.dask.partitions = 5
    want = prepare_training_rows(cfg, *data)
    with cluster_export(cfg, cluster.scheduler_address) as (leads, export):
        rows, booster, info = fit_on_cluster(export.client, cfg, leads, export)
    assert booster is None and info["dask_event_blocks"] > 3
    assert rows.builder.feature_names == want.builder.feature_names
    assert rows.builder.activity_types_ == want.builder.activity_types_
    assert (rows.candidate_snapshots, rows.split_kind) == (want.candidate_snapshots, "time")

    def table(r) -> pd.DataFrame:
        extra = pd.DataFrame({"_y": r.y, "_1": r.one_per_lead})
        whole = pd.concat([r.snaps, r.X, extra], axis=1)
        return whole.sort_values(["lead_id", "as_of"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(table(rows), table(want))


def _bad_activities(sample_config: Config, tmp_path: Path, how: str) -> Path:
    raw = pd.read_csv(sample_config.data.activities, dtype=str)
    ac = sample_config.schema.activity
    if how == "date":
        raw.loc[len(raw) - 30, ac.timestamp] = "2026-13-45"
    else:
        raw = raw.rename(columns={ac.type: "kind"})
    path = tmp_path / "bad" / "activities.csv"
    path.parent.mkdir()
    raw.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("how", ["date", "column"])
def test_bad_activities_fail_on_the_cluster_with_the_local_line(
    cluster, sample_dir: Path, sample_config: Config, mlflow_uri: str, tmp_path: Path, how: str
) -> None:
    """A bad date deep in the file (its row counted over the blocks before it) and a missing
    column: the same one line as the local engine, exit 2, no traceback."""
    cfg_path = _small_blocks_config(
        sample_dir, tmp_path, _bad_activities(sample_config, tmp_path, how)
    )
    local = run("train", "--config", cfg_path, "--quiet")
    dask = run("train", "--config", cfg_path, "--engine", "dask", "--scheduler",
               cluster.scheduler_address, "--quiet")  # fmt: skip
    assert local.exit_code == dask.exit_code == 2, dask.output
    line = [ln for ln in local.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and ("row " in line[0] if how == "date" else "kind" in line[0])
    assert [ln for ln in dask.stderr.splitlines() if ln.startswith("error:")] == line
    assert "Traceback" not in dask.output


def test_a_cp1252_file_is_read_on_the_cluster_as_the_local_reader_does(
    cluster, sample_dir: Path, sample_config: Config, tmp_path: Path, caplog
) -> None:
    """A byte that is not UTF-8 in a late block: every block is read again as cp1252, with the
    local reader's warning, and the events on the workers are the local engine's."""
    from pipeline.config import load_config
    from pipeline.training.partitions import cluster_export

    text = Path(sample_config.data.activities).read_text()
    at = text.rindex("web_visit")
    path = tmp_path / "latin" / "activities.csv"
    path.parent.mkdir()
    path.write_bytes((text[:at] + "wéb_visit" + text[at + len("web_visit") :]).encode("cp1252"))
    cfg = load_config(_small_blocks_config(sample_dir, tmp_path, path))
    with caplog.at_level("WARNING"):
        _, want = load_training_data(cfg)
    local_lines = [r.getMessage() for r in caplog.records if "cp1252" in r.getMessage()]
    caplog.clear()
    with caplog.at_level("WARNING"), cluster_export(cfg, cluster.scheduler_address) as (_, ex):
        got = ex.client.gather([ex.client.submit(lambda p: p[0], p) for p in ex.parts])
    lines = [r.getMessage() for r in caplog.records if "cp1252" in r.getMessage()]
    # the same line, but the offset: pandas' (the local reader's) counts from the chunk it was
    # decoding, the blocks' from the file's start, where the byte is
    assert len(local_lines) == 1 and len(lines) == 1
    offset = int(re.search(r"at offset (\d+)", lines[0]).group(1))
    assert path.read_bytes()[offset] == 0xE9
    assert re.sub(r"offset \d+", "", lines[0]) == re.sub(r"offset \d+", "", local_lines[0])
    key = ["lead_id", "ts", "type"]
    got = pd.concat(got, ignore_index=True).sort_values(key).reset_index(drop=True)
    want = want.astype({c: got[c].dtype for c in ("lead_id", "type")})  # local: category codes
    pd.testing.assert_frame_equal(got, want.sort_values(key).reset_index(drop=True))
