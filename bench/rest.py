"""REST latency: a real `mlflow models serve` of the champion on a free loopback port.

Why a real server: what a CRM webhook waits for is MLflow's request handling plus our per-request
work, not the scorer alone. Sequential requests (one at a time, as a webhook sends them): one lead
with its activities and 3 reasons, and a 100-lead batch; p50/p95 in milliseconds after a few
warm-up requests. Wall times on a shared machine move with its load, so the server's own CPU time
per request (its process tree, over the measured requests) and the 1-minute load average are
reported beside them. Run alone: `python bench/rest.py LEADS_CSV ACTIVITIES_CSV`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

ONE_LEAD_REQUESTS = 250
BATCH_REQUESTS = 40
BATCH_SIZE = 100
WARM_UP = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records(
    leads_csv: Path, activities_csv: Path, columns: list[str], doubles: set[str], n: int
) -> list[dict]:
    """The first n leads of an export as request records, each with its activities; the
    signature's double columns as JSON numbers."""
    leads = pd.read_csv(leads_csv, nrows=n, dtype=str, keep_default_na=False)
    events = pd.read_csv(activities_csv, nrows=200_000, dtype=str)
    events = events[events["lead_id"].isin(set(leads["lead_id"]))]
    by_lead = {
        k: [
            {"type": t, "occurred_at": o}
            for t, o in zip(g["activity_type"], g["occurred_at"], strict=True)
        ]
        for k, g in events.groupby("lead_id")
    }
    rows = leads[[c for c in columns if c in leads.columns]].to_dict("records")
    for r in rows:
        for c in doubles:
            x = pd.to_numeric(r.get(c), errors="coerce")
            r[c] = None if pd.isna(x) else float(x)
        r["activities"] = json.dumps(by_lead.get(r["lead_id"], []))
    return rows


def post(url: str, body: bytes) -> float:
    """Milliseconds for one request; fails loudly on a non-200 answer."""
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{url}: HTTP {e.code}: {e.read()[:500]!r}") from None
    return (time.perf_counter() - t) * 1000


def server_cpu(proc: subprocess.Popen) -> float:
    """CPU seconds (user + system) the server's process tree has used so far: `mlflow models
    serve` runs uvicorn as a child process."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return float("nan")
    total = 0.0
    for p in tree:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def latencies(
    url: str, rows: list[dict], n: int, proc: subprocess.Popen
) -> tuple[np.ndarray, float]:
    """Milliseconds of n sequential requests after the warm-up, and the server's mean CPU
    milliseconds per request over them."""
    params = {"explain": True, "n_reasons": 3, "as_of": "2026-11-01T00:00:00"}
    body = json.dumps({"dataframe_records": rows, "params": params}).encode()
    for _ in range(WARM_UP):
        post(url, body)
    cpu = server_cpu(proc)
    ms = np.array([post(url, body) for _ in range(n)])
    return ms, (server_cpu(proc) - cpu) * 1000 / n


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow models serve exited: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("mlflow models serve did not answer /ping in time")


def measure(leads_csv: Path, activities_csv: Path, columns: list[str], env: dict[str, str]) -> dict:
    """rest_one_lead_p50_ms/p95_ms and rest_batch100_p50_ms/p95_ms against a served champion,
    the server's CPU milliseconds per request of each, and the load average at the end."""
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    env = {**env, "PATH": f"{mlflow.parent}{os.pathsep}{env.get('PATH', '')}"}  # its uvicorn
    cmd = [str(mlflow), "models", "serve", "-m", "models:/lead-scoring@champion"]
    cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        doubles = {c for c, t in columns.items() if t == "double"}
        rows = records(leads_csv, activities_csv, list(columns), doubles, BATCH_SIZE)
        one, one_cpu = latencies(base + "/invocations", rows[:1], ONE_LEAD_REQUESTS, proc)
        batch, batch_cpu = latencies(base + "/invocations", rows, BATCH_REQUESTS, proc)
        load = os.getloadavg()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "rest_requests": ONE_LEAD_REQUESTS,
        "rest_one_lead_p50_ms": round(float(np.percentile(one, 50)), 1),
        "rest_one_lead_p95_ms": round(float(np.percentile(one, 95)), 1),
        "rest_batch100_p50_ms": round(float(np.percentile(batch, 50)), 1),
        "rest_batch100_p95_ms": round(float(np.percentile(batch, 95)), 1),
        "rest_one_lead_server_cpu_ms": round(one_cpu, 1),
        "rest_batch100_server_cpu_ms": round(batch_cpu, 1),
        "rest_load_1min": round(load, 2),
    }


def model_columns() -> dict[str, str]:
    """The request columns the champion's signature lists, with their types (activities travel
    separately)."""
    from pipeline.tracking import pyfunc, store

    store.setup()
    scorer, _ = pyfunc.load_scorer("models:/lead-scoring@champion")
    cols = pyfunc.input_schema(scorer).inputs
    return {c.name: getattr(c.type, "name", str(c.type)) for c in cols if c.name != "activities"}


if __name__ == "__main__":
    leads_arg, acts_arg = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps(measure(leads_arg, acts_arg, model_columns(), dict(os.environ)), indent=2))
