"""Fixtures of the serving tests: a registered champion in a private MLflow store, and a real
PostgreSQL server for the database-output tests.

The Debian `postgresql` package (15) puts its binaries in /usr/lib/postgresql/15/bin (`.ci/run`
installs it when missing). `initdb` refuses to run as root, so as root the server runs as the
`postgres` user (`runuser`), in a temporary folder it owns, on a free loopback port, with trust
authentication; it is stopped and removed at teardown. The tests that need it are skipped only
when the binaries are absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import write_config
from tests.serving.rest_helpers import free_port

PG_BIN = Path(os.environ.get("LEADSCORE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_owner(cmd: list[str]) -> list[str]:
    """As root, run as `postgres` (initdb and postgres refuse root); otherwise as ourselves."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL server: postgresql://postgres@127.0.0.1:PORT/postgres."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="leadscore-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        _as_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
        **run,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log")]
    try:
        subprocess.run(_as_owner([*ctl, "-o", opts, "-w", "start"]), **run)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(_as_owner([*ctl, "-m", "immediate", "-w", "stop"]), **run)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def registered_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A champion trained through the CLI on 3,000 sample leads, once per session, in a private
    store: (folder with raw/ and config.yaml, config path, tracking URI)."""
    tmp = tmp_path_factory.mktemp("scale")
    uri = f"sqlite:///{tmp / 'models' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(tmp)
        runner = CliRunner()
        r = runner.invoke(app, ["generate", "--leads", "3000", "--seed", "11", "--out", "raw"])
        assert r.exit_code == 0, r.output
        cfg = write_config(tmp / "config.yaml", tmp / "raw")
        r = runner.invoke(app, ["train", "--config", str(cfg)])
        assert r.exit_code == 0, r.output
    return tmp, cfg, uri


@pytest.fixture()
def registered(registered_store, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The shared champion's store and folder, made current for one test."""
    tmp, cfg, uri = registered_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp)
    return tmp, cfg


def printed_table(output: str, key: str) -> dict[str, list[str]]:
    """The rows of a table `leadscore monitor` printed, by their first word: the lines after the
    header that starts with `key` (stage or grade), up to a blank line."""
    lines = output.splitlines()
    rows = {}
    for ln in lines[next(i for i, ln in enumerate(lines) if ln.startswith(key)) + 1 :]:
        if not ln.strip():
            break
        rows[ln.split()[0]] = ln.split()
    return rows
