"""Where MLflow keeps things: the tracking URI, the experiments, artifacts beside the sqlite store,
and the fingerprints a run records (input hash, git commit).

Two experiments: `lead-scoring` holds the training runs (what a reviewer compares), and
`lead-scoring-scoring` the scoring and monitoring runs, which come once per scoring call and
would otherwise bury the training runs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from pipeline.config import CHAMPION, EXPERIMENT, MODEL_NAME, SCORING_EXPERIMENT
from pipeline.errors import ExpectedError, StorageError, storage_error
from pipeline.io.atomic import Inputs

__all__ = ["CHAMPION", "EXPERIMENT", "MODEL_NAME", "SCORING_EXPERIMENT"]  # named here for callers
CHALLENGER = "challenger"
DEFAULT_URI = "sqlite:///models/mlflow.db"
# what requests/urllib3 say when a server refuses, is unknown or never answers
_NETWORK = re.compile(
    r"\[Errno -?\d+\] [^'\"()\]]+|Read timed out|Connection refused|Connection reset by peer"
    r"|Name or service not known|timed out"
)
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the `pipeline` package, shipped with models


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def artifact_root() -> str:
    """Artifacts live beside the sqlite store, under models/, unless a server decides."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent.resolve() / "artifacts").as_uri()
    return ""


SQLITE_SIDECARS = ("-journal", "-wal", "-shm", ".champion.lock")  # sqlite's and our lock's


def protect_store(inputs: Inputs) -> Inputs:
    """`inputs` and the local tracking store itself: a sqlite store's file, the files sqlite and
    the champion lock keep beside it, and its artifact root; a file store's whole folder. Other
    files beside a sqlite store are the user's (MLflow's own default is a `mlflow.db` in the
    project folder), so the verdict is the same from any working folder."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        inputs = inputs.add(db, "tracking store").add(
            db.parent / "artifacts", "artifact root", True
        )
        for tail in SQLITE_SIDECARS:
            inputs = inputs.add(db.with_name(db.name + tail), "tracking store's own file")
    elif uri.startswith("file:") or "://" not in uri:
        inputs = inputs.add(uri.removeprefix("file://").removeprefix("file:"), "store", True)
    return inputs


def setup() -> MlflowClient:
    """The client of the configured store, its experiment created if needed; a store that cannot
    be opened (a folder that is a file, a file that is not a database) ends in one line."""
    uri = tracking_uri()
    with storage_errors("cannot open the tracking store"):
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        client = MlflowClient(uri, uri)
        experiment_id(EXPERIMENT, client)
        mlflow.set_experiment(EXPERIMENT)
    return client


def experiment_id(name: str, client: MlflowClient | None = None) -> str:
    """The id of experiment `name`, created (artifacts beside the store) if it does not exist."""
    client = client or MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=artifact_root() or None)


def fingerprint(paths: list[str | Path | None]) -> str:
    """A hash of the input files, so a run says exactly which export it learned from."""
    h = hashlib.sha256()
    for p in paths:
        if p and Path(p).exists():
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=PACKAGE_DIR, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def log_dict_artifact(obj: Any, name: str) -> None:
    mlflow.log_text(json.dumps(obj, indent=2, default=str), name)


@contextlib.contextmanager
def storage_errors(doing: str = "cannot write the tracking store") -> Iterator[None]:
    """A tracking store that cannot be written (full disk, no permission, server down) ends in
    one line naming the store (or the artifact file) and the cause, not a page of traceback."""
    try:
        yield
    except ExpectedError:
        raise
    except OSError as e:
        raise storage_error(e.filename or tracking_uri(), e, doing) from None
    except (MlflowException, SQLAlchemyError) as e:
        found = _NETWORK.search(str(e))
        if found:  # the cause sits at the end of a long requests message: name it, not the URL
            raise StorageError(
                f"{tracking_uri()}: {doing}: the server does not answer ({found.group(0).strip()});"
                " check the tracking URI and that the server is running"
            ) from None
        raise storage_error(tracking_uri(), e, doing) from None
