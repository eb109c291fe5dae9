"""The pyfunc model's code, logged as MLflow "models from code": MLflow runs this file when it loads
the model (in the REST server, a Spark worker or `load_model`), instead of unpickling an instance.
The fitted `LeadScorer` travels beside it as a joblib artifact; the `pipeline` package travels in
the model's `code_paths`. Nothing imports this file: MLflow executes it.
"""

import mlflow

from pipeline.tracking.pyfunc import LeadScoringModel

mlflow.models.set_model(LeadScoringModel())
