"""Stores and servers that fail: one line naming the store and the cause, exit 2, no library
traceback, and the store as it was.

- a read-only sqlite store (sqlite's own refusal, `PRAGMA query_only`, in a child process so the
  terminal sees exactly what a user would, MLflow's own error logging included);
- a tracking server port that refuses connections, and one that accepts but never answers (a
  socket server in this test): MLflow's HTTP retries and timeout are bounded by
  `pipeline.tracking`'s defaults, which a user's environment overrides.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from tests.conftest import ROOT, run

pytestmark = pytest.mark.slow  # real stores and child processes: tens of seconds

READ_ONLY = """
import sys
import sqlalchemy as sa
from sqlalchemy import event

@event.listens_for(sa.engine.Engine, "connect")
def read_only(dbapi_conn, record):
    dbapi_conn.execute("PRAGMA query_only = ON")

from pipeline.cli import app
app(sys.argv[1:], prog_name="leadscore")
"""


def _child(args: list[str], env: dict[str, str], code: str = READ_ONLY):
    env = {k: v for k, v in os.environ.items() if k != "LEADSCORE_DEBUG"} | env
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT
    )


def _one_line(text: str, *needles: str) -> str:
    lines = [x for x in text.splitlines() if x.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_read_only_store_is_one_line_and_keeps_the_policy(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert run("gate", "set", "--max-ece", "0.2").exit_code == 0
    before = (tmp_path / "models" / "mlflow.db").read_bytes()
    p = _child(["gate", "set", "--max-ece", "0.3"], {"MLFLOW_TRACKING_URI": uri})
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""
    _one_line(p.stderr, "error: ", uri, "cannot write the tracking store", "readonly database")
    assert (tmp_path / "models" / "mlflow.db").read_bytes() == before
    r = run("gate", "show")
    assert r.exit_code == 0 and "max_ece 0.2" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_refuses_connections_is_one_line_with_the_cause(monkeypatch):
    uri = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    r = run("gate", "show")
    assert r.exit_code == 2
    _one_line(r.output, uri, "cannot open the tracking store", "Connection refused")


@pytest.fixture()
def silent_server():
    """A loopback port that accepts connections and never answers a byte."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def test_a_server_that_never_answers_is_one_line_with_the_cause(silent_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", silent_server)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")  # the user's value wins (kept short)
    r = run("gate", "show")
    assert r.exit_code == 2
    _one_line(r.output, silent_server, "the server does not answer", "timed out")


PRINT_ENV = """
import os
import pipeline.tracking
print(*(os.environ[k] for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")))
"""


def test_http_retry_and_timeout_defaults_respect_the_users_values():
    clean = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "", "MLFLOW_HTTP_REQUEST_TIMEOUT": ""}
    env = {k: v for k, v in os.environ.items() if k not in clean}
    p = subprocess.run([sys.executable, "-c", PRINT_ENV], capture_output=True, text=True, env=env)
    retries, timeout = map(int, p.stdout.split())
    # at most 3 tries of 4 s without a byte, plus 2 s backoff: about 15 s, not MLflow's ~4 min
    assert retries <= 2 and timeout <= 5
    env |= {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "5", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
    p = subprocess.run([sys.executable, "-c", PRINT_ENV], capture_output=True, text=True, env=env)
    assert p.stdout.split() == ["5", "30"]
