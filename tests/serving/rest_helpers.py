"""A real REST server for the serving tests: the champion served by `mlflow models serve` or
`leadscore serve` on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def rest_server(server: str, cwd: Path, uri: str) -> Iterator[str]:
    """The champion served on a free loopback port by `mlflow models serve` (server="mlflow") or
    `leadscore serve` ("leadscore"), once it answers /ping; yields its base URL and stops the
    process group at the end."""
    port, bin_dir = free_port(), Path(sys.executable).parent
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"  # uvicorn
    where = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if server == "mlflow":
        cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m", "models:/lead-scoring@champion"]
        cmd += ["--env-manager", "local", *where]
    else:
        cmd = [str(bin_dir / "leadscore"), "serve", *where]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
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
            except OSError:  # URLError is an OSError
                pass
            assert time.monotonic() < deadline, "server did not answer /ping within 90 s"
            time.sleep(1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
