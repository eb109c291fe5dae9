"""Serving paths beyond the batch scorer: Spark (spark_udf on local[2]) and REST (mlflow models serve).

Slow (a JVM, a server process): marked `serving`, left out of `make test`, run by
`make test-serving` (which installs the spark extra) and by CI.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import write_config

pytestmark = pytest.mark.serving
AS_OF = "2026-11-01T00:00:00"
runner = CliRunner()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """A trained, registered champion in a private store, and a small file of leads to score."""
    tmp = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{tmp / 'models' / 'mlflow.db'}"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        r = runner.invoke(app, ["generate", "--leads", "2000", "--seed", "5", "--out", "raw"])
        assert r.exit_code == 0, r.output
        # 2,000 leads leave too few won test leads for the promotion gate (tests/test_gate_cli.py
        # covers it); here the first version must serve
        cfg = write_config(
            tmp / "config.yaml", tmp / "raw", gate={"min_won": 0, "min_lost": 0, "max_ece": 1.0}
        )
        r = runner.invoke(app, ["train", "--config", str(cfg)])
        assert r.exit_code == 0, r.output
        leads = pd.read_csv(tmp / "raw" / "open_leads.csv", dtype=str).head(150)
        leads.to_csv(tmp / "few.csv", index=False)
        yield tmp, cfg, uri
    finally:
        os.chdir(cwd)
        with contextlib.suppress(ImportError):
            from pyspark.sql import SparkSession

            if (active := SparkSession.getActiveSession()) is not None:
                active.stop()
        logging.getLogger("py4j").setLevel(logging.CRITICAL)  # no chatter into closed streams
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old


def score(tmp: Path, cfg: Path, engine: str, out: str) -> pd.DataFrame:
    args = ["score", "--config", str(cfg), "--leads", str(tmp / "few.csv")]
    args += ["--activities", str(tmp / "raw" / "activities.csv"), "--as-of", AS_OF]
    r = runner.invoke(app, [*args, "--output", str(tmp / out), "--engine", engine, "-q"])
    assert r.exit_code == 0, r.output
    return pd.read_csv(tmp / out, dtype={"lead_id": str}).set_index("lead_id")


def test_spark_engine_matches_local(served):
    """spark_udf on local[2] gives every lead the local engine's probability, stage and reasons."""
    tmp, cfg, _ = served
    local = score(tmp, cfg, "local", "local.csv")
    spark = score(tmp, cfg, "spark", "spark.csv")
    assert list(spark.columns) == list(local.columns)
    assert sorted(spark.index) == sorted(local.index)
    spark = spark.loc[local.index]
    assert (local["probability"] - spark["probability"]).abs().max() < 1e-6
    assert (local["stage"] == spark["stage"]).all()
    assert (local["reason_1"] == spark["reason_1"]).all()
    assert (
        local["probability"].nunique() > 10
    )  # the leads really differ: activities reached the UDF


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict, timeout: float = 30) -> dict:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def test_rest_serving_one_request(served):
    """`mlflow models serve` on the champion answers a dataframe_split request with params."""
    tmp, _, uri = served
    port = free_port()
    mlflow_bin = Path(sys.executable).parent / "mlflow"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env["PATH"] = f"{mlflow_bin.parent}{os.pathsep}{env.get('PATH', '')}"  # uvicorn
    cmd = [str(mlflow_bin), "models", "serve", "-m", "models:/lead-scoring@champion"]
    cmd += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, "server did not answer /ping within 90 s"
            time.sleep(1)
        lead = pd.read_csv(tmp / "few.csv", dtype=str).head(1)
        pair = pd.concat([lead, lead.assign(lead_id="same-lead-with-demo")], ignore_index=True)
        demo = [{"type": "demo_request", "occurred_at": "2026-10-30 10:00:00"}]
        frame = pair.assign(activities=[json.dumps([]), json.dumps(demo)])
        frame = frame.astype(object).where(frame.notna(), None)
        body = {
            "dataframe_split": frame.to_dict(orient="split", index=False),
            "params": {"as_of": AS_OF, "explain": True},
        }
        preds = post(f"{base}/invocations", body)["predictions"]
        assert [p["lead_id"] for p in preds] == list(pair["lead_id"])
        assert all(0 <= p["probability"] <= 1 for p in preds)
        assert preds[1]["probability"] > preds[0]["probability"]  # the demo request counted
        assert all(p["reason_1"][:4] in ("[+] ", "[-] ") for p in preds)
        plain = post(f"{base}/invocations", {"dataframe_records": frame.to_dict("records")})
        assert set(plain["predictions"][0]) == {"probability"}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
