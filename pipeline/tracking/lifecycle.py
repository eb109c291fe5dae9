"""What `leadscore retrain` reads from the registry, and what a training run records for it.

A training run logs the hashes of the labelled leads it read (`training/outcome_ids.npy`, see
`pipeline.training.cadence.id_hashes`) and their count as a version tag, so a later retrain can
count the labelled leads the champion never trained on. Reading is read-only: a check that finds
nothing due writes nothing to MLflow (no run, no experiment).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from pipeline.tracking import registry
from pipeline.tracking.store import CHAMPION, MODEL_NAME, tracking_uri
from pipeline.training.cadence import ServingVersion, id_hashes

OUTCOME_IDS = "training/outcome_ids.npy"
OUTCOMES_TAG = "trained_outcomes"


def log_trained_outcomes(leads: pd.DataFrame) -> int:
    """In the active run: the labelled leads' id hashes as an artifact; returns their count."""
    hashes = id_hashes(leads.index[leads["_label"].notna()])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(OUTCOME_IDS).name
        np.save(path, hashes)
        mlflow.log_artifact(str(path), str(Path(OUTCOME_IDS).parent))
    return len(hashes)


def read_client() -> MlflowClient | None:
    """A client of the configured store without creating anything; None when a local sqlite
    store does not exist yet (no store: no champion)."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None
    return MlflowClient(uri, uri)


def serving_version(client: MlflowClient | None) -> ServingVersion | None:
    """The champion: its version, when it was registered and the leads it trained on."""
    version = None if client is None else registry.get_alias_version(client, CHAMPION)
    if version is None:
        return None
    mv = client.get_model_version(MODEL_NAME, version)
    registered = pd.Timestamp(mv.creation_timestamp, unit="ms")
    count = (mv.tags or {}).get(OUTCOMES_TAG)
    ids = _trained_ids(client, mv.run_id) if count is not None else None
    return ServingVersion(version, registered, int(count) if count else None, ids)


def _trained_ids(client: MlflowClient, run_id: str | None) -> np.ndarray | None:
    """The run's labelled-lead hashes; None when the run kept none (an older version)."""
    if not run_id:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, OUTCOME_IDS, tmp)
            return np.load(path)
    except (MlflowException, OSError):
        return None
