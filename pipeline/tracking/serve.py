"""What the served pyfunc model answers: `serving.rest.predict_frame`, with an expected mistake
turned into one clean MLflow error (no traceback, no server paths, no echo of the request), so a
REST caller reads the record index and the column and nothing else."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from pipeline.errors import ExpectedError
from pipeline.serving.rest import predict_frame

SOURCE = "model"  # `source` of the model's own error answers: the REST guard keeps their words


class CleanServingError(MlflowException):
    """An MlflowException whose message the scoring server cannot rewrite: it prefixes the whole
    request data to any MlflowException message, which would echo 1,000 leads back."""

    @property
    def message(self) -> str:
        return self._clean

    @message.setter
    def message(self, value: str) -> None:
        if not hasattr(self, "_clean"):
            self._clean = value


def predict(
    scorer: Any, model_input: pd.DataFrame, params: dict | None, version: str
) -> pd.DataFrame:
    """The pyfunc model's predict: records scored or failed one by one; a whole-request mistake
    (missing column, bad `as_of`, `on_error: raise`) is one clean 400."""
    try:
        return predict_frame(scorer, model_input, params, version)
    except ExpectedError as e:
        raise CleanServingError(str(e), error_code=INVALID_PARAMETER_VALUE, source=SOURCE) from None
