"""What the served pyfunc model answers: `serving.rest.predict_frame` with the registry version,
and an expected mistake as one clean MLflow error (no traceback, no server paths, no echo of the
request), so a REST caller reads the record index and the column and nothing else."""

from __future__ import annotations

import functools
import os
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from pipeline.errors import ExpectedError
from pipeline.serving.rest import predict_frame

MODEL_PATH_ENV = "__pyfunc_model_path__"  # set by `mlflow models serve` (scoring_server)


class CleanServingError(MlflowException):
    """An MlflowException whose message the scoring server cannot wrap: it prefixes the whole
    request data to any MlflowException message, which would echo 1,000 leads back."""

    @property
    def message(self) -> str:
        return self._clean

    @message.setter
    def message(self, value: str) -> None:
        if not hasattr(self, "_clean"):
            self._clean = value


def predict(scorer: Any, model_input: pd.DataFrame, params: dict | None) -> pd.DataFrame:
    """The pyfunc model's predict: rows scored or failed one by one, whole-request mistakes as one
    clean 400."""
    try:
        return predict_frame(scorer, model_input, params, served_version(scorer))
    except ExpectedError as e:
        raise CleanServingError(str(e), error_code=INVALID_PARAMETER_VALUE) from None


@functools.cache
def _version_of_model_dir(path: str) -> str:
    """The registry version of the model a server was started on (found by its run id)."""
    try:
        run_id = Model.load(path).run_id
        found = MlflowClient().search_model_versions(f"run_id='{run_id}'")
    except (MlflowException, OSError):
        return ""
    return str(max(int(v.version) for v in found)) if found else ""


def served_version(scorer: Any) -> str:
    """`model_version` of every answer: from the scorer when it knows it, else the registry."""
    known = (getattr(scorer, "meta", None) or {}).get("model_version")
    if known:
        return str(known)
    path = os.environ.get(MODEL_PATH_ENV)
    return _version_of_model_dir(path) if path else ""
